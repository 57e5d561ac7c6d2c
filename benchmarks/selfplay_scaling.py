"""Self-play scaling under MPI: positions/s generated and learner steps/s with 1, 2, ... actor ranks.

    python benchmarks/selfplay_scaling.py [--actors 0 1 2] [--steps 200] [--config configs/az_connect4.yaml]

Each setting runs `mpirun -n 1+A arena selfplay CONFIG` for `--steps` learner updates (evaluation off) in a
fresh run dir (A = 0: the one-process trainer, without mpirun), then reads the learner's metrics.jsonl:
positions (moves played by the actors) and learner steps between the learner's first and last log, over
the wall time between them. The replay ratio makes the learner wait for samples, so learner steps/s rises
with actor throughput until the learner is the bottleneck. Last line:
`selfplay scaling efficiency 2 actors: <positions/s with 2 / (2 x with 1)>`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(config: str, actors: int, steps: int, overrides: list[str]) -> dict[str, float]:
    """Run one self-play job and return positions/s and learner steps/s from its metrics."""
    with tempfile.TemporaryDirectory() as runs:
        command = [
            shutil.which("mpirun") or "mpirun",
            "-n",
            str(1 + actors),
            sys.executable,
            "-m",
            "runners.selfplay",
            config,
            f"run.runs_dir={runs}",
            "run.name=bench",
            f"learn.total_steps={steps}",
            "eval.every=1000000000",
            "eval.pons=false",
            "tracking.mode=disabled",
            "run.checkpoint_every=1000000000",
            *overrides,
        ]
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
        records = [json.loads(line) for line in (Path(runs) / "bench" / "metrics.jsonl").read_text().splitlines()]
    logs = [r for r in records if "selfplay/moves" in r]
    first, last = logs[0], logs[-1]
    seconds = last["time"] - first["time"]
    return {
        "positions_per_s": (last["selfplay/moves"] - first["selfplay/moves"]) / seconds,
        "steps_per_s": (last["step"] - first["step"]) / seconds,
        "seconds": seconds,
    }


def main() -> None:
    """Measure each actor count and print the table and the scaling efficiency."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="configs/az_connect4.yaml")
    parser.add_argument("--actors", type=int, nargs="+", default=[0, 1, 2], help="0 = one process, no MPI")
    parser.add_argument("--steps", type=int, default=200, help="learner updates per setting (default 200)")
    parser.add_argument("overrides", nargs="*", help="config overrides, e.g. run.device=cuda")
    args = parser.parse_args()
    print(f"{args.config}, {args.steps} learner steps per setting")
    print(f"{'actors':>6}{'positions/s':>14}{'learner steps/s':>17}{'measured s':>12}")
    results = {}
    for actors in args.actors:
        result = measure(args.config, actors, args.steps, args.overrides)
        results[actors] = result
        label = "1 proc" if actors == 0 else str(actors)
        print(
            f"{label:>6}{result['positions_per_s']:>14.1f}{result['steps_per_s']:>17.2f}{result['seconds']:>12.1f}",
            flush=True,
        )
    if 1 in results and 2 in results:
        efficiency = results[2]["positions_per_s"] / (2 * results[1]["positions_per_s"])
        print(f"selfplay scaling efficiency 2 actors: {efficiency:.2f}")


if __name__ == "__main__":
    main()
