"""Our DQN against Stable-Baselines3's on CartPole-v1 for 50k env steps, same hyperparameters, alternating seeds.

rl-zoo's tuned set for both: lr 2.3e-3, batch 64, buffer 100k, learning starts 1000, gamma 0.99, target update
every 10 steps, train every 256 steps with 128 gradient steps, epsilon 1 -> 0.04 over 16% of training, a
256x256 MLP, one env. Ours runs its default Double DQN (`--vanilla`: plain DQN, as SB3's).
SB3's training return hovers near 400 at 50k because of its exploration floor, so we compare wall time for the
50k steps and the greedy (epsilon 0) 20-episode evaluation of each at the end. Both run with one torch thread.

    python benchmarks/dqn_vs_sb3.py [--seeds 1 2 3]

Needs the `bench` extra (stable-baselines3). The last line is `dqn wall time 50k steps arena/sb3: <ratio>`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TOTAL = 50_000


def run_arena(seed: int, runs_dir: str, vanilla: bool = False) -> tuple[float, float]:
    """(wall seconds for 50k steps, greedy 20-episode mean) for our DQN."""
    from algorithms.dqn import DQNConfig, evaluate_q, train
    from core.config import load_config
    from core.run import Run

    overrides = [f"run.runs_dir={runs_dir}", "tracking.mode=disabled", "run.torch_threads=1", f"run.seed={seed}",
                 "eval.episodes=0", f"run.checkpoint_every={10 * TOTAL}", "dqn.checkpoint_replay=false",
                 f"dqn.double={'false' if vanilla else 'true'}"]  # fmt: skip
    config = load_config(DQNConfig, None, overrides)  # the embedded defaults are rl-zoo's CartPole set
    with Run.create(config, name=f"bench-dqn-s{seed}-{time.time_ns()}") as run:
        start = time.perf_counter()
        train(config, run)
        seconds = time.perf_counter() - start
        from algorithms.dqn import model_from_checkpoint

        q_net = model_from_checkpoint(run.restore())
    eval_config = load_config(DQNConfig, None, [f"run.seed={seed}", "eval.episodes=20"])
    mean, _ = evaluate_q(q_net, eval_config, TOTAL, torch.device("cpu"))
    return seconds, mean


def run_sb3(seed: int) -> tuple[float, float]:
    """(wall seconds for 50k steps, greedy 20-episode mean) for Stable-Baselines3's DQN."""
    import gymnasium as gym
    from stable_baselines3 import DQN
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy

    start = time.perf_counter()
    env = make_vec_env("CartPole-v1", n_envs=1, seed=seed)
    model = DQN(
        "MlpPolicy", env, learning_rate=2.3e-3, batch_size=64, buffer_size=100_000, learning_starts=1000,
        gamma=0.99, target_update_interval=10, train_freq=256, gradient_steps=128, exploration_fraction=0.16,
        exploration_final_eps=0.04, policy_kwargs={"net_arch": [256, 256]}, seed=seed, device="cpu", verbose=0,
    )  # fmt: skip
    model.learn(TOTAL)
    seconds = time.perf_counter() - start
    env.close()
    eval_env = gym.make("CartPole-v1")
    eval_env.reset(seed=10**6 + seed)
    mean, _ = evaluate_policy(model, eval_env, n_eval_episodes=20, deterministic=True)
    return seconds, float(mean)


def main() -> None:
    """Run both on each seed (alternating which goes first) and print the table and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--vanilla", action="store_true", help="our DQN without Double DQN, as SB3's")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows: dict[str, list[tuple[float, float]]] = {"arena": [], "sb3": []}
    with tempfile.TemporaryDirectory() as runs_dir:
        for i, seed in enumerate(args.seeds):
            for name in ["arena", "sb3"] if i % 2 == 0 else ["sb3", "arena"]:
                seconds, mean = run_arena(seed, runs_dir, args.vanilla) if name == "arena" else run_sb3(seed)
                rows[name].append((seconds, mean))
                print(
                    f"seed {seed} {name:5s}: {seconds:7.2f} s for {TOTAL} steps, greedy eval mean {mean:6.1f}",
                    flush=True,
                )
    medians = {}
    for name, values in rows.items():
        seconds = statistics.median(v[0] for v in values)
        means = [v[1] for v in values]
        medians[name] = seconds
        print(f"{name:5s} median {seconds:.2f} s; eval means {', '.join(f'{m:.1f}' for m in means)} "
              f"(mean {statistics.mean(means):.1f})")  # fmt: skip
    print(f"dqn wall time {TOTAL // 1000}k steps arena/sb3: {medians['arena'] / medians['sb3']:.3f}")


if __name__ == "__main__":
    main()
