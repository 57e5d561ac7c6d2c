"""Strict configs: every mistake stops before any work with one line that names the file, key and fix."""

from dataclasses import dataclass
from typing import Literal

import pytest

from core.config import (
    ConfigError,
    RunConfig,
    TrackingConfig,
    apply_overrides,
    describe_config,
    load_config,
    param,
    section,
)


@dataclass(frozen=True)
class OptimConfig:
    learning_rate: float = param(3e-4, gt=0)
    """Adam step size."""
    clip: float | None = None
    """Gradient norm clip; none to skip."""


@dataclass(frozen=True)
class DemoConfig:
    algo: Literal["demo"] = "demo"
    """Which algorithm."""
    num_envs: int = param(8, ge=1)
    """Parallel envs."""
    layers: tuple[int, ...] = (64, 64)
    """Hidden sizes."""
    optim: OptimConfig = section(OptimConfig)
    """Optimiser settings."""
    run: RunConfig = section(RunConfig)
    tracking: TrackingConfig = section(TrackingConfig)


def write(tmp_path, text):
    path = tmp_path / "c4.yaml"
    path.write_text(text)
    return path


def test_file_values_and_overrides_land_in_a_frozen_config(tmp_path):
    path = write(tmp_path, "num_envs: 4\nlayers: [32, 32, 16]\noptim:\n  learning_rate: 1e-3\n")
    config = load_config(DemoConfig, path, ["optim.clip=0.5", "run.seed=7"])
    assert (config.num_envs, config.layers) == (4, (32, 32, 16))
    assert config.optim == OptimConfig(learning_rate=1e-3, clip=0.5)
    assert config.run.seed == 7
    with pytest.raises(AttributeError):
        config.num_envs = 2  # frozen


def test_unknown_key_names_file_section_close_match_and_valid_keys(tmp_path):
    path = write(tmp_path, "optim:\n  lr: 0.1\n")
    with pytest.raises(ConfigError) as error:
        load_config(DemoConfig, path)
    assert str(error.value) == (
        f"unknown key 'lr' in {path} [optim]; did you mean 'learning_rate'? valid keys: learning_rate, clip"
    )


def test_unknown_top_level_key_suggests_the_nearest(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key 'num_env' in .*c4.yaml; did you mean 'num_envs'\?"):
        load_config(DemoConfig, write(tmp_path, "num_env: 3\n"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("num_envs: four\n", r"\[num_envs\]: expected int, got str 'four'"),
        ("num_envs: 0\n", r"\[num_envs\]: 0 is out of range; must be >= 1"),
        ("optim:\n  learning_rate: -1.0\n", r"\[optim.learning_rate\]: -1.0 is out of range; must be > 0"),
        ("algo: ppo\n", r"\[algo\]: str 'ppo' is not one of 'demo'"),
        ("layers: 64\n", r"\[layers\]: expected a list, got int 64"),
        ("run:\n  device: gpu\n", r"\[run.device\]: str 'gpu' is not one of 'auto', 'cpu', 'cuda'"),
        ("optim: 3\n", r"\[optim\]: expected a mapping of keys, got int 3"),
        ("num_envs: [1\n", r"not valid YAML"),
    ],
)
def test_wrong_types_and_values_are_refused_with_the_place(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_config(DemoConfig, write(tmp_path, text))


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"config file not found: .*nope.yaml"):
        load_config(DemoConfig, tmp_path / "nope.yaml")


def test_overrides_are_checked_as_strictly_as_files():
    config = DemoConfig()
    with pytest.raises(ConfigError, match=r"unknown key 'learning_rat' in override 'optim.learning_rat=1' \[optim\]"):
        apply_overrides(config, ["optim.learning_rat=1"])
    with pytest.raises(ConfigError, match=r"override 'num_envs=-2' \[num_envs\]: -2 is out of range"):
        apply_overrides(config, ["num_envs=-2"])
    with pytest.raises(ConfigError, match=r"expected key.sub=value"):
        apply_overrides(config, ["=3"])
    with pytest.raises(ConfigError, match=r"'num_envs' is a value, not a section"):
        apply_overrides(config, ["num_envs.x=3"])


def test_every_field_is_documented_for_help():
    lines = describe_config(DemoConfig)
    assert "optim.learning_rate (float, default 0.0003): Adam step size." in lines
    assert any(line.startswith("run.seed (int, default 1): Seed of every random stream") for line in lines)
    undocumented = [line for line in lines if line.endswith(": ")]
    assert not undocumented
