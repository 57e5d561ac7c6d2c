"""Our PPO against Stable-Baselines3's on CartPole-v1, same hyperparameters, same process, alternating seeds.

rl-zoo's tuned set for both: 8 envs, n_steps 32, batch 256, gae_lambda 0.8, gamma 0.98, 20 epochs, entropy 0,
learning rate 1e-3 and clip 0.2 both decayed linearly over 100k steps. For each seed and each implementation:
wall-clock seconds and env steps until the mean return of the last 20 training episodes first reaches 475
(training stops there). Both run with one torch thread. Also: raw env steps/s of our rollout collection against
Gymnasium's own vector env stepping random actions (the ceiling).

    python benchmarks/ppo_vs_sb3.py [--seeds 1 2 3] [--threshold 475]

Needs the `bench` extra (stable-baselines3). The last line is `ppo time-to-475 arena/sb3: <ratio>` (medians).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TOTAL = 100_000


def run_arena(seed: int, threshold: float, runs_dir: str) -> tuple[float, int, float]:
    """(seconds, env steps) until the threshold, and raw rollout steps/s, for our PPO."""
    from algorithms.ppo import PPOConfig, train
    from core.config import load_config
    from core.run import Run

    overrides = [f"run.runs_dir={runs_dir}", "tracking.mode=disabled", "run.torch_threads=1", f"run.seed={seed}",
                 f"ppo.target_return={threshold}", "eval.episodes=0", f"run.checkpoint_every={10 * TOTAL}"]  # fmt: skip
    config = load_config(PPOConfig, None, overrides)  # the embedded defaults are rl-zoo's CartPole set
    with Run.create(config, name=f"bench-ppo-s{seed}-{time.time_ns()}") as run:
        start = time.perf_counter()
        result = train(config, run)
        seconds = time.perf_counter() - start
    reached = result["train/return_mean20"] >= threshold
    return (seconds if reached else float("inf")), int(result["global_step"]), result["charts/rollout_sps"]


def run_sb3(seed: int, threshold: float) -> tuple[float, int]:
    """(seconds, env steps) until the threshold for Stable-Baselines3's PPO."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    class StopAt(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.recent: deque[float] = deque(maxlen=20)
            self.reached_at: int | None = None

        def _on_step(self) -> bool:
            for info in self.locals["infos"]:
                if "episode" in info:
                    self.recent.append(info["episode"]["r"])
            if len(self.recent) == 20 and np.mean(self.recent) >= threshold:
                self.reached_at = self.num_timesteps
                return False
            return True

    def linear(value: float):
        return lambda progress_remaining: progress_remaining * value

    start = time.perf_counter()
    env = make_vec_env("CartPole-v1", n_envs=8, seed=seed)
    model = PPO(
        "MlpPolicy", env, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20, ent_coef=0.0,
        learning_rate=linear(1e-3), clip_range=linear(0.2), seed=seed, device="cpu", verbose=0,
    )  # fmt: skip
    callback = StopAt()
    model.learn(TOTAL, callback=callback)
    seconds = time.perf_counter() - start
    env.close()
    if callback.reached_at is None:
        return float("inf"), model.num_timesteps
    return seconds, callback.reached_at


def gymnasium_ceiling(steps: int = 100_000) -> float:
    """Env steps/s of Gymnasium's SyncVectorEnv (8 CartPoles, SAME_STEP autoreset) on random actions."""
    import gymnasium as gym

    envs = gym.vector.SyncVectorEnv(
        [lambda: gym.make("CartPole-v1") for _ in range(8)], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP
    )
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 2, size=(steps // 8, 8))
    start = time.perf_counter()
    for a in actions:
        envs.step(a)
    return steps / (time.perf_counter() - start)


def main() -> None:
    """Run both on each seed (alternating which goes first) and print the table and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--threshold", type=float, default=475.0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = {"arena": [], "sb3": []}
    rollout = []
    with tempfile.TemporaryDirectory() as runs_dir:
        for i, seed in enumerate(args.seeds):
            order = ["arena", "sb3"] if i % 2 == 0 else ["sb3", "arena"]
            for name in order:
                if name == "arena":
                    seconds, steps, sps = run_arena(seed, args.threshold, runs_dir)
                    rollout.append(sps)
                else:
                    seconds, steps = run_sb3(seed, args.threshold)
                rows[name].append((seconds, steps))
                print(
                    f"seed {seed} {name:5s}: {seconds:7.2f} s  {steps:7d} env steps to {args.threshold:g}", flush=True
                )
    ceiling = gymnasium_ceiling()
    print(f"raw env steps/s: arena rollout collection {statistics.median(rollout):,.0f} "
          f"(acting + stepping), gymnasium SyncVectorEnv random actions {ceiling:,.0f} (ceiling)")  # fmt: skip
    medians = {}
    for name, values in rows.items():
        seconds = statistics.median(v[0] for v in values)
        steps = statistics.median(v[1] for v in values)
        medians[name] = (seconds, steps)
        print(f"{name:5s} median: {seconds:.2f} s, {steps:.0f} env steps")
    print(f"ppo env steps to {args.threshold:g} arena/sb3: {medians['arena'][1] / medians['sb3'][1]:.3f}")
    print(f"ppo time-to-{args.threshold:g} arena/sb3: {medians['arena'][0] / medians['sb3'][0]:.3f}")


if __name__ == "__main__":
    main()
