"""Ratings from results whose answer is known, and SPRT on simulated games of known strength."""

import math

import numpy as np
import pytest

from agents.ratings import (
    elo_from_score,
    expected_score,
    fit_ratings,
    pair_elo,
    sprt_bounds,
    sprt_decision,
    sprt_llr,
)
from core.errors import ArenaError


def matrices(results: dict[tuple[int, int], tuple[int, int, int]], n: int):
    """(i, j) -> (wins of i, losses of i, draws) into score and game matrices."""
    scores, games = np.zeros((n, n)), np.zeros((n, n))
    for (i, j), (w, l, d) in results.items():
        scores[i, j] += w + d / 2
        scores[j, i] += l + d / 2
        games[i, j] += w + l + d
        games[j, i] += w + l + d
    return scores, games


def test_a_player_scoring_75_percent_is_190_8_elo_stronger():
    assert elo_from_score(0.75) == pytest.approx(190.85, abs=0.01)
    scores, games = matrices({(1, 0): (75, 25, 0)}, 2)
    ratings = fit_ratings(["random", "strong"], scores, games, prior_games=0)
    assert ratings.elo[1] - ratings.elo[0] == pytest.approx(190.85, abs=0.01)
    # draws count half: 50 wins and 50 draws is also 75%
    scores, games = matrices({(0, 1): (50, 0, 50)}, 2)
    ratings = fit_ratings(["a", "b"], scores, games, prior_games=0)
    assert ratings.elo[0] - ratings.elo[1] == pytest.approx(190.85, abs=0.01)


def test_symmetric_results_give_equal_ratings_and_an_even_los():
    results = {(0, 1): (30, 30, 40), (1, 2): (30, 30, 40), (0, 2): (30, 30, 40)}
    ratings = fit_ratings(["a", "b", "c"], *matrices(results, 3), anchor="b")
    np.testing.assert_allclose(ratings.elo, 0.0, atol=1e-9)
    assert ratings.los("a", "c") == pytest.approx(0.5)


def test_the_anchor_holds_its_value_and_has_no_error_bar():
    results = {(0, 1): (60, 40, 0), (1, 2): (70, 30, 0)}
    ratings = fit_ratings(["x", "random", "z"], *matrices(results, 3), anchor_elo=1000)
    assert ratings.anchor == "random" and ratings.elo[1] == 1000 and ratings.ci95[1] == 0
    assert ratings.elo[0] > 1000 > ratings.elo[2]
    assert all(ci > 0 for i, ci in enumerate(ratings.ci95) if i != 1)


def test_a_transitive_field_recovers_its_true_ratings():
    true = np.array([0.0, 200.0, 400.0])
    rng = np.random.default_rng(0)
    scores, games = np.zeros((3, 3)), np.zeros((3, 3))
    for i in range(3):
        for j in range(i + 1, 3):
            wins = rng.binomial(4000, expected_score(true[i] - true[j]))
            scores[i, j], scores[j, i] = wins, 4000 - wins
            games[i, j] = games[j, i] = 4000
    ratings = fit_ratings(["random", "b", "c"], scores, games)
    np.testing.assert_allclose(ratings.elo, true, atol=2.5 * ratings.ci95.max())
    assert ratings.order() == [2, 1, 0] and ratings.los("c", "b") > 0.99


def test_perfect_scores_stay_finite_with_the_prior_and_disconnected_players_are_refused():
    scores, games = matrices({(0, 1): (0, 20, 0)}, 2)
    ratings = fit_ratings(["random", "minimax"], scores, games)
    assert math.isfinite(ratings.elo[1]) and ratings.elo[1] > 400
    scores, games = matrices({(0, 1): (5, 5, 0)}, 3)
    with pytest.raises(ArenaError, match="cannot rate c: no chain of games links them to a"):
        fit_ratings(["a", "b", "c"], scores, games)


def test_cutechess_lines():
    pair = pair_elo(wins=110, losses=46, draws=44)
    assert pair.lines("A", "B")[0] == "Score of A vs B: 110 - 46 - 44 [0.660] 200"
    elo_line = pair.lines("A", "B")[1]
    assert elo_line.startswith("Elo difference: 115.") and elo_line.endswith("LOS: 100.0 %")
    assert 35 < pair.margin < 60


def test_sprt_bounds_for_5_percent_errors():
    lower, upper = sprt_bounds(0.05, 0.05)
    assert (round(lower, 2), round(upper, 2)) == (-2.94, 2.94)


@pytest.mark.parametrize(("true_elo", "expected"), [(60.0, "H1"), (-30.0, "H0")])
def test_sprt_on_simulated_games_accepts_the_right_hypothesis(true_elo, expected):
    rng = np.random.default_rng(7)
    draw_rate = 0.3
    right = 0
    for _ in range(40):
        wins = losses = draws = 0
        decision = None
        while decision is None and wins + losses + draws < 20_000:
            if rng.random() < draw_rate:
                draws += 1
            elif rng.random() < (expected_score(true_elo) - draw_rate / 2) / (1 - draw_rate):
                wins += 1
            else:
                losses += 1
            decision = sprt_decision(sprt_llr(wins, losses, draws, 0, 30), 0.05, 0.05)
        right += decision == expected
    assert right >= 36  # at least 90% of the runs; the error rates allow 5%


def llr_path(outcome: str, games: int) -> list[float]:
    """The LLR (H0: +0 Elo, H1: +30) after each game of a run of one outcome."""
    counts = {"win": 0, "loss": 0, "draw": 0}
    path = []
    for _ in range(games):
        counts[outcome] += 1
        path.append(sprt_llr(counts["win"], counts["loss"], counts["draw"], 0, 30))
    return path


@pytest.mark.parametrize(
    ("outcome", "expected", "decided_by"),
    [("win", "H1", 36), ("loss", "H0", 33), ("draw", "H0", 33)],
)
def test_sprt_moves_on_a_run_of_one_outcome_and_decides(outcome, expected, decided_by):
    # the normal approximation's variance is 0 with one outcome only: its LLR stayed 0.00 through 14 wins
    path = llr_path(outcome, 60)
    steps = np.diff(path)
    assert (steps > 0).all() if outcome == "win" else (steps < 0).all()
    decisions = [sprt_decision(llr, 0.05, 0.05) for llr in path]
    first = next(i for i, d in enumerate(decisions) if d is not None) + 1
    assert decisions[first - 1] == expected and first == decided_by
    # each win is worth log(s1 / s0): the likelihood ratio of the best trinomials of those expected scores
    if outcome == "win":
        assert path[13] == pytest.approx(14 * math.log(expected_score(30) / 0.5), rel=1e-3)


def test_one_draw_after_a_run_of_wins_moves_the_llr_a_little_not_by_twenty():
    before, after = sprt_llr(14, 0, 0, 0, 30), sprt_llr(14, 0, 1, 0, 30)
    assert 1.0 < before < after < before + 0.2


def test_elo_of_a_one_sided_match_is_said_in_words_or_bounded():
    assert pair_elo(14, 0, 0).lines("A", "B")[1] == "Elo difference: undefined (all wins), LOS: 100.0 %"
    assert pair_elo(0, 3, 0).lines("A", "B")[1].startswith("Elo difference: undefined (all losses),")
    nine_one = pair_elo(9, 1, 0).lines("A", "B")[1]
    assert nine_one.startswith("Elo difference: 381.7 (95% interval unbounded, above ")
    assert "inf" not in nine_one
