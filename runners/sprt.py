"""`arena sprt CANDIDATE BASELINE`: play until a sequential probability ratio test decides.

H0: the candidate is `--elo0` stronger than the baseline; H1: it is `--elo1` stronger. Games are played in
colour-swapped pairs from shared random openings, and the log-likelihood ratio (LLR) is checked after each
pair; the test stops when it crosses `log((1-beta)/alpha)` (H1 accepted) or `log(beta/(1-alpha))` (H0).
"""

from __future__ import annotations

import argparse

from agents.matches import run_sprt
from agents.ratings import pair_elo, sprt_bounds
from algorithms.registry import make_agent
from core.errors import ArenaError
from envs import make_game


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `arena sprt`."""
    parser.add_argument("candidate", help="agent spec of the candidate, e.g. az:runs/c4/latest,sims=200")
    parser.add_argument("baseline", help="agent spec of the baseline, e.g. minimax:depth=4")
    parser.add_argument("--game", required=True, help="tictactoe, connect_four, othello, gomoku")
    parser.add_argument("--elo0", type=float, default=0.0, help="Elo gain under H0 (default 0)")
    parser.add_argument("--elo1", type=float, default=30.0, help="Elo gain under H1 (default 30)")
    parser.add_argument("--alpha", type=float, default=0.05, help="false-positive rate (default 0.05)")
    parser.add_argument("--beta", type=float, default=0.05, help="false-negative rate (default 0.05)")
    parser.add_argument("--max-games", type=int, default=10_000, help="stop undecided after this many games")
    parser.add_argument("--opening-plies", type=int, default=2, help="random plies per opening pair (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="seed of openings and agents")


def main(args: argparse.Namespace) -> int:
    """Run the test and print LLR, bounds and the decision, cutechess-style."""
    game = make_game(args.game)
    candidate, baseline = make_agent(args.candidate, game), make_agent(args.baseline, game)
    for name, value in (("alpha", args.alpha), ("beta", args.beta)):
        if not 0 < value < 0.5:
            raise ArenaError(f"--{name} must be in (0, 0.5), got {value}")
    lower, upper = sprt_bounds(args.alpha, args.beta)

    def show(wins: int, losses: int, draws: int, llr: float) -> None:
        print(
            f"games {wins + losses + draws}: {wins} - {losses} - {draws}  LLR {llr:.2f} ({lower:.2f}, {upper:.2f})",
            flush=True,
        )

    result = run_sprt(
        game,
        candidate,
        baseline,
        elo0=args.elo0,
        elo1=args.elo1,
        alpha=args.alpha,
        beta=args.beta,
        max_games=args.max_games,
        opening_plies=args.opening_plies,
        seed=args.seed,
        on_pair=show,
    )
    for line in pair_elo(result.wins, result.losses, result.draws).lines(args.candidate, args.baseline):
        print(line)
    verdict = {
        # the test weighs two hypotheses; it does not measure the gap (the Elo line above estimates that)
        "H1": f"H1 accepted: a gain of {args.elo1:+g} Elo over {args.baseline} is likelier than {args.elo0:+g}",
        "H0": f"H0 accepted: a gain of {args.elo0:+g} Elo over {args.baseline} is likelier than {args.elo1:+g}",
        None: "no decision within --max-games",
    }[result.accepted]
    share = 100 * result.llr / (upper if result.llr >= 0 else -lower)
    print(f"SPRT: llr {result.llr:.2f} ({share:.1f}%), lbound {lower:.2f}, ubound {upper:.2f} - {verdict}")
    return 0


if __name__ == "__main__":
    from runners.cli import run_module

    raise SystemExit(run_module("sprt"))
