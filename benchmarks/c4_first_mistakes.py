"""Where a Connect Four agent's games go wrong: the ply of its first move that drops the perfect-play value.

    python benchmarks/c4_first_mistakes.py runs/eval/mix/ledger.jsonl --agent az: --from-ply 8

Reads a tournament ledger (`arena tournament --out DIR` writes DIR/ledger.jsonl), takes every game the agent
(the player whose spec starts with `--agent`) did not win, and replays it with the exact solver: from
`--from-ply` on (earlier positions are slow to solve), the first of the agent's moves whose value (win / draw /
loss with perfect play) is below the best move's is its first mistake. Prints a table of those by ply band and
value drop; games with no such move were already drawn or lost at `--from-ply`. The last line is a summary.
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.c4_solver import ConnectFourSolver  # noqa: E402
from agents.matches import GameRecord  # noqa: E402
from envs.connect_four import ConnectFour  # noqa: E402
from runners.tournament import read_records  # noqa: E402

BAND = 4  # plies per row of the table


def first_mistake(
    game: ConnectFour, solver: ConnectFourSolver, record: GameRecord, agent_first: bool, from_ply: int
) -> tuple[int, int, int] | None:
    """(ply, best value, played value) of the agent's first value-dropping move, or None."""
    opening = game.parse_moves(record.opening)
    moves = opening + game.parse_moves(record.moves)
    state = game.initial_state()
    for ply, action in enumerate(moves):
        agents_turn = (ply % 2 == 0) == agent_first
        if agents_turn and ply >= max(from_ply, len(opening)):
            value = solver.solve(state.cur, state.mask, weak=True)
            values = solver.move_values(state.cur, state.mask, value)
            if values[action] < value:
                return ply, value, values[action]
        state = state.apply(action)
    return None


def main(argv: list[str] | None = None) -> int:
    """Tabulate the first mistakes of the agent's games that were not wins."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("ledger", type=Path, help="a tournament's ledger.jsonl")
    p.add_argument("--agent", default="az:", help="prefix of the agent's spec (default az:)")
    p.add_argument("--from-ply", type=int, default=8, help="first ply searched for mistakes (default 8)")
    args = p.parse_args(argv)

    game, solver = ConnectFour(), ConnectFourSolver()
    bands: collections.Counter[str] = collections.Counter()
    games = not_won = early = late = 0
    for record in read_records(args.ledger):
        if record.game != "connect_four":
            continue
        agent_first = record.first.startswith(args.agent)
        if not agent_first and not record.second.startswith(args.agent):
            continue
        games += 1
        score = record.score if agent_first else 1 - record.score
        if score == 1.0:
            continue
        not_won += 1
        found = first_mistake(game, solver, record, agent_first, args.from_ply)
        if found is None:
            bands[f"none from ply {args.from_ply} (already drawn or lost)"] += 1
            continue
        ply, best, played = found
        low = ply // BAND * BAND
        bands[f"ply {low:2d}-{low + BAND - 1:2d}  {best:+d} -> {played:+d}"] += 1
        if ply >= 20:
            late += 1
        else:
            early += 1
    for key in sorted(bands):
        print(f"{key:45s} {bands[key]:4d}")
    print(
        f"first mistakes of {args.agent}* in {not_won} of {games} games not won: ply {args.from_ply}-19 {early}, "
        f"ply 20+ {late}, none from ply {args.from_ply} {not_won - early - late}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
