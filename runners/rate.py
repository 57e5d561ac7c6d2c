"""`arena rate runs/<name>`: rate every checkpoint of a board-game run against a fixed field, Elo over steps.

Each checkpoint plays a gauntlet against the field (`--field`, default random, greedy, minimax:depth=2); all
games go to `runs/<name>/rating/ledger.jsonl` (so a re-run only plays what is new, such as later checkpoints),
then one Bradley-Terry fit rates field and checkpoints together. Output: a ratings table, `rating/elo.png`
(Elo with 95% intervals against training steps), and the same curve in the run's own W&B run and
metrics.jsonl as `rate/elo`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import warnings
from pathlib import Path

from algorithms.registry import ALGORITHMS, board_game_of
from core.checkpoint import CheckpointError, load_checkpoint_file, sorted_checkpoints
from core.config import TrackingConfig, read_yaml
from core.errors import ArenaError
from core.tracking import Tracker, read_records
from envs import make_game
from runners.tournament import Ledger, play_schedule, print_report, ratings_rows, schedule, standings

_STEP = re.compile(r"ckpt-(\d+)\.pt$")


def run_game_and_kind(run_dir: Path) -> tuple[str, str]:
    """(game name, agent kind) of a training run, from its config.yaml."""
    saved = run_dir / "config.yaml"
    if not saved.is_file():
        raise ArenaError(f"{run_dir} has no config.yaml (is it a run dir?)")
    config = read_yaml(saved)
    if not isinstance(config, dict) or not config.get("algo"):
        raise ArenaError(f"{saved} is {'empty' if not config else 'not a run config (no algo)'}")
    algo = config.get("algo")
    game = board_game_of(config)
    if game is not None and algo in ALGORITHMS:
        return game, algo
    env = config.get("env", {})
    env_id = env.get("id") if isinstance(env, dict) else env
    raise ArenaError(f"{run_dir} trained {algo} on {env_id!r}, not a board game: there is nothing to rate it against")


def checkpoint_specs(run_dir: Path, kind: str, extra: str, every: int) -> dict[int, str]:
    """step -> agent spec for each kept checkpoint that loads (every `every`-th, and always the last).

    A truncated or foreign checkpoint is skipped with a warning naming it, so one bad file of many still leaves
    a curve.
    """
    files = sorted_checkpoints(run_dir / "checkpoints")
    if not files:
        raise ArenaError(f"no checkpoints in {run_dir / 'checkpoints'}")
    good = []
    for path in files:
        try:
            load_checkpoint_file(path)
        except CheckpointError as error:
            warnings.warn(f"{error}; skipping it", stacklevel=2)
            continue
        good.append(path)
    if not good:
        raise ArenaError(f"no loadable checkpoint in {run_dir / 'checkpoints'}: every one is corrupt")
    files = good
    chosen = files[::every]
    if files[-1] not in chosen:
        chosen.append(files[-1])
    suffix = f",{extra}" if extra else ""
    return {int(_STEP.search(p.name).group(1)): f"{kind}:{p}{suffix}" for p in chosen}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `arena rate`."""
    parser.add_argument("run_dir", type=Path, help="a board-game training run, e.g. runs/c4-main")
    parser.add_argument(
        "--field", nargs="+", default=["random", "greedy", "minimax:depth=2"], help="fixed opponents (agent specs)"
    )
    parser.add_argument("--games", type=int, default=10, help="games per checkpoint and opponent (even; default 10)")
    parser.add_argument(
        "--agent-options", default="sims=32", help="appended to each checkpoint's spec (default sims=32)"
    )
    parser.add_argument("--every", type=int, default=1, help="rate every n-th kept checkpoint (default all)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of openings and agents")


def main(args: argparse.Namespace) -> int:
    """Play what is missing, fit, report, plot, log."""
    for option in ("games", "every", "workers"):
        if getattr(args, option) < 1:
            raise ArenaError(f"--{option} must be at least 1, got {getattr(args, option)}")
    game_name, kind = run_game_and_kind(args.run_dir)
    game = make_game(game_name)
    specs = checkpoint_specs(args.run_dir, kind, "" if kind != "az" else args.agent_options, args.every)
    out = args.run_dir / "rating"
    ledger = Ledger(out / "ledger.jsonl")
    pairings = []
    for spec in specs.values():
        pairings += schedule(game, [*args.field, spec], args.games, gauntlet=spec, seed=args.seed)
    play_schedule(game_name, {}, pairings, ledger, args.workers)
    wanted = {p.id for p in pairings}
    records = [r for r in ledger.records() if r.id in wanted]
    players = [*args.field, *specs.values()]
    anchor = "random" if "random" in args.field else args.field[0]
    table = standings(records, players, anchor)
    names = {spec: f"step {step}" for step, spec in specs.items()}
    print_report(table, f"{args.run_dir.name}: checkpoints against {' '.join(args.field)}")
    rows = {r["agent"]: r for r in ratings_rows(table)}
    curve = [(step, rows[spec]["elo"], rows[spec]["ci95"]) for step, spec in sorted(specs.items())]
    (out / "elo.json").write_text(json.dumps({"anchor": anchor, "curve": curve, "field": args.field}, indent=2))
    plot_curve(curve, {f: rows[f]["elo"] for f in args.field}, out / "elo.png", args.run_dir.name)
    log_curve(args.run_dir, curve)
    for step, elo, ci in curve:
        print(f"{names[specs[step]]:>14}: Elo {elo:7.1f} ± {ci:.1f}")
    print(f"wrote {out / 'elo.png'} {out / 'elo.json'}", file=sys.stderr)
    return 0


def plot_curve(curve: list[tuple[int, float, float]], field: dict[str, float], path: Path, title: str) -> None:
    """Elo with 95% error bars against training step, the field's ratings as horizontal lines."""
    import matplotlib  # why: half a second to import, only for the plot

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    steps, elos, cis = zip(*curve, strict=True)
    ax.errorbar(steps, elos, yerr=cis, fmt="o-", capsize=3, label="checkpoints")
    for name, elo in field.items():
        ax.axhline(elo, linestyle="--", linewidth=0.8, color="grey")
        ax.annotate(name, (steps[0], elo), fontsize=8, va="bottom")
    ax.set_xlabel("training step")
    ax.set_ylabel("Elo (95% interval)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def log_curve(run_dir: Path, curve: list[tuple[int, float, float]]) -> None:
    """Append `rate/elo` at each checkpoint's step to the run's metrics.jsonl and its W&B run (same id)."""
    config = read_yaml(run_dir / "config.yaml")
    mode = config.get("tracking", {}).get("mode", "offline")
    id_file = run_dir / "wandb_id"
    # an offline W&B run cannot be appended to: a new offline dir of the same id holds the run's whole history
    history = read_records(run_dir / "metrics.jsonl") if mode == "offline" else None
    tracker = Tracker(
        run_dir,
        TrackingConfig(mode=mode if id_file.is_file() else "disabled"),
        run_name=run_dir.name,
        wandb_id=id_file.read_text().strip() if id_file.is_file() else None,
        history=history,
    )
    with tracker:
        for step, elo, ci in curve:
            tracker.log({"rate/elo": elo, "rate/elo_ci95": ci}, step=step)
        tracker.image("rate/elo_plot", run_dir / "rating" / "elo.png", step=curve[-1][0])


if __name__ == "__main__":
    from runners.cli import run_module

    raise SystemExit(run_module("rate"))
