"""AlphaZero learning curves against wall time: Pons mistake rates of each checkpoint, two configs side by side.

    python benchmarks/az_learning_curve.py                        # gumbel vs puct, 10 min each, mpirun -n 3
    python benchmarks/az_learning_curve.py --minutes 20 --side gumbel= --side "puct=selfplay.search=puct"
    python benchmarks/az_learning_curve.py --evaluate-only        # re-score the runs a previous call left
    python benchmarks/az_learning_curve.py --score-run main=runs/c4-gumbel --no-train   # any run dir's curve

Each side trains `configs/az_connect4.yaml` plus its overrides (`key=value` items after `LABEL=`, comma
separated) under `mpirun -n 3 arena selfplay` (`--ranks`) for `--minutes` of wall time, one side after the
other so neither shares the cores, then gets SIGTERM (it checkpoints and stops). Every checkpoint is scored on
the first `--positions` positions of each of Pons' six sets: the net alone (argmax of its policy) and with
search at `--simulations` (the run's `eval.search`, or `--search`; no noise). A checkpoint's wall time is when
its file was written, from the launch.
Prints a table, writes `<out>/az_learning_curve.png` and `.csv`; the last line is a one-line summary.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_SIDES = [
    "gumbel=selfplay.search=gumbel",
    "puct=selfplay.search=puct,selfplay.simulations=96,selfplay.fast_simulations=24,"
    "selfplay.full_search_fraction=0.3,selfplay.temperature_moves=8",
]
"""Gumbel at the config's 32 simulations against AlphaZero's PUCT as this repo ran it before (96 simulations,
playout caps with 24-simulation fast searches on 70% of moves, Dirichlet noise, 8 moves at temperature 1)."""

RUN_OVERRIDES = ["eval.every=1000000", "eval.pons=false", "learn.total_steps=1000000", "learn.lr_schedule=constant"]
"""Curves judge by Pons' sets afterwards; no in-run evaluation competes for the cores, and the run never ends by
its step budget first (so no learning-rate schedule: it would depend on where the budget ends)."""


def parse_side(text: str) -> tuple[str, list[str]]:
    """`label=k=v,k=v` -> (label, overrides)."""
    label, _, rest = text.partition("=")
    if not label:
        raise SystemExit(f"a side is LABEL=overrides, got {text!r}")
    return label, [item for item in rest.split(",") if item]


def train(run_dir: Path, config: str, overrides: list[str], minutes: float, every: int, ranks: int) -> None:
    """Train one side for `minutes` under `mpirun -n RANKS`, then SIGTERM its process group (a checkpointed stop)."""
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    mpirun = shutil.which("mpirun") or str(Path(sys.executable).parent / "mpirun")
    command = [mpirun, "-n", str(ranks), sys.executable, "-m", "runners.selfplay", config, f"run.name={run_dir.name}"]
    command += [f"run.runs_dir={run_dir.parent}", f"run.checkpoint_every={every}", "run.keep_checkpoints=1000"]
    command += [*RUN_OVERRIDES, *overrides]
    (run_dir.parent / f"{run_dir.name}.start").write_text(f"{time.time()}\n")
    env = {**os.environ, "WANDB_MODE": os.environ.get("WANDB_MODE", "offline")}
    with open(run_dir.parent / f"{run_dir.name}.log", "w") as log:
        job = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
        try:
            job.wait(timeout=minutes * 60)
        except subprocess.TimeoutExpired:
            os.killpg(job.pid, signal.SIGTERM)
            job.wait(timeout=180)


def start_time(run_dir: Path) -> float:
    """When the run was launched: the `.start` file beside it, else its config.yaml's write time."""
    marker = run_dir.parent / f"{run_dir.name}.start"
    if marker.is_file():
        return float(marker.read_text())
    return (run_dir / "config.yaml").stat().st_mtime


def score_run(
    run_dir: Path, positions: int, simulations: int, every_minutes: float, search: str | None = None
) -> list[dict]:
    """One row per scored checkpoint: minutes, step, mean and per-set mistake rates (net alone, with search)."""
    import torch

    from algorithms.alphazero import load_agent, pons_mistake_rates
    from core.checkpoint import sorted_checkpoints
    from envs import make_game

    torch.set_num_threads(2)
    game = make_game("connect_four")
    start = start_time(run_dir)
    rows, last = [], -1e9
    checkpoints = sorted_checkpoints(run_dir / "checkpoints")
    for path in checkpoints:
        minutes = (path.stat().st_mtime - start) / 60
        if minutes - last < every_minutes and path != checkpoints[-1]:
            continue  # thin a dense run to about one point per `every_minutes`
        last = minutes
        # search None: as the run trained; no mirror averaging, so curves measure training alone and stay
        # comparable with those taken before it existed
        agent = load_agent(game, str(path), sims=simulations, search=search, mirror=False)
        net = pons_mistake_rates(agent.evaluator, agent.game, positions, None)  # the game as the net sees it
        searched = pons_mistake_rates(agent.evaluator, agent.game, positions, agent.config)
        step = int(path.stem.split("-")[1])
        row = {"minutes": minutes, "step": step, "net": sum(net.values()) / len(net)}
        row["search"] = sum(searched.values()) / len(searched)
        row |= {f"net/{k}": v for k, v in net.items()} | {f"search/{k}": v for k, v in searched.items()}
        rows.append(row)
        print(f"  {run_dir.name}: {minutes:6.1f} min  step {step:6d}  net {100 * row['net']:5.1f}%  "
              f"search {100 * row['search']:5.1f}%", flush=True)  # fmt: skip
    return rows


def plot(curves: dict[str, list[dict]], path: Path, positions: int, simulations: int) -> None:
    """Mean Pons mistake rate against wall minutes: solid with search, dashed the net alone."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for color, (label, rows) in zip(("tab:blue", "tab:orange", "tab:green", "tab:red"), curves.items(), strict=False):
        minutes = [r["minutes"] for r in rows]
        ax.plot(minutes, [100 * r["search"] for r in rows], "-o", color=color, ms=3, label=f"{label}: search")
        ax.plot(minutes, [100 * r["net"] for r in rows], "--", color=color, alpha=0.7, label=f"{label}: net alone")
    ax.set_xlabel("wall minutes (2-core CPU)")
    ax.set_ylabel("mean mistake rate on Pons' 6 sets (%)")
    ax.set_title(f"Connect Four: {positions} positions per set, search at {simulations} simulations")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    """Train the sides (unless told not to), score their checkpoints, print, plot and summarise."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="configs/az_connect4.yaml")
    parser.add_argument("--side", action="append", help="LABEL=k=v,k=v (repeatable; default gumbel vs puct)")
    parser.add_argument("--minutes", type=float, default=10.0, help="wall budget of each side (default 10)")
    parser.add_argument("--ranks", type=int, default=3, help="mpirun ranks per side: 1 learner, the rest actors")
    parser.add_argument("--checkpoint-every", type=int, default=250, help="learner steps between checkpoints")
    parser.add_argument("--positions", type=int, default=200, help="Pons positions per set (default 200)")
    parser.add_argument("--simulations", type=int, default=100, help="search simulations when scoring")
    parser.add_argument("--points-every", type=float, default=1.5, help="minutes between scored checkpoints")
    parser.add_argument("--search", choices=["puct", "gumbel"], default=None, help="score with this search kind")
    parser.add_argument("--runs-dir", type=Path, default=ROOT / "runs" / "curves")
    parser.add_argument("--out", type=Path, default=None, help="where the PNG and CSV go (default: --runs-dir)")
    parser.add_argument("--evaluate-only", action="store_true", help="score the runs a previous call left")
    parser.add_argument("--score-run", action="append", default=[], help="LABEL=RUN_DIR: also score this run")
    parser.add_argument("--no-train", action="store_true", help="score only --score-run runs")
    args = parser.parse_args()
    sides = [] if args.no_train else [parse_side(s) for s in (args.side or DEFAULT_SIDES)]
    run_dirs = {label: args.runs_dir / f"curve-{label}" for label, _ in sides}
    run_dirs |= {label: Path(d) for label, d in (item.split("=", 1) for item in args.score_run)}
    if not args.evaluate_only:
        for label, overrides in sides:
            print(f"training {label} ({' '.join(overrides) or 'config as is'}) for {args.minutes} min ...", flush=True)
            train(run_dirs[label], args.config, overrides, args.minutes, args.checkpoint_every, args.ranks)
    curves = {}
    for label, run_dir in run_dirs.items():
        print(f"scoring {label} ({run_dir}) ...", flush=True)
        curves[label] = score_run(run_dir, args.positions, args.simulations, args.points_every, args.search)
    out = args.out or args.runs_dir
    out.mkdir(parents=True, exist_ok=True)
    sets = [k.split("/", 1)[1] for k in curves[next(iter(curves))][0] if k.startswith("search/")]
    print(f"\nmistake rates (%) on {args.positions} positions per set; search at {args.simulations} simulations")
    print(f"{'side':<10}{'min':>6}{'step':>7}{'net':>7}{'search':>8}  " + " ".join(f"{s:>13}" for s in sets))
    with open(out / "az_learning_curve.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["side", *curves[next(iter(curves))][0]])
        writer.writeheader()
        for label, rows in curves.items():
            for r in rows:
                writer.writerow({"side": label, **r})
                per_set = " ".join(f"{100 * r[f'search/{s}']:>13.1f}" for s in sets)
                print(f"{label:<10}{r['minutes']:>6.1f}{r['step']:>7}{100 * r['net']:>7.1f}{100 * r['search']:>8.1f}  "
                      f"{per_set}")  # fmt: skip
    plot(curves, out / "az_learning_curve.png", args.positions, args.simulations)
    print(f"wrote {out / 'az_learning_curve.png'} and {out / 'az_learning_curve.csv'}")
    horizon = min(rows[-1]["minutes"] for rows in curves.values())
    # each side's newest checkpoint by the time the shorter side stopped
    finals = {label: max((r for r in rows if r["minutes"] <= horizon + 1e-9), key=lambda r: r["minutes"])
              for label, rows in curves.items()}  # fmt: skip
    summary = " / ".join(f"{label} {100 * r['search']:.1f}% (net {100 * r['net']:.1f}%)" for label, r in finals.items())
    print(f"learning curve at {horizon:.0f} min, mean Pons mistake rate with search: {summary}")


if __name__ == "__main__":
    main()
