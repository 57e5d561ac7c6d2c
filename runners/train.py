"""`arena train CONFIG [key.sub=value ...]`: train one agent in one process; `--resume RUN_DIR` continues.

The YAML's `algo` key picks the algorithm; its config dataclass checks every other key. The same actor and
learner code runs under `mpirun` through `arena selfplay`.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from runners.config import ConfigError, describe_config, load_config

DEFAULT_ALGO = "ppo"
"""What `arena train` trains with no config file: PPO on CartPole-v1 with its embedded defaults."""


def algorithms() -> dict[str, tuple[type, Callable[[Any, Any], dict[str, float]]]]:
    """Algorithm name -> (config dataclass, train function). Imported on demand: they load torch."""
    from agents import alphazero, dqn, ppo

    return {
        "ppo": (ppo.PPOConfig, ppo.train),
        "dqn": (dqn.DQNConfig, dqn.train),
        "az": (alphazero.AZConfig, alphazero.train),
    }


def algorithm_of(path: Path | None, overrides: list[str], fallback: str = DEFAULT_ALGO) -> str:
    """The `algo` named by an override, else by the YAML file, else the fallback."""
    for item in overrides:
        if item.startswith("algo="):
            return item.split("=", 1)[1]
    if path is not None and path.is_file():
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError:
            data = None  # load_config reports the YAML error with its position
        if isinstance(data, dict) and "algo" in data:
            return str(data["algo"])
    return fallback


def split_positionals(items: list[str]) -> tuple[Path | None, list[str]]:
    """`[CONFIG] [key=value ...]` -> (config path or None, overrides)."""
    overrides = [item for item in items if "=" in item]
    paths = [item for item in items if "=" not in item]
    if len(paths) > 1:
        raise ConfigError(f"expected one config file, got {len(paths)}: {' '.join(paths)}")
    return (Path(paths[0]) if paths else None), overrides


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `arena train`."""
    parser.add_argument(
        "items",
        nargs="*",
        metavar="CONFIG | key.sub=value",
        help="a YAML file from configs/ (optional: embedded defaults otherwise), then overrides such as "
        "run.seed=3 tracking.mode=disabled",
    )
    parser.add_argument("--algo", default=None, help=f"algorithm when no config names one (default {DEFAULT_ALGO})")
    parser.add_argument(
        "--resume",
        type=Path,
        default=None,
        metavar="RUN_DIR",
        help="continue runs/<name> from its last checkpoint (same counters, RNG, W&B run)",
    )
    parser.add_argument("--list-keys", action="store_true", help="print every config key with its doc and stop")


def main(args: argparse.Namespace) -> int:
    """Build (or reopen) the run and train."""
    from runners.run import Run

    path, overrides = split_positionals(args.items)
    if args.resume is not None:
        if path is not None:
            raise ConfigError("--resume takes its config from the run dir; give overrides only")
        saved = args.resume / "config.yaml"
        name = algorithm_of(saved, [])
    else:
        name = algorithm_of(path, overrides, args.algo or DEFAULT_ALGO)
    table = algorithms()
    if name not in table:
        raise ConfigError(f"unknown algo '{name}'; valid: {', '.join(table)}")
    config_type, train_fn = table[name]
    if args.list_keys:
        print("\n".join(describe_config(config_type)))
        return 0
    if args.resume is not None:
        run = Run.resume(args.resume, config_type, overrides)
    else:
        run = Run.create(load_config(config_type, path, overrides))
    # SIGTERM (a scheduler's kill) goes the same clean way as Ctrl-C: the loop writes a checkpoint first
    signal.signal(signal.SIGTERM, _interrupt)
    with run:
        print(f"run dir: {run.path}", file=sys.stderr)
        try:
            result = train_fn(run.config, run)
        except KeyboardInterrupt:
            print(f"stopped; continue with: arena train --resume {run.path}", file=sys.stderr)
            return 130
    print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in (result or {}).items()))
    return 0


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    from runners.cli import run_module

    raise SystemExit(run_module("train"))
