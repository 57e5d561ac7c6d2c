"""Wall-time race: the one-process trainer against `mpirun -n 2 arena selfplay`, same config, same budget.

    python benchmarks/selfplay_wall_time.py [--minutes 16] [--config configs/az_connect4.yaml]
    python benchmarks/selfplay_wall_time.py --evaluate-only          # re-score runs/race-single, runs/race-mpi

Each side trains in its own run dir (`runs/race-single`, `runs/race-mpi`) until the budget, then gets SIGTERM
(it checkpoints and exits). Every kept checkpoint is then scored by the same judge: batched search (as in
training's evaluation) against `minimax:depth=4` from shared random openings, both colours. The wall time of a
checkpoint is when its file was written, counted from the launch of the command; the verdict replays the
newest checkpoint each side had when the shorter side stopped, over `--final-games` games. Last line:
`wall-time race at <m> min, score vs minimax:depth=4: mpirun -n 2 <s> / one process <s>`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OVERRIDES = ["eval.every=1000000", "eval.pons=false", "run.checkpoint_every=250", "run.keep_checkpoints=100"]


def train(name: str, mpi: bool, config: str, minutes: float, runs_dir: Path) -> None:
    """Train one side for `minutes`, then SIGTERM its process group (a clean checkpointed stop)."""
    arena = [sys.executable, "-m"]
    command = [*arena, "runners.train" if not mpi else "runners.selfplay", config, f"run.name={name}"]
    command += [f"run.runs_dir={runs_dir}", *OVERRIDES]
    if mpi:
        command = [shutil.which("mpirun") or "mpirun", "-n", "2", *command]
    if (runs_dir / name).exists():
        shutil.rmtree(runs_dir / name)
    runs_dir.mkdir(parents=True, exist_ok=True)
    (runs_dir / f"{name}.start").write_text(f"{time.time()}\n")
    with open(runs_dir / f"{name}.log", "w") as log:
        job = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            job.wait(timeout=minutes * 60)
        except subprocess.TimeoutExpired:
            os.killpg(job.pid, signal.SIGTERM)
            job.wait(timeout=120)


def checkpoint_minutes(path: Path, start: float) -> float:
    """Minutes after launch at which a checkpoint was written."""
    return (path.stat().st_mtime - start) / 60


def score(checkpoint: Path, games: int, simulations: int, seed: int) -> float:
    """Score (wins + draws / 2) of a checkpoint's net with search against minimax:depth=4."""
    import numpy as np

    from agents import make_agent
    from algorithms.alphazero import evaluate_against, load_agent
    from envs import make_game

    agent = load_agent(make_game("connect_four"), str(checkpoint), sims=simulations)  # as `az:` agents search
    game = agent.game  # as the net sees it
    result = evaluate_against(
        game, agent.evaluator, make_agent("minimax:depth=4", game), games, agent.config, np.random.default_rng(seed)
    )
    return result["win"] + result["draw"] / 2


def main() -> None:
    """Race both sides (unless --evaluate-only), score their checkpoints, print the curves and the verdict."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="configs/az_connect4.yaml")
    parser.add_argument("--minutes", type=float, default=16.0, help="wall budget of each side")
    parser.add_argument("--games", type=int, default=40, help="judge games per checkpoint of the curves (even)")
    parser.add_argument("--final-games", type=int, default=200, help="judge games for the verdict (even)")
    parser.add_argument("--simulations", type=int, default=100, help="judge search simulations per move")
    parser.add_argument("--runs-dir", type=Path, default=ROOT / "runs")
    parser.add_argument("--evaluate-only", action="store_true", help="score the runs a previous race left")
    args = parser.parse_args()
    import torch

    from core.checkpoint import sorted_checkpoints

    torch.set_num_threads(2)
    sides = {"one process": "race-single", "mpirun -n 2": "race-mpi"}
    if not args.evaluate_only:
        for label, name in sides.items():
            print(f"training {label} for {args.minutes} min ...", flush=True)
            train(name, label != "one process", args.config, args.minutes, args.runs_dir)
    curves: dict[str, list[tuple[float, int, float]]] = {}
    paths: dict[str, dict[int, Path]] = {}
    for label, name in sides.items():
        run_dir = args.runs_dir / name
        start = float((args.runs_dir / f"{name}.start").read_text())
        curve = []
        for path in sorted_checkpoints(run_dir / "checkpoints"):
            step = int(path.stem.split("-")[1])
            minutes = checkpoint_minutes(path, start)
            curve.append((minutes, step, score(path, args.games, args.simulations, seed=step)))
        curves[label] = curve
        paths[label] = {int(p.stem.split("-")[1]): p for p in sorted_checkpoints(run_dir / "checkpoints")}
        print(f"\n{label} ({run_dir}): minutes, learner step, score vs minimax:depth=4 over {args.games} games")
        for minutes, step, value in curve:
            print(f"  {minutes:6.1f} min  step {step:5d}  score {value:.3f}", flush=True)
    horizon = min(max(m for m, _, _ in curve) for curve in curves.values())

    def latest_by(curve: list[tuple[float, int, float]], minutes: float) -> int:
        # the newest checkpoint by then (not the best one: a maximum over noisy scores favours more checkpoints)
        return max(step for m, step, _ in curve if m <= minutes + 1e-9)

    # the verdict: the newest checkpoint of each side by the time the shorter side stopped, on more games
    final = {}
    for label in sides:
        step = latest_by(curves[label], horizon)
        final[label] = (step, score(paths[label][step], args.final_games, args.simulations, seed=10**6))
        print(f"{label}: step {step} (newest by {horizon:.1f} min) scores {final[label][1]:.3f} "
              f"over {args.final_games} games")  # fmt: skip
    verdict = f"mpirun -n 2 {final['mpirun -n 2'][1]:.3f} / one process {final['one process'][1]:.3f}"
    print(f"wall-time race at {horizon:.0f} min, score vs minimax:depth=4: {verdict}")


if __name__ == "__main__":
    main()
