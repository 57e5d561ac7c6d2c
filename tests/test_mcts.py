"""Batched PUCT search from hand-built positions: wins, blocks, masks, priors, and batch = single game."""

import numpy as np
import pytest

from agents.mcts import BatchedMCTS, SearchConfig, sample_action, uniform_evaluator, visit_policy
from envs import make_game

C4 = make_game("connect_four")


def search(states, simulations=400, evaluator=None, **config):
    mcts = BatchedMCTS(
        evaluator or uniform_evaluator(C4.num_actions),
        C4.num_actions,
        SearchConfig(simulations=simulations, **config),
        np.random.default_rng(0),
    )
    mcts.reset(states)
    return mcts, mcts.search()


def test_finds_a_win_in_one():
    # X (first) has three on the bottom row; columns 3 and 7 win at once
    state = C4.state_from_moves("445566")
    _, visits = search([state], 200)
    assert int(visits[0].argmax()) in (2, 6)


def test_finds_a_win_in_two_by_a_double_threat():
    # X on columns 3-4 of the bottom row, both ends open: column 2 or 5 makes two threats O cannot both stop
    state = C4.state_from_moves("3344")
    _, visits = search([state], 2000)
    assert int(visits[0].argmax()) in (1, 4)


def test_blocks_the_opponents_threat():
    # O (to move second) must block column 4's vertical three: X has played 4, 4, 4 with O elsewhere
    state = C4.state_from_moves("41424")
    _, visits = search([state], 600)
    assert int(visits[0].argmax()) == 3


def test_never_visits_an_illegal_move():
    state = C4.state_from_moves("444444")  # column 4 is full
    mcts, visits = search([state], 300)
    assert visits[0, 3] == 0 and not mcts.legal[0, 0, 3]
    assert visits[0].sum() == 300


def test_visits_follow_the_priors_when_every_value_is_flat():
    priors = np.array([0.4, 0.2, 0.1, 0.1, 0.1, 0.05, 0.05], np.float32)

    def flat(obs, mask):
        return np.tile(priors, (len(obs), 1)), np.zeros(len(obs), np.float32)

    _, visits = search([C4.initial_state()], 800, flat, fpu_reduction=0.0)
    np.testing.assert_allclose(visits[0] / visits[0].sum(), priors, atol=0.02)


def test_a_batch_of_games_searches_each_exactly_as_alone():
    states = [C4.state_from_moves(m) for m in ("", "4", "445566", "3344", "1234567")]
    _, together = search(states, 150)
    for g, state in enumerate(states):
        _, alone = search([state], 150)
        np.testing.assert_array_equal(together[g], alone[0])


def test_terminal_values_are_exact_and_seen_from_the_side_to_move():
    state = C4.state_from_moves("445566")
    mcts, _ = search([state], 300)
    winning_child = mcts.children[0, 0, 2]
    assert mcts.terminal[0, winning_child] and mcts.node_value[0, winning_child] == -1.0  # the side to move lost
    assert mcts.root_values()[0] > 0.5


def test_tree_reuse_keeps_the_chosen_subtree():
    mcts, visits = search([C4.state_from_moves("3344")], 500)
    action = int(visits[0].argmax())
    child_visits = mcts.visits[0, mcts.children[0, 0, action]].copy()
    mcts.advance(0, action)
    np.testing.assert_array_equal(mcts.visits[0, 0], child_visits)
    assert mcts.states[0][0].moves == (2, 2, 3, 3, action)
    again = mcts.search(100)
    assert again[0].sum() == child_visits.sum() + 100


def test_dirichlet_noise_spreads_root_visits():
    _, plain = search([C4.initial_state()], 200)
    _, noisy = search([C4.initial_state()], 200, dirichlet_fraction=0.5, dirichlet_alpha=0.3)
    assert not np.array_equal(plain, noisy)


def test_temperature():
    visits = np.array([10.0, 30.0, 60.0])
    np.testing.assert_allclose(visit_policy(visits, 1.0), [0.1, 0.3, 0.6])
    np.testing.assert_array_equal(visit_policy(visits, 0.0), [0, 0, 1])
    assert sample_action(visits, 0.0, np.random.default_rng(0)) == 2


@pytest.mark.parametrize("game_name", ["tictactoe", "othello"])
def test_search_runs_on_other_games_with_passes_and_squares(game_name):
    game = make_game(game_name)
    mcts = BatchedMCTS(
        uniform_evaluator(game.num_actions), game.num_actions, SearchConfig(64), np.random.default_rng(1)
    )
    state = game.initial_state()
    mcts.reset([state, state])
    for _ in range(6):
        visits = mcts.search()
        for g in range(2):
            action = int(visits[g].argmax())
            assert mcts.legal[g, 0, action]
            mcts.advance(g, action)


@pytest.mark.parametrize("game_name", ["connect_four", "tictactoe", "othello", "gomoku"])
def test_batched_observations_equal_the_one_by_one_planes(game_name):
    game = make_game(game_name)
    rng = np.random.default_rng(0)
    states = []
    for _ in range(20):
        state = game.initial_state()
        for _ in range(int(rng.integers(0, 12))):
            if state.is_terminal():
                break
            state = state.apply(int(rng.choice(state.legal_actions())))
        states.append(state)
    np.testing.assert_array_equal(game.observations(states), np.stack([s.observation() for s in states]))
