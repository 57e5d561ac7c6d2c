"""Elo ratings with error bars: a Bradley-Terry maximum-likelihood fit over all games, plus pairwise figures.

The model: player i scores against player j with probability `1 / (1 + 10 ** ((r_j - r_i) / 400))`; a draw
counts as half a win and half a loss (as Ordo and cutechess do). Ratings maximise the likelihood of every
game at once (Newton's method), so a player is rated by all its opponents, not by pairs alone; one player is
anchored (`random=0` by default). The covariance is the inverse of the observed information, which gives 95%
intervals and the likelihood of superiority (LOS) of any player over any other.

A player that won (or lost) every game has no finite maximum-likelihood rating. `prior_games` adds that many
virtual drawn games to every pair that met (BayesElo's device), which keeps such ratings finite and barely
moves the others; set it to 0 for the pure fit.

>>> pair_elo(wins=75, losses=25, draws=0).elo
190.848...
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.errors import ArenaError

ELO_PER_NAT = 400 / math.log(10)
"""Elo points per natural-log unit of odds: r = ELO_PER_NAT * theta."""
Z95 = 1.959963984540054


def expected_score(elo_difference: float) -> float:
    """The logistic expected score of a player rated `elo_difference` above its opponent."""
    return 1.0 / (1.0 + 10.0 ** (-elo_difference / 400.0))


def elo_from_score(score: float) -> float:
    """The Elo difference that makes `score` (0..1) the expected score; +-inf at 1 and 0."""
    if score <= 0.0:
        return -math.inf
    if score >= 1.0:
        return math.inf
    return -400.0 * math.log10(1.0 / score - 1.0)


def normal_cdf(x: float) -> float:
    """The standard normal CDF."""
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


@dataclass(frozen=True)
class PairResult:
    """One pair's match as cutechess reports it: score, Elo difference with a 95% margin, and LOS."""

    wins: int
    losses: int
    draws: int
    score: float
    elo: float
    margin: float
    los: float

    @property
    def games(self) -> int:
        """Games played."""
        return self.wins + self.losses + self.draws

    def elo_text(self) -> str:
        """The Elo difference for people: `+190.8 +/- 81.2`, a one-sided bound when the interval reaches a 0 or
        100% score, or `undefined (all wins)` where no finite estimate exists."""
        if not math.isfinite(self.elo):  # a score of exactly 1 or 0
            return "undefined (all wins)" if self.elo > 0 else "undefined (all losses)"
        if math.isfinite(self.margin):
            return f"{self.elo + 0.0:.1f} +/- {self.margin:.1f}"  # + 0.0: no "-0.0" for an even match
        low, high = self.interval()
        bounds = f"above {low:.0f}" if math.isfinite(low) else (f"below {high:.0f}" if math.isfinite(high) else "")
        return f"{self.elo:.1f} (95% interval unbounded{', ' + bounds if bounds else ''})"

    def interval(self) -> tuple[float, float]:
        """The 95% interval of the Elo difference, from the score's normal interval (an end may be infinite)."""
        stderr = math.sqrt(self.variance / self.games) if self.games else math.inf
        low, high = self.score - Z95 * stderr, self.score + Z95 * stderr
        return elo_from_score(low), elo_from_score(high)

    @property
    def variance(self) -> float:
        """Per-game variance of the score."""
        s = self.score
        return (self.wins * (1 - s) ** 2 + self.losses * s**2 + self.draws * (0.5 - s) ** 2) / max(self.games, 1)

    def lines(self, a: str, b: str) -> list[str]:
        """The two cutechess-style lines for A vs B."""
        return [
            f"Score of {a} vs {b}: {self.wins} - {self.losses} - {self.draws} [{self.score:.3f}] {self.games}",
            f"Elo difference: {self.elo_text()}, LOS: {100 * self.los:.1f} %",
        ]


def pair_elo(wins: int, losses: int, draws: int) -> PairResult:
    """Score, Elo difference, its 95% margin (from the per-game score variance) and LOS of one match."""
    games = wins + losses + draws
    if games == 0:
        raise ArenaError("no games between this pair")
    score = (wins + 0.5 * draws) / games
    variance = (wins * (1 - score) ** 2 + losses * score**2 + draws * (0.5 - score) ** 2) / games
    stderr = math.sqrt(variance / games)
    low, high = score - Z95 * stderr, score + Z95 * stderr
    margin = (elo_from_score(high) - elo_from_score(low)) / 2 if low > 0 and high < 1 else math.inf
    decisive = wins + losses
    los = normal_cdf((wins - losses) / math.sqrt(decisive)) if decisive else 0.5
    return PairResult(wins, losses, draws, score, elo_from_score(score), margin, los)


@dataclass(frozen=True)
class Ratings:
    """Fitted ratings: `elo[i]` for `players[i]`, the 95% half-width `ci95[i]`, and the full covariance."""

    players: tuple[str, ...]
    elo: np.ndarray  # [P]
    ci95: np.ndarray  # [P], 0 for the anchor
    covariance: np.ndarray  # [P, P] in Elo^2
    anchor: str

    def los(self, a: str, b: str) -> float:
        """Likelihood that `a` is stronger than `b`, from the fitted ratings and their covariance."""
        i, j = self.players.index(a), self.players.index(b)
        variance = self.covariance[i, i] + self.covariance[j, j] - 2 * self.covariance[i, j]
        if variance <= 0:
            return 0.5 if self.elo[i] == self.elo[j] else float(self.elo[i] > self.elo[j])
        return normal_cdf((self.elo[i] - self.elo[j]) / math.sqrt(variance))

    def order(self) -> list[int]:
        """Player indices from strongest to weakest."""
        return sorted(range(len(self.players)), key=lambda i: -self.elo[i])


def fit_ratings(
    players: Sequence[str],
    scores: np.ndarray,
    games: np.ndarray,
    *,
    anchor: str | None = None,
    anchor_elo: float = 0.0,
    prior_games: float = 1.0,
) -> Ratings:
    """Bradley-Terry maximum likelihood Elo from `scores[i, j]` (points i took from j) and `games[i, j]`."""
    players = tuple(players)
    n = len(players)
    scores = np.asarray(scores, dtype=np.float64)
    games = np.asarray(games, dtype=np.float64)
    if scores.shape != (n, n) or games.shape != (n, n):
        raise ArenaError(f"scores and games must be [{n}, {n}] for {n} players, got {scores.shape} and {games.shape}")
    if anchor is None:
        anchor = "random" if "random" in players else players[0]
    if anchor not in players:
        raise ArenaError(f"anchor '{anchor}' is not among the players: {', '.join(players)}")
    _check_connected(players, games)
    met = games > 0
    games = games + prior_games * met
    scores = scores + 0.5 * prior_games * met
    fixed = players.index(anchor)
    free = [i for i in range(n) if i != fixed]
    theta = np.zeros(n)
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(theta[None, :] - theta[:, None]))  # [P, P] chance i scores against j
        gradient = (scores - games * p).sum(axis=1)
        weights = games * p * (1 - p)
        information = np.diag(weights.sum(axis=1)) - weights  # [P, P] observed information
        step = np.linalg.solve(information[np.ix_(free, free)], gradient[free])
        step = np.clip(step, -2.0, 2.0)  # damp the first steps when a player is far from the rest
        theta[free] += step
        if np.abs(step).max() < 1e-10:
            break
    p = 1.0 / (1.0 + np.exp(theta[None, :] - theta[:, None]))
    weights = games * p * (1 - p)
    information = np.diag(weights.sum(axis=1)) - weights
    covariance = np.zeros((n, n))
    covariance[np.ix_(free, free)] = np.linalg.inv(information[np.ix_(free, free)]) * ELO_PER_NAT**2
    elo = theta * ELO_PER_NAT + anchor_elo
    ci95 = Z95 * np.sqrt(np.diag(covariance))
    return Ratings(players, elo, ci95, covariance, anchor)


def _check_connected(players: tuple[str, ...], games: np.ndarray) -> None:
    reached = {0}
    frontier = [0]
    while frontier:
        i = frontier.pop()
        for j in np.flatnonzero((games[i] + games[:, i]) > 0):
            if int(j) not in reached:
                reached.add(int(j))
                frontier.append(int(j))
    if len(reached) < len(players):
        apart = [players[i] for i in range(len(players)) if i not in reached]
        raise ArenaError(f"cannot rate {', '.join(apart)}: no chain of games links them to {players[0]}")


# ---------------------------------------------------------------------------------------------------------------
# SPRT: is the candidate `elo1` stronger (H1) or only `elo0` (H0)? Stop as soon as the evidence says.


def sprt_bounds(alpha: float, beta: float) -> tuple[float, float]:
    """Wald's log-likelihood-ratio bounds (lower accepts H0, upper accepts H1): +-2.94 for 5%/5%."""
    return math.log(beta / (1 - alpha)), math.log((1 - beta) / alpha)


SPRT_PRIOR = 1e-3
"""Counts given to outcomes not seen yet (fishtest's regularisation): the likelihoods stay defined with no draws,
no losses or no wins, and the LLR still moves on a run of one outcome."""


def sprt_llr(wins: int, losses: int, draws: int, elo0: float, elo1: float) -> float:
    """The generalised SPRT log-likelihood ratio of H1 (`elo1`) over H0 (`elo0`) from trinomial results.

    As fishtest does: the outcome frequencies (an outcome not seen yet counts `SPRT_PRIOR` games) are compared
    with the trinomial of highest likelihood whose expected score is that of `elo0`, and of `elo1`; the LLR is
    the games times the difference of their log-likelihoods. Unlike the normal approximation
    `n (s1 - s0) (2 s - s0 - s1) / (2 v)`, it stays right when the variance `v` is (near) zero: 14 wins out of
    14 give 14 log(s1 / s0), not 0 or a huge number.
    """
    games = wins + losses + draws
    if games == 0:
        return 0.0
    counts = [float(c) if c else SPRT_PRIOR for c in (losses, draws, wins)]
    observed = [c / sum(counts) for c in counts]
    p0 = _closest_trinomial(observed, expected_score(elo0))
    p1 = _closest_trinomial(observed, expected_score(elo1))
    return games * sum(o * (math.log(b) - math.log(a)) for o, a, b in zip(observed, p0, p1, strict=True))


def _closest_trinomial(observed: list[float], mean: float) -> list[float]:
    """The distribution over (loss, draw, win) with expected score `mean` that makes `observed` most likely.

    Lagrange: p_i = observed_i / (1 + x c_i) with c_i = score_i - mean, where x solves
    f(x) = sum observed_i c_i / (1 + x c_i) = 0 (then the p_i sum to 1 too). f decreases strictly from +inf to
    -inf between the poles -1/max(c) and -1/min(c): Newton's steps, kept inside a bracket by bisection.
    """
    centred = (-mean, 0.5 - mean, 1.0 - mean)  # mean is strictly inside (0, 1): max(c) > 0 > min(c)
    low, high = -1.0 / centred[2], -1.0 / centred[0]
    x = 0.0
    for _ in range(200):
        f = sum(o * c / (1.0 + x * c) for o, c in zip(observed, centred, strict=True))
        slope = -sum(o * c * c / (1.0 + x * c) ** 2 for o, c in zip(observed, centred, strict=True))
        low, high = (x, high) if f > 0 else (low, x)
        newton = x - f / slope
        following = newton if low < newton < high else 0.5 * (low + high)
        if abs(following - x) <= 1e-15 * max(1.0, abs(x)):
            break
        x = following
    p = [o / (1.0 + x * c) for o, c in zip(observed, centred, strict=True)]
    return [q / sum(p) for q in p]


def sprt_decision(llr: float, alpha: float, beta: float) -> str | None:
    """'H1' or 'H0' once the LLR crosses a bound, None while the test goes on."""
    lower, upper = sprt_bounds(alpha, beta)
    if llr >= upper:
        return "H1"
    if llr <= lower:
        return "H0"
    return None
