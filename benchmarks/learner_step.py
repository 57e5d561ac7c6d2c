"""AlphaZero's learner step on this machine: ms per update for each net, precision and memory layout.

    python benchmarks/learner_step.py [--nets resnet-3x32 resnet-4x48] [--batch 256] [--threads 1] [--steps 40]

Each row times `algorithms.alphazero.learner.Learner.update` (forward, losses, backward, Adam) on random
Connect Four batches after warm-up steps, every variant in this one process. bfloat16 rows are skipped where
the CPU has no native bf16 (`core.device.use_bf16`). Last line: the fastest variant of each net against the
NCHW float32 step.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from algorithms.alphazero.config import LearnConfig
from algorithms.alphazero.learner import Learner
from algorithms.alphazero.replay import Samples
from algorithms.nets import PolicyValueNet
from core.device import use_bf16
from envs.connect_four import ConnectFour

LAYOUTS = {"NCHW": torch.contiguous_format, "NHWC": torch.channels_last}


def time_step(net_name: str, precision: str, layout: str, batch: Samples, steps: int) -> float:
    """Mean ms of one learner update after five warm-up updates."""
    game = ConnectFour()
    torch.manual_seed(0)
    net = PolicyValueNet(net_name, game.obs_shape, game.num_actions)
    learner = Learner(net, LearnConfig(precision=precision), torch.device("cpu"), memory_format=LAYOUTS[layout])
    for _ in range(5):
        learner.update(batch)
    start = time.perf_counter()
    for _ in range(steps):
        learner.update(batch)
    return (time.perf_counter() - start) / steps * 1000


def main(argv: list[str] | None = None) -> int:
    """Print a table of step times and a one-line summary."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nets", nargs="+", default=["resnet-3x32", "resnet-4x48"])
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=40)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    game = ConnectFour()
    batch = Samples(
        obs=(rng.random((args.batch, *game.obs_shape)) < 0.3).astype(np.float32),
        policy=rng.dirichlet(np.ones(game.num_actions), args.batch).astype(np.float32),
        value=rng.uniform(-1, 1, args.batch).astype(np.float32),
    )
    precisions = ["float32"] + (["bfloat16"] if use_bf16(torch.device("cpu"), "auto") else [])
    print(f"learner step, batch {args.batch}, {args.threads} thread(s), mean of {args.steps} updates")
    print(f"{'net':14s} {'precision':10s} {'layout':6s} {'ms/step':>8s}")
    summary = []
    for net_name in args.nets:
        times = {}
        for precision in precisions:
            for layout in LAYOUTS:
                times[precision, layout] = time_step(net_name, precision, layout, batch, args.steps)
                print(f"{net_name:14s} {precision:10s} {layout:6s} {times[precision, layout]:8.1f}", flush=True)
        best = min(times, key=times.get)
        base = times["float32", "NCHW"]
        nchw_best = times[best[0], "NCHW"]
        summary.append(
            f"{net_name} {best[0]} {best[1]} {times[best]:.0f} ms ({base / times[best]:.2f}x float32 NCHW, "
            f"{nchw_best / times[best]:.2f}x {best[0]} NCHW)"
        )
    print("learner step: " + "; ".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
