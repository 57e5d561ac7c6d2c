"""How far a Connect Four net is from mirror-symmetric, and what averaging the two images buys (net alone).

    python benchmarks/mirror_agreement.py                    # the shipped az:connect_four
    python benchmarks/mirror_agreement.py runs/c4-cont       # a run dir or checkpoint

For every position of each Pons set, the net judges the position and its left-right mirror image (its moves
mirrored back): the table gives the mistake rate of the net's top move on each image and of the averaged
priors (what `eval.mirror` plays with), how often the two images' top moves agree, and the mean absolute
difference of their values. A mistake is a move whose perfect-play value is below the best move's. The last
line is a summary.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from algorithms.alphazero.agent import load_agent  # noqa: E402
from algorithms.evaluators import MirrorAveraged  # noqa: E402
from envs import make_game  # noqa: E402
from envs.pons import SETS, load_pons, mistakes  # noqa: E402


def mistake_rate(priors: np.ndarray, mask: np.ndarray, values: np.ndarray) -> float:
    """Percent of positions where the top legal move of `priors` has a perfect-play value below the best."""
    return 100 * float(mistakes(values, np.where(mask, priors, -1).argmax(axis=1)).mean())


def main(argv: list[str] | None = None) -> int:
    """Print the per-set table and the summary line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default="connect_four", help="run dir, checkpoint or shipped model")
    args = parser.parse_args(argv)
    agent = load_agent(make_game("connect_four"), args.model, sims=1, mirror=False)
    game = agent.game  # as the net sees it (with the observation planes it was trained on)
    both = MirrorAveraged(agent.evaluator, game)
    data = load_pons()
    print(f"{'set':<14} {'positions':>9} {'net':>6} {'mirror':>7} {'mean':>6} {'agree':>6} {'|dv|':>6}")
    totals = np.zeros(3)
    for name, stage in SETS.items():
        if name not in data:
            continue
        values = data[name]["values"]  # [N, 7]: +1 win, 0 draw, -1 loss, -2 full column
        states = [game.state_from_moves(str(m)) for m in data[name]["moves"]]
        obs, mask = game.observations(states), np.stack([s.legal_mask() for s in states])
        priors, value, flipped, flipped_value, *_ = both.images(obs, mask)
        rates = np.array([mistake_rate(p, mask, values) for p in (priors, flipped, priors + flipped)])
        totals += rates
        agree = 100 * float((np.where(mask, priors, -1).argmax(1) == np.where(mask, flipped, -1).argmax(1)).mean())
        gap = float(np.abs(value - flipped_value).mean())
        print(
            f"{stage:<14} {len(states):>9} {rates[0]:>5.1f}% {rates[1]:>6.1f}% {rates[2]:>5.1f}% "
            f"{agree:>5.1f}% {gap:>6.3f}"
        )
    sets = sum(name in data for name in SETS)
    net_mean, mirror_mean, averaged = totals / max(sets, 1)
    print(
        f"mirror agreement of {args.model}: mean Pons mistakes, net alone {net_mean:.1f}% / mirror image "
        f"{mirror_mean:.1f}% / averaged {averaged:.1f}% over {sets} sets"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
