"""Speed of the game engines and of the Connect Four solver (a benchmark, not a test).

    python benchmarks/games_speed.py                 # about a minute
    python benchmarks/games_speed.py --seconds 0.5 --solver-positions 20

For each game: `apply` per second (our states are immutable, so `apply` includes the copy) and random
playouts per second; the same for PettingZoo's own `connect_four_v3` in the same run (its unwrapped
`raw_env`; `step` alone, as it cannot be copied); then the solver's mean time per position on each Pons set
(exact scores, checked against the file). The last line is `connect_four playouts/s arena/pettingzoo: <ratio>`.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from envs import make_game

GAMES = [("tictactoe", {}), ("connect_four", {}), ("othello", {}), ("othello", {"size": 6}), ("gomoku", {})]
PONS_SETS = ["Test_L3_R1", "Test_L2_R1", "Test_L2_R2", "Test_L1_R1", "Test_L1_R2", "Test_L1_R3"]
STAGES = ["End-Easy", "Middle-Easy", "Middle-Medium", "Begin-Easy", "Begin-Medium", "Begin-Hard"]


def sample_positions(game, n: int, rng: random.Random) -> list:
    """(state, legal action) pairs from random games, to time `apply` on realistic positions."""
    pairs = []
    while len(pairs) < n:
        state = game.initial_state()
        while not state.is_terminal() and len(pairs) < n:
            legal = state.legal_actions()
            action = legal[int(rng.random() * len(legal))]
            pairs.append((state, action))
            state = state.apply(action)
    return pairs


def applies_per_second(game, seconds: float) -> float:
    """`state.apply(action)` calls per second over positions from random games."""
    pairs = sample_positions(game, 2000, random.Random(0))
    count, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for state, action in pairs:
            state.apply(action)
        count += len(pairs)
    return count / (time.perf_counter() - t0)


def playouts_per_second(game, seconds: float) -> float:
    """Random games from the start to the end per second."""
    rng = random.Random(0)
    count, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        state = game.initial_state()
        while not state.is_terminal():
            legal = state.legal_actions()
            state = state.apply(legal[int(rng.random() * len(legal))])
        count += 1
    return count / (time.perf_counter() - t0)


def pettingzoo_connect_four(seconds: float) -> tuple[float, float]:
    """(step per second, playouts per second) of PettingZoo's connect_four_v3 `raw_env`.

    PettingZoo envs have no copy: `copy.deepcopy` goes through EzPickle and rebuilds a fresh, un-reset env,
    so only `step` is timed (without any copy), which flatters PettingZoo in the apply comparison.
    """
    from pettingzoo.classic import connect_four_v3

    rng = random.Random(0)
    env = connect_four_v3.raw_env()

    def random_action() -> int:
        legal = np.flatnonzero(env.observe(env.agent_selection)["action_mask"])
        return int(legal[int(rng.random() * len(legal))])

    steps, step_time, t0 = 0, 0.0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        env.reset()
        while not any(env.terminations.values()):
            a = random_action()
            t = time.perf_counter()
            env.step(a)
            step_time += time.perf_counter() - t
            steps += 1
    count, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        env.reset()
        while not any(env.terminations.values()):
            env.step(random_action())
        count += 1
    return steps / step_time, count / (time.perf_counter() - t0)


def solver_times(src: Path, positions: int, hard_positions: int) -> list[tuple[str, str, int, float, int]]:
    """(set, stage, positions, mean ms, wrong scores) of the Connect Four solver on Pons' sets."""
    from agents.c4_solver import ConnectFourSolver

    game = make_game("connect_four")
    solver = ConnectFourSolver()
    warm = game.state_from_moves("4444333322")
    solver.solve(warm.cur, warm.mask)  # compile (or load numba's cache) before timing
    rows = []
    for name, stage in zip(PONS_SETS, STAGES, strict=True):
        path = src / name
        if not path.exists():
            continue
        n = hard_positions if name == "Test_L1_R3" else positions
        lines = path.read_text().split("\n")[:n]
        wrong, t0 = 0, time.perf_counter()
        for line in lines:
            moves, score = line.split()
            s = game.state_from_moves(moves)
            wrong += solver.solve(s.cur, s.mask) != int(score)
        rows.append((name, stage, len(lines), 1000 * (time.perf_counter() - t0) / max(len(lines), 1), wrong))
    return rows


def main(argv: list[str] | None = None) -> int:
    """Print the speed table; the last line is the Connect Four playout ratio against PettingZoo."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    p.add_argument("--pons", type=Path, default=Path(__file__).resolve().parent.parent.parent / "shared/data/connect4")
    p.add_argument("--solver-positions", type=int, default=100, help="positions per Pons set (0 skips the solver)")
    p.add_argument("--hard-positions", type=int, default=2, help="positions of Begin-Hard (seconds each)")
    args = p.parse_args(argv)

    print(f"{'game':<16} {'apply/s':>12} {'playouts/s':>12}")
    ours = {}
    for name, options in GAMES:
        game = make_game(name, **options)
        label = name + (f" {options['size']}x{options['size']}" if options else "")
        a, g = applies_per_second(game, args.seconds), playouts_per_second(game, args.seconds)
        ours[label] = (a, g)
        print(f"{label:<16} {a:>12,.0f} {g:>12,.1f}", flush=True)
    pz_apply, pz_play = pettingzoo_connect_four(args.seconds)
    print(f"{'pettingzoo c4':<16} {pz_apply:>12,.0f} {pz_play:>12,.1f}   (connect_four_v3 raw_env; step without copy)")
    c4_apply, c4_play = ours["connect_four"]
    print(f"connect_four apply+copy/s (arena) / step/s (pettingzoo): {c4_apply / pz_apply:.1f}")

    if args.solver_positions > 0 and args.pons.exists():
        print(f"\nConnect Four solver, exact scores, mean per position ({args.pons}):")
        print(f"{'set':<12} {'stage':<14} {'positions':>9} {'ms':>10} {'wrong':>6}")
        for name, stage, n, ms, wrong in solver_times(args.pons, args.solver_positions, args.hard_positions):
            if n == 0:
                continue
            print(f"{name:<12} {stage:<14} {n:>9} {ms:>10.2f} {wrong:>6}", flush=True)
    elif args.solver_positions > 0:
        print(f"\n(solver timings skipped: no Pons sets at {args.pons})")
    print(f"connect_four playouts/s arena/pettingzoo: {c4_play / pz_play:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
