"""Players: spec strings, tactics every player must see, strength against random, and exact solving."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agents import AGENT_KINDS, make_agent, parse_spec
from envs import ArenaError, make_game

PONS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "connect4"


def play(game, first, second, state=None):
    """Play one game to the end; returns the final state."""
    state = state or game.initial_state()
    players = (first, second)
    for p in players:
        p.reset()
    while not state.is_terminal():
        state = state.apply(players[state.current_player()].act(state))
    return state


def score_against(game, agent_spec: str, opponent_spec: str, games: int) -> float:
    """Average result (+1 win, 0 draw, -1 loss) of agent_spec, alternating colours, seeded."""
    total = 0.0
    for i in range(games):
        agent = make_agent(with_seed(agent_spec, i), game)
        opp = make_agent(with_seed(opponent_spec, 100 + i), game)
        if i % 2 == 0:
            total += play(game, agent, opp).returns()[0]
        else:
            total += play(game, opp, agent).returns()[1]
    return total / games


# --- spec strings -----------------------------------------------------------------------------------------------


def test_spec_parsing_positional_and_typed_values():
    assert parse_spec("mcts:sims=1000,seed=3") == ("mcts", [], {"sims": 1000, "seed": 3})
    assert parse_spec("az:runs/c4/latest,sims=200,c=1.5,greedy=false") == (
        "az",
        ["runs/c4/latest"],
        {"sims": 200, "c": 1.5, "greedy": False},
    )
    assert parse_spec("random") == ("random", [], {})


def test_unknown_kind_and_key_name_the_valid_ones():
    game = make_game("connect_four")
    with pytest.raises(ArenaError, match="valid: random, greedy, minimax, mcts, solver"):
        make_agent("alphabeta:depth=3", game)
    with pytest.raises(ArenaError, match=r"unknown key 'dept'.*valid: depth, seed"):
        make_agent("minimax:dept=3", game)
    with pytest.raises(ArenaError, match="no solver for othello"):
        make_agent("solver", make_game("othello"))


@pytest.mark.parametrize("kind", list(AGENT_KINDS))
def test_every_classic_kind_plays_a_legal_move_by_its_bare_name(kind):
    game = make_game("tictactoe")
    state = game.state_from_moves("15")  # X in a corner, O in the centre
    action = make_agent(kind, game).act(state)
    assert state.legal_mask()[action]


def test_random_agent_is_deterministic_given_a_seed():
    game = make_game("gomoku", size=9)
    moves = [play(game, make_agent("random:seed=5", game), make_agent("random:seed=6", game)).moves for _ in "ab"]
    assert moves[0] == moves[1]


# --- tactics: win when you can, block when you must -------------------------------------------------------------


def with_seed(spec: str, seed: int = 0) -> str:
    """`spec` with `seed=...` added."""
    return f"{spec}{',' if ':' in spec else ':'}seed={seed}"


@pytest.mark.parametrize("spec", ["greedy", "minimax:depth=2", "minimax:depth=4", "mcts:sims=400"])
def test_players_take_an_immediate_connect_four_win(spec):
    game = make_game("connect_four")
    # X has 1 2 3 on the bottom row (O stacked on top): column 4 wins at once.
    state = game.state_from_moves("112233")
    assert make_agent(with_seed(spec), game).act(state) == 3


@pytest.mark.parametrize("spec", ["greedy", "minimax:depth=2", "minimax:depth=4", "mcts:sims=400"])
def test_players_block_a_connect_four_threat(spec):
    game = make_game("connect_four")
    # X has 5 6 7 on the bottom row, O two stones in column 2; O to move must block column 4.
    state = game.state_from_moves("52627")
    assert make_agent(with_seed(spec), game).act(state) == 3


@pytest.mark.parametrize("name", ["connect_four", "othello", "tictactoe"])
def test_greedy_never_hands_over_an_avoidable_immediate_win(name):
    from agents.classic import winning_moves

    game = make_game(name, **({"size": 6} if name == "othello" else {}))
    greedy, rng = make_agent("greedy:seed=0", game), np.random.default_rng(0)
    checked = 0
    for _ in range(60):
        state = game.initial_state()
        while not state.is_terminal():
            move = greedy.act(state)
            if not winning_moves(state):
                safe = [a for a in state.legal_actions() if not winning_moves(state.apply(a))]
                if safe:
                    assert move in safe, f"greedy gives a win away: {game.moves_to_text(state.moves)}"
                    checked += len(safe) < len(state.legal_actions())
            state = state.apply(int(rng.choice(state.legal_actions())))
    assert checked >= 5  # positions where a careless move would have lost at once


@pytest.mark.parametrize("spec", ["greedy", "minimax:depth=1", "minimax:depth=2"])
def test_players_take_and_block_gomoku_fives(spec):
    game = make_game("gomoku", size=9)
    # Black (to move) has d5 e5 f5 g5 open: it wins at c5 or h5.
    state = game.state_from_moves("d5 a1 e5 a2 f5 b9 g5 i9")
    agent = make_agent(with_seed(spec), game)
    assert game.action_to_text(agent.act(state)) in ("c5", "h5")
    # White (to move) faces black's four d5..g5 blocked at c5: it must take h5.
    state = game.state_from_moves("d5 c5 e5 a1 f5 a2 g5")
    assert game.action_to_text(agent.act(state)) == "h5"


def test_pure_mcts_finds_the_gomoku_win_with_enough_simulations():
    game = make_game("gomoku", size=9)
    state = game.state_from_moves("d5 a1 e5 a2 f5 b9 g5 i9")
    # Among 73 moves, random rollouts need about a thousand simulations to single out the winning ones.
    assert game.action_to_text(make_agent("mcts:sims=1000,seed=0", game).act(state)) in ("c5", "h5")


# --- strength ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("game_name", "options", "spec", "games", "at_least"),
    [
        ("tictactoe", {}, "minimax:depth=9", 10, 0.5),
        ("connect_four", {}, "minimax:depth=3", 10, 0.8),
        ("connect_four", {}, "mcts:sims=200", 6, 0.6),
        ("othello", {"size": 6}, "minimax:depth=2", 6, 0.6),
        ("gomoku", {"size": 9}, "minimax:depth=1", 4, 0.9),
    ],
)
def test_players_beat_random(game_name, options, spec, games, at_least):
    assert score_against(make_game(game_name, **options), spec, "random", games) >= at_least


def test_minimax_beats_greedy_at_connect_four():
    assert score_against(make_game("connect_four"), "minimax:depth=4", "greedy", 6) >= 0.6


# --- solvers ----------------------------------------------------------------------------------------------------


def test_tictactoe_solver_never_loses_and_draws_itself():
    game = make_game("tictactoe")
    assert score_against(game, "solver", "solver", 4) == 0
    for opp in ("random", "greedy", "mcts:sims=50"):
        for i in range(6):
            a, b = make_agent(f"solver:seed={i}", game), make_agent(with_seed(opp, i), game)
            s = play(game, a, b) if i % 2 == 0 else play(game, b, a)
            assert s.winner in (None, i % 2), f"solver lost to {opp}: {game.moves_to_text(s.moves)}"


def test_tictactoe_solver_values():
    game = make_game("tictactoe")
    solver = make_agent("solver", game)
    assert set(solver.move_values(game.initial_state()).values()) == {0}  # every first move draws
    state = game.state_from_moves("a1 b1")  # X a1, O b1 (an edge next to X): X wins
    assert max(solver.move_values(state).values()) > 0


def _pons_sample(name: str, n: int) -> list[tuple[str, int]]:
    if not PONS.exists():
        pytest.skip(f"Pons' test sets are not at {PONS} (a sibling ../shared/data/connect4 of the repo)")
    lines = (PONS / name).read_text().split("\n")[:n]
    return [(m, int(s)) for m, s in (line.split() for line in lines)]


@pytest.mark.parametrize("name", ["Test_L3_R1", "Test_L2_R1", "Test_L2_R2"])
def test_connect_four_solver_reproduces_pons_scores(name):
    from agents.c4_solver import HAVE_NUMBA, ConnectFourSolver

    game = make_game("connect_four")
    solver = ConnectFourSolver(tt_size=1_000_003)
    # Without numba the same search runs as plain Python, about 100x slower: fewer Middle-Medium positions.
    n = 5 if name == "Test_L2_R2" and not HAVE_NUMBA else 40
    for moves, score in _pons_sample(name, n):
        state = game.state_from_moves(moves)
        assert solver.solve(state.cur, state.mask) == score, moves
        assert solver.solve(state.cur, state.mask, weak=True) == np.sign(score), moves


def test_connect_four_solver_agent_wins_fastest_and_loses_slowest():
    game = make_game("connect_four")
    agent = make_agent("solver:seed=0", game)
    for moves, score in _pons_sample("Test_L3_R1", 10):
        state = game.state_from_moves(moves)
        values = agent.move_values(state)
        assert max(values.values()) == score
        assert values[agent.act(state)] == score


def test_connect_four_solver_beats_minimax_from_a_won_position():
    game = make_game("connect_four")
    # Middle-Easy position 1 of Pons' set: the side to move wins with perfect play.
    moves, score = _pons_sample("Test_L2_R1", 1)[0]
    state = game.state_from_moves(moves)
    assert score > 0
    me = state.current_player()
    solver, minimax = make_agent("solver:seed=0", game), make_agent("minimax:depth=4,seed=0", game)
    end = play(game, *((solver, minimax) if me == 0 else (minimax, solver)), state=state)
    assert end.winner == me
    # Pons' score says how fast: the winner plays 22 - score stones in all.
    winner_stones = (len(end.moves) + (1 if me == 0 else 0)) // 2
    assert winner_stones <= 22 - score
