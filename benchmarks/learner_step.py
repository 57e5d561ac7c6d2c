"""AlphaZero's learner step on this machine: ms per update for each net, precision and memory layout.

    python benchmarks/learner_step.py [--nets resnet-3x32 resnet-4x48] [--batch 256] [--threads 1] [--steps 40]
    python benchmarks/learner_step.py --device cuda --nets resnet-4x48 resnet-10x128 --batch 256 1024

Each row times `algorithms.alphazero.learner.Learner.update` (forward, losses, backward, Adam) on random
Connect Four batches after warm-up steps, every variant in this one process, on the CPU or (`--device cuda`) a
GPU, synchronised before each clock reading. bfloat16 rows are skipped where the CPU has no native bf16
(`core.device.use_bf16`). Last line: the fastest variant of each net against the
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
from core.device import describe_device, resolve_device, use_bf16
from envs.connect_four import ConnectFour

LAYOUTS = {"NCHW": torch.contiguous_format, "NHWC": torch.channels_last}


def time_step(net_name: str, precision: str, layout: str, batch: Samples, steps: int, device: torch.device) -> float:
    """Mean ms of one learner update after five warm-up updates."""
    game = ConnectFour()
    torch.manual_seed(0)
    net = PolicyValueNet(net_name, game.obs_shape, game.num_actions).to(device)
    learner = Learner(net, LearnConfig(precision=precision), device, memory_format=LAYOUTS[layout])
    for _ in range(5):
        learner.update(batch)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        learner.update(batch)  # its .item() calls wait for the GPU at every step, as in training
    return (time.perf_counter() - start) / steps * 1000


def main(argv: list[str] | None = None) -> int:
    """Print a table of step times and a one-line summary."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nets", nargs="+", default=["resnet-3x32", "resnet-4x48"])
    p.add_argument("--batch", type=int, nargs="+", default=[256])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    rng = np.random.default_rng(0)
    game = ConnectFour()
    precisions = ["float32"] + (["bfloat16"] if use_bf16(device, "auto") else [])
    where = describe_device(device) + ("" if device.type == "cuda" else f", {args.threads} thread(s)")
    print(f"learner step on {where}, mean of {args.steps} updates")
    print(f"{'net':14s} {'batch':>6s} {'precision':10s} {'layout':6s} {'ms/step':>8s} {'samples/s':>10s}")
    summary = []
    for net_name in args.nets:
        for size in args.batch:
            batch = Samples(
                obs=(rng.random((size, *game.obs_shape)) < 0.3).astype(np.float32),
                policy=rng.dirichlet(np.ones(game.num_actions), size).astype(np.float32),
                value=rng.uniform(-1, 1, size).astype(np.float32),
            )
            times = {}
            for precision in precisions:
                for layout in LAYOUTS:
                    ms = times[precision, layout] = time_step(net_name, precision, layout, batch, args.steps, device)
                    print(f"{net_name:14s} {size:6d} {precision:10s} {layout:6s} {ms:8.1f} {size / ms * 1000:10,.0f}")
            best = min(times, key=times.get)
            gains = [f"{times['float32', 'NCHW'] / times[best]:.2f}x float32 NCHW"]
            if best[0] != "float32":
                gains.append(f"{times[best[0], 'NCHW'] / times[best]:.2f}x {best[0]} NCHW")
            summary.append(f"{net_name} b{size} {best[0]} {best[1]} {times[best]:.1f} ms ({', '.join(gains)})")
    print(f"learner step on {device.type}: " + "; ".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
