"""Search speed: simulations/s of batched Connect Four search with ONNX Runtime (float, int8) beside torch eager.

    python benchmarks/mcts_speed.py [--simulations 32] [--games 1 16 64 128 256] [--nets resnet-4x48 resnet-3x32]
    python benchmarks/mcts_speed.py --device cuda --games 128 512 2048    # torch on the GPU beside ONNX on CPU
    python benchmarks/mcts_speed.py --nets resnet-3x32 --kind gumbel --simulations 16 --games 128  # make run's search
    python benchmarks/mcts_speed.py --stones    # nets that see the stones alone (the presets before the feature planes)

For each net, number of parallel games B and inference backend, it times (1) a batched search of B games (one
leaf per game per evaluator call; PUCT with the solver, as `az:` agents search by default) and (2) the bare
evaluator on batches of B positions. sims/s over evals/s near 1 means the search costs little beside the net;
B = 1 is the naive single-leaf search. The nets see the registry's feature planes, as the shipped net and
`make run`'s do (`--stones`: the two stone planes alone). Every backend runs one inference thread, as a
self-play rank does; with `--device cuda` the torch rows run on the GPU (bf16 autocast), the ONNX rows stay
on one CPU thread.
The nets carry random weights (speed does not depend on them); the int8 graph's accuracy is measured on the
shipped model (`models/connect_four.pt`) against its float graph, over positions of random games.
Last line: the ONNX/torch ratios of search simulations/s at 128 games for the first net's preset (the default
`resnet-4x48` is the shipped net's).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from agents.mcts import BatchedMCTS, SearchConfig
from algorithms.alphazero.agent import MODELS_DIR, load_agent
from algorithms.evaluators import OnnxEvaluator, TorchEvaluator
from algorithms.nets import PolicyValueNet
from core.device import describe_device, resolve_device
from envs import GAME_REGISTRY, make_game

BACKENDS = ("torch", "onnx", "onnx-int8")


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


def net_evals_per_second(evaluator, states: list, seconds: float) -> float:
    """Evaluations/s of the evaluator alone on batches of len(states) positions (the search's call path)."""
    obs = np.stack([s.observation() for s in states])
    mask = np.stack([s.legal_mask() for s in states])
    for _ in range(300 // len(states) + 2):  # warm up; the int8 graph quantizes itself once it has traffic
        evaluator(obs, mask)
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        evaluator(obs, mask)
        calls += 1
    return calls * len(states) / (time.perf_counter() - start)


def search_sims_per_second(evaluator, states: list, config: SearchConfig, seconds: float) -> float:
    """Simulations/s of batched search over len(states) games (one search per game, repeated)."""
    rng = np.random.default_rng(0)

    def one_search() -> None:
        mcts = BatchedMCTS(evaluator, 7, config, rng)
        mcts.reset(states)
        mcts.search(noise=False)

    one_search()  # untimed: the first search loads the tree's compiled kernels
    total, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        one_search()
        total += config.simulations * len(states)
    return total / (time.perf_counter() - start)


def int8_accuracy(game, positions: int = 3000) -> str:
    """Top-move agreement and mean value error of the shipped model's int8 graph against its float graph."""
    if not (MODELS_DIR / "connect_four.pt").is_file():
        return "int8 accuracy: models/connect_four.pt not found"
    agent = load_agent(game, "connect_four", mirror=False)
    game, net = agent.game, agent.evaluator.net  # the game as the shipped net sees it
    rng = np.random.default_rng(0)
    obs, mask = [], []
    while len(obs) < positions:
        state = game.initial_state()
        while not state.is_terminal():
            obs.append(state.observation())
            mask.append(state.legal_mask())
            state = state.apply(int(rng.choice(state.legal_actions())))
    obs, mask = np.stack(obs[:positions]), np.stack(mask[:positions])
    exact, quantized = OnnxEvaluator(net), OnnxEvaluator(net, int8=True)
    for start in range(0, 512, 128):  # calibration traffic, as a self-play rank gives it
        quantized(obs[start : start + 128], mask[start : start + 128])
    (p, v), (q, w) = exact(obs, mask), quantized(obs, mask)
    agree = np.mean(p.argmax(1) == q.argmax(1))
    return (
        f"int8 vs float graph, shipped model, {positions} positions of random games: top move agrees {agree:.1%}, "
        f"mean |value error| {np.abs(v - w).mean():.3f}, mean policy L1 {np.abs(p - q).sum(1).mean():.3f}"
    )


def main() -> None:
    """Print one row per (net, games, backend) and the summary ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--simulations", type=int, default=64, help="simulations per search (default 64)")
    parser.add_argument("--games", type=int, nargs="+", default=[1, 16, 64, 128, 256])
    parser.add_argument("--nets", nargs="+", default=["resnet-4x48", "resnet-3x32", "resnet-5x64"])
    parser.add_argument("--kind", choices=["puct", "gumbel"], default="puct", help="search kind (default puct)")
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement (default 3)")
    parser.add_argument("--device", default="cpu", help="where the torch rows run: cpu or cuda (default cpu)")
    parser.add_argument(
        "--stones", action="store_true", help="nets see the stones alone (default: the registry's feature planes)"
    )
    args = parser.parse_args()
    device = resolve_device(args.device)
    torch.set_num_threads(1)
    game = make_game("connect_four", **({} if args.stones else GAME_REGISTRY["connect_four"].net_options))
    config = SearchConfig(simulations=args.simulations, kind=args.kind)
    planes = f" with {game.options}" if any(game.options.values()) else " (stones alone)"
    print(f"connect_four{planes}, {args.kind} search, {args.simulations} simulations per search, one inference "
          f"thread, torch on {describe_device(device)}")  # fmt: skip
    print(f"{'net':<13}{'games':>6}{'backend':>10}{'search sims/s':>15}{'net evals/s':>13}{'ratio':>7}{'/torch':>8}")
    speedups = {}
    for preset in args.nets:
        torch.manual_seed(0)
        net = PolicyValueNet(preset, game.obs_shape, game.num_actions)
        backends = {
            "torch": TorchEvaluator(net, device),
            "onnx": OnnxEvaluator(net, threads=1),
            "onnx-int8": OnnxEvaluator(net, threads=1, int8=True),
        }
        for games in args.games:
            states = opening_states(game, games, np.random.default_rng(games))
            sims = {}
            for name, evaluator in backends.items():
                evals = net_evals_per_second(evaluator, states, args.seconds)
                sims[name] = search_sims_per_second(evaluator, states, config, args.seconds)
                ratio = f"{sims[name] / sims['torch']:>8.2f}" if name != "torch" else ""
                note = "  (single-leaf search)" if games == 1 and name == "torch" else ""
                print(f"{preset:<13}{games:>6}{name:>10}{sims[name]:>15,.0f}{evals:>13,.0f}{sims[name] / evals:>7.2f}"
                      f"{ratio}{note}", flush=True)  # fmt: skip
            speedups[preset, games] = {name: sims[name] / sims["torch"] for name in BACKENDS[1:]}
    print(int8_accuracy(game))
    key = (args.nets[0], 128)
    if key in speedups:
        ratios = ", ".join(f"{name}/torch = {ratio:.2f}" for name, ratio in speedups[key].items())
        print(f"search sims/s at 128 games, {args.nets[0]}, torch eager on {device.type} = 1: {ratios}")


if __name__ == "__main__":
    main()
