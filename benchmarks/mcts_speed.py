"""MCTS simulations per second against the net's own evaluations per second, at several numbers of games.

    python benchmarks/mcts_speed.py [--threads 2] [--simulations 64] [--nets resnet-5x64 resnet-3x32]

For each net and each number of parallel games B, it times (1) a batched search of B Connect Four games,
one leaf per game per evaluator call, and (2) the bare net on batches of B positions. Search overhead is the
gap: sims/s over evals/s near 1 means the search costs little beside the net. B = 1 is the naive
single-leaf search that slow AlphaZero clones run. Last line: the ratio at 64 games for resnet-5x64.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from agents.alphazero import TorchEvaluator
from agents.mcts import BatchedMCTS, SearchConfig
from agents.nets import PolicyValueNet
from envs import make_game


def opening_states(game, count: int, rng: np.random.Generator) -> list:
    """Positions 4-10 plies in, so searches run in mid-game trees rather than all from the empty board."""
    states = []
    while len(states) < count:
        state = game.initial_state()
        for _ in range(int(rng.integers(4, 11))):
            state = state.apply(int(rng.choice(state.legal_actions())))
            if state.is_terminal():
                break
        if not state.is_terminal():
            states.append(state)
    return states


def net_evals_per_second(evaluator: TorchEvaluator, states: list, seconds: float) -> float:
    """Evaluations/s of the net alone on batches of len(states) positions (same call path as the search)."""
    obs = np.stack([s.observation() for s in states])
    mask = np.stack([s.legal_mask() for s in states])
    evaluator(obs, mask)
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        evaluator(obs, mask)
        calls += 1
    return calls * len(states) / (time.perf_counter() - start)


def search_sims_per_second(evaluator: TorchEvaluator, states: list, simulations: int, seconds: float) -> float:
    """Simulations/s of batched search over len(states) games (one search per game, repeated)."""
    total, start = 0, time.perf_counter()
    rng = np.random.default_rng(0)
    while time.perf_counter() - start < seconds:
        mcts = BatchedMCTS(evaluator, 7, SearchConfig(simulations=simulations), rng)
        mcts.reset(states)
        mcts.search()
        total += simulations * len(states)
    return total / (time.perf_counter() - start)


def main() -> None:
    """Print one table row per (net, games) and the summary ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--simulations", type=int, default=64, help="simulations per search (default 64)")
    parser.add_argument("--games", type=int, nargs="+", default=[1, 16, 64, 256])
    parser.add_argument("--nets", nargs="+", default=["resnet-3x32", "resnet-5x64"])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement (default 3)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    game = make_game("connect_four")
    rng = np.random.default_rng(0)
    print(f"connect_four, {args.simulations} simulations per search, torch threads {args.threads}")
    print(f"{'net':<14}{'games':>6}{'search sims/s':>15}{'net evals/s':>13}{'ratio':>8}")
    ratios = {}
    for preset in args.nets:
        torch.manual_seed(0)
        evaluator = TorchEvaluator(PolicyValueNet(preset, game.obs_shape, game.num_actions), torch.device("cpu"))
        for games in args.games:
            states = opening_states(game, games, rng)
            evals = net_evals_per_second(evaluator, states, args.seconds)
            sims = search_sims_per_second(evaluator, states, args.simulations, args.seconds)
            ratios[preset, games] = sims / evals
            note = "  (naive single-leaf search)" if games == 1 else ""
            print(f"{preset:<14}{games:>6}{sims:>15,.0f}{evals:>13,.0f}{sims / evals:>8.2f}{note}", flush=True)
    key = ("resnet-5x64", 64)
    if key in ratios:
        print(f"mcts sims/s over net evals/s at 64 games: {ratios[key]:.2f}")


if __name__ == "__main__":
    main()
