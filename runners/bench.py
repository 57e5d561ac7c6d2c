"""`arena bench pons AGENT`: an agent's Connect Four mistake rate on Pascal Pons' benchmark positions.

For every position of each set, the agent picks a move; the move is a mistake when another legal move has a
strictly better value (win > draw > loss) under perfect play. The values of every legal move ship with the
repo in `envs/data/connect4_pons.npz` (made by `benchmarks/gen_pons_values.py`), so this needs no solver.
A searching agent (`az:`) searches every position of a set in lockstep, one net call per simulation for the
whole batch; other agents move one position at a time.

    python -m runners.bench pons minimax:depth=5
    python -m runners.bench pons mcts:sims=1000 --sets End-Easy Begin-Medium --limit 200
    arena bench pons az:connect_four,sims=800
"""

from __future__ import annotations

import argparse
import inspect
import sys
import time
from typing import Any

import numpy as np

from agents import parse_spec
from algorithms.registry import AGENT_KINDS, make_agent
from core.errors import ArenaError
from envs import make_game
from envs.pons import DATA, SETS, load_pons, mistakes


def resolve_sets(requested: list[str] | None, available: list[str]) -> list[str]:
    """Set names from file names (`Test_L1_R2`), short names (`L1_R2`) or stage names (`Begin-Medium`)."""
    if not requested:
        return [s for s in SETS if s in available]
    by_alias = {}
    for name, stage in SETS.items():
        for alias in (name, name.removeprefix("Test_"), stage):
            by_alias[alias.lower()] = name
    out = []
    for r in requested:
        name = by_alias.get(r.lower())
        if name is None:
            raise ArenaError(f"unknown Pons set {r!r}; valid: {', '.join(f'{n} ({s})' for n, s in SETS.items())}")
        if name not in available:
            raise ArenaError(f"set {name} ({SETS[name]}) is not in {DATA.name}; present: {', '.join(available)}")
        out.append(name)
    return out


def with_seed(spec: str, seed: int) -> str:
    """Add `seed=` to an agent spec whose kind takes a seed and that does not set one."""
    kind, _, kwargs = parse_spec(spec)
    if "seed" in kwargs or kind not in AGENT_KINDS:
        return spec
    try:
        takes_seed = "seed" in inspect.signature(AGENT_KINDS[kind]).parameters
    except (TypeError, ValueError):
        takes_seed = False
    if not takes_seed:
        return spec
    return f"{spec}{',' if ':' in spec else ':'}seed={seed}"


def bench_pons(spec: str, sets: list[str] | None = None, limit: int | None = None, seed: int = 0) -> list[dict]:
    """Mistake rate of agent `spec` on each Pons set: rows with set, stage, positions, mistakes, rate, ms."""
    game = make_game("connect_four")
    agent = make_agent(with_seed(spec, seed), game)
    data = load_pons()
    rows = []
    for name in resolve_sets(sets, list(data)):
        moves, values = data[name]["moves"], data[name]["values"]
        n = len(moves) if limit is None else min(limit, len(moves))
        states = [game.state_from_moves(str(m)) for m in moves[:n]]
        t0 = time.perf_counter()
        if hasattr(agent, "act_batch"):  # searching agents take every position of the set in one batch
            actions = np.asarray(agent.act_batch(states))
        else:
            actions = np.array([_act_fresh(agent, state) for state in states], np.int64)
        elapsed = time.perf_counter() - t0
        chosen = values[np.arange(n), actions]  # values [N, 7] int8: +1 win, 0 draw, -1 loss, -2 full column
        if (chosen == -2).any():
            i = int(np.flatnonzero(chosen == -2)[0])
            raise ArenaError(f"{agent.name} played the full column {actions[i] + 1} in {name} position {moves[i]}")
        wrong = int(mistakes(values, actions).sum())
        rows.append(
            {
                "set": name,
                "stage": SETS[name],
                "positions": n,
                "mistakes": wrong,
                "rate": wrong / max(n, 1),
                "ms_per_move": 1000 * elapsed / max(n, 1),
            }
        )
    return rows


def _act_fresh(agent: Any, state: Any) -> int:
    agent.reset()
    return int(agent.act(state))


def format_table(spec: str, rows: list[dict]) -> str:
    """The rows as an aligned text table."""
    lines = [
        f"Pons benchmark for {spec}: a mistake is a move whose value (win/draw/loss) is below the best",
        f"{'set':<12} {'stage':<14} {'positions':>9} {'mistakes':>8} {'rate':>7} {'ms/move':>9}",
    ]
    for r in rows:
        lines.append(
            f"{r['set']:<12} {r['stage']:<14} {r['positions']:>9} {r['mistakes']:>8} "
            f"{100 * r['rate']:>6.1f}% {r['ms_per_move']:>9.1f}"
        )
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `pons` subcommand to `parser` (the `arena bench` parser)."""
    sub = parser.add_subparsers(dest="bench", required=True, metavar="BENCH")
    pons = sub.add_parser(
        "pons",
        help="Connect Four mistake rate on Pons' test positions",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,  # keep the examples on their own lines
    )
    pons.add_argument("agent", help="agent spec, e.g. minimax:depth=5 or mcts:sims=1000")
    pons.add_argument(
        "--sets", nargs="+", default=None, help="sets by file or stage name (default: all in the data file)"
    )
    pons.add_argument("--limit", type=int, default=None, help="first N positions of each set")
    pons.add_argument("--seed", type=int, default=0, help="seed for agents that take one")


def main(args: argparse.Namespace) -> int:
    """Run the benchmark named in `args` and print its table."""
    if args.bench != "pons":
        raise ArenaError(f"unknown benchmark {args.bench!r}; valid: pons")
    if args.limit is not None and args.limit < 1:
        raise ArenaError(f"--limit must be at least 1, not {args.limit}")
    rows = bench_pons(args.agent, args.sets, args.limit, args.seed)
    print(format_table(args.agent, rows))
    return 0


if __name__ == "__main__":
    _parser = argparse.ArgumentParser(prog="python -m runners.bench", description="Benchmarks of agents.")
    add_arguments(_parser)
    try:
        sys.exit(main(_parser.parse_args()))
    except ArenaError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
