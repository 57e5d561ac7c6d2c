"""`arena train CONFIG [key.sub=value ...]`: train one agent in one process; `--resume RUN_DIR` continues.

The YAML's `algo` key picks the algorithm; its config dataclass checks every other key. The same actor and
learner code runs under `mpirun` through `arena selfplay`.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

from agents import make_agent
from algorithms.nets import PRESETS, is_recurrent
from algorithms.registry import ALGORITHMS
from algorithms.rl_envs import make_env
from core.config import ConfigError, apply_overrides, describe_config, load_config, read_yaml
from core.device import describe_device, resolve_device
from core.errors import ArenaError
from core.run import Run, read_run_config
from envs import make_game

DEFAULT_ALGO = "ppo"
"""What `arena train` trains with no config file: PPO on CartPole-v1 with its embedded defaults."""


def algorithm_of(path: Path | None, overrides: list[str], fallback: str = DEFAULT_ALGO) -> str:
    """The `algo` named by an override, else by the YAML file, else the fallback."""
    for item in overrides:
        if item.startswith("algo="):
            return item.split("=", 1)[1]
    if path is not None and path.is_file():
        data = read_yaml(path)
        if isinstance(data, dict) and "algo" in data:
            return str(data["algo"])
    return fallback


def resumed_algorithm(run_dir: Path) -> str:
    """The `algo` of a run dir's saved config; ConfigError if the file is missing, malformed or names none."""
    saved = run_dir / "config.yaml"
    if not saved.is_file():
        raise ConfigError(f"cannot resume {run_dir}: no config.yaml there (is it a run dir?)")
    data = read_yaml(saved)
    if not isinstance(data, dict) or not data.get("algo"):
        what = "empty" if not data else ("not a mapping of keys" if not isinstance(data, dict) else "without 'algo'")
        raise ConfigError(f"cannot resume {run_dir}: {saved} is {what}")
    return str(data["algo"])


def choose_algorithm(path: Path | None, overrides: list[str], requested: str | None, fallback: str) -> str:
    """The algorithm to run: `--algo` must agree with what the config file (or an override) says."""
    named = algorithm_of(path, overrides, fallback="")
    if requested and named and requested != named:
        where = "the override" if any(o.startswith("algo=") for o in overrides) else str(path)
        raise ConfigError(f"--algo {requested} contradicts algo {named} in {where}; drop one of them")
    return requested or named or fallback


def check_config(config: Any) -> None:
    """What a config's types cannot catch (an unknown game, net preset, env id, opponent), before any run dir exists."""
    game_name = getattr(config, "game", None)
    game = None
    if isinstance(game_name, str):
        try:
            game = make_game(game_name)
        except ArenaError as error:
            raise ConfigError(f"game: {error}") from None
        options = getattr(config, "game_options", None)
        try:
            if options:  # null takes the registry's net_options, valid by construction
                make_game(game_name, **options)
        except ArenaError as error:
            raise ConfigError(f"game_options: {error}") from None
    net = getattr(config, "net", None)
    key, preset = ("net", net) if isinstance(net, str) else ("net.preset", getattr(net, "preset", None))
    if preset is not None and preset not in PRESETS:
        raise ConfigError(f"{key}: unknown network preset {preset!r}; valid: {', '.join(PRESETS)}")
    if getattr(config, "algo", None) == "dqn" and preset is not None and is_recurrent(preset):
        raise ConfigError(f"{key}: {preset!r} is recurrent; DQN here takes feed-forward presets")
    env = getattr(config, "env", None)
    if env is not None and hasattr(env, "id"):
        try:
            make_env(env).close()
        except ArenaError as error:
            raise ConfigError(f"env: {error}") from None
    for spec in getattr(getattr(config, "eval", None), "opponents", ()) if game is not None else ():
        try:
            make_agent(spec, game)
        except ArenaError as error:
            raise ConfigError(f"eval.opponents: {error}") from None


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
    path, overrides = split_positionals(args.items)
    if args.resume is not None:
        if path is not None:
            raise ConfigError("--resume takes its config from the run dir; give overrides only")
        name = resumed_algorithm(args.resume)
        if args.algo and args.algo != name:
            raise ConfigError(f"--algo {args.algo} contradicts algo {name} of {args.resume / 'config.yaml'}")
    else:
        name = choose_algorithm(path, overrides, args.algo, DEFAULT_ALGO)
    if name not in ALGORITHMS:
        raise ConfigError(f"unknown algo '{name}'; valid: {', '.join(ALGORITHMS)}")
    config_type, train_fn = ALGORITHMS[name].config, ALGORITHMS[name].train
    if args.list_keys:
        print("\n".join(describe_config(config_type)))
        return 0
    if args.resume is not None:
        check_config(apply_overrides(read_run_config(args.resume, config_type), overrides))
        run = Run.resume(args.resume, config_type, overrides)
    else:
        config = load_config(config_type, path, overrides)
        check_config(config)
        run = Run.create(config)
    # SIGTERM (a scheduler's kill) goes the same clean way as Ctrl-C: the loop writes a checkpoint first
    signal.signal(signal.SIGTERM, _interrupt)
    with run:
        print(
            f"run dir: {run.path} (learner on {describe_device(resolve_device(run.config.run.device))})",
            file=sys.stderr,
        )
        if run.resumed_step is not None:
            print(f"resumed from step {run.resumed_step}", file=sys.stderr)
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
