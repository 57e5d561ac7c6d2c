"""Batched search from hand-built positions: PUCT, Gumbel and the solver find wins and blocks, respect masks,
follow priors, and a batch of games searches each game exactly as alone."""

import numpy as np
import pytest

from agents.mcts import (
    BatchedMCTS,
    SearchConfig,
    considered_visits,
    sample_action,
    uniform_evaluator,
    visit_policy,
)
from envs import GAMES, make_game

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


@pytest.mark.parametrize("kind", ["puct", "gumbel"])
@pytest.mark.parametrize("solver", [False, True])
def test_finds_a_win_in_one(kind, solver):
    # X (first) has three on the bottom row; columns 3 and 7 win at once
    state = C4.state_from_moves("445566")
    _, result = search([state], 16, kind=kind, solver=solver)
    assert int(result.action[0]) in (2, 6)


@pytest.mark.parametrize("kind", ["puct", "gumbel"])
def test_finds_a_win_in_two_by_a_double_threat(kind):
    # X on columns 3-4 of the bottom row, both ends open: column 2 or 5 makes two threats O cannot both stop
    state = C4.state_from_moves("3344")
    _, result = search([state], 2000, kind=kind, solver=False)
    assert int(result.action[0]) in (1, 4)


@pytest.mark.parametrize("kind", ["puct", "gumbel"])
def test_blocks_the_opponents_threat(kind):
    # O (to move second) must block column 4's vertical three: X has played 4, 4, 4 with O elsewhere
    state = C4.state_from_moves("41424")
    _, result = search([state], 600, kind=kind, solver=False)
    assert int(result.action[0]) == 3


@pytest.mark.parametrize("kind", ["puct", "gumbel"])
def test_never_visits_an_illegal_move(kind):
    state = C4.state_from_moves("444444")  # column 4 is full
    mcts, result = search([state], 300, kind=kind, solver=False)
    assert result.visits[0, 3] == 0 and result.policy[0, 3] == 0 and not mcts.legal[0, 0, 3]
    assert result.visits[0].sum() == 300
    np.testing.assert_allclose(result.policy[0].sum(), 1.0, rtol=1e-5)


def test_visits_follow_the_priors_when_every_value_is_flat():
    priors = np.array([0.4, 0.2, 0.1, 0.1, 0.1, 0.05, 0.05], np.float32)

    def flat(obs, mask):
        return np.tile(priors, (len(obs), 1)), np.zeros(len(obs), np.float32)

    _, result = search([C4.initial_state()], 800, flat, fpu_reduction=0.0)
    np.testing.assert_allclose(result.visits[0] / result.visits[0].sum(), priors, atol=0.02)


def test_a_batch_of_games_searches_each_exactly_as_alone():
    states = [C4.state_from_moves(m) for m in ("", "4", "445566", "3344", "1234567")]
    for kind in ("puct", "gumbel"):  # no Gumbel noise: its draws would depend on the batch
        _, together = search(states, 150, kind=kind, gumbel_scale=0.0)
        for g, state in enumerate(states):
            _, alone = search([state], 150, kind=kind, gumbel_scale=0.0)
            np.testing.assert_array_equal(together.visits[g], alone.visits[0])
            np.testing.assert_array_equal(together.policy[g], alone.policy[0])


@pytest.mark.parametrize("kind", ["puct", "gumbel"])
def test_root_noise_can_be_asked_for_per_game(kind):
    states = [C4.state_from_moves(m) for m in ("", "4", "3344")]
    config = SearchConfig(simulations=64, kind=kind, dirichlet_fraction=0.5, dirichlet_alpha=0.3)

    def visits(noise):
        mcts = BatchedMCTS(uniform_evaluator(C4.num_actions), C4.num_actions, config, np.random.default_rng(3))
        mcts.reset(states)
        return mcts.search(noise=noise).visits

    quiet, noisy, mixed = visits(False), visits(True), visits(np.array([True, False, True]))
    np.testing.assert_array_equal(mixed[1], quiet[1])  # the game without noise searched as with none at all
    assert not np.array_equal(mixed[[0, 2]], quiet[[0, 2]]) and not np.array_equal(noisy, quiet)


def test_terminal_values_are_exact_and_seen_from_the_side_to_move():
    state = C4.state_from_moves("445566")
    mcts, _ = search([state], 300, solver=False)
    winning_child = mcts.children[0, 0, 2]
    assert mcts.terminal[0, winning_child] and mcts.node_value[0, winning_child] == -1.0  # the side to move lost
    assert mcts.root_values()[0] > 0.5


def test_tree_reuse_keeps_the_chosen_subtree():
    mcts, result = search([C4.state_from_moves("3344")], 500, solver=False)
    action = int(result.action[0])
    child_visits = mcts.visits[0, mcts.children[0, 0, action]].copy()
    mcts.advance(0, action)
    np.testing.assert_array_equal(mcts.visits[0, 0], child_visits)
    assert mcts.states[0][0].moves == (2, 2, 3, 3, action)
    again = mcts.search(100)
    assert again.visits[0].sum() == child_visits.sum() + 100


def test_tree_reuse_keeps_every_link_between_parents_and_children():
    mcts, _ = search([C4.state_from_moves(m) for m in ("", "3344", "41")], 300, kind="gumbel")
    for _ in range(6):
        for g in range(3):
            used = int(mcts.num_nodes[g])
            assert mcts.parent[g, 0] == -1 and (mcts.parent[g, used:] == -1).all()
            assert (mcts.visits[g, used:] == 0).all() and np.isnan(mcts.proven[g, used:]).all()
            for node in range(1, used):
                parent, action = mcts.parent[g, node], mcts.parent_action[g, node]
                assert mcts.children[g, parent, action] == node
                assert mcts.states[g][node].moves == (*mcts.states[g][parent].moves, action)
        result = mcts.search(50)
        for g in np.flatnonzero(~mcts.terminal[:, 0]):
            mcts.advance(g, int(result.action[g]))


def test_dirichlet_noise_spreads_root_visits():
    _, plain = search([C4.initial_state()], 200)
    _, noisy = search([C4.initial_state()], 200, dirichlet_fraction=0.5, dirichlet_alpha=0.3)
    assert not np.array_equal(plain.visits, noisy.visits)


def test_temperature():
    visits = np.array([10.0, 30.0, 60.0])
    np.testing.assert_allclose(visit_policy(visits, 1.0), [0.1, 0.3, 0.6])
    np.testing.assert_array_equal(visit_policy(visits, 0.0), [0, 0, 1])
    assert sample_action(visits, 0.0, np.random.default_rng(0)) == 2


@pytest.mark.parametrize("game_name", ["tictactoe", "othello"])
def test_search_runs_on_other_games_with_passes_and_squares(game_name):
    game = make_game(game_name)
    for kind in ("puct", "gumbel"):
        config = SearchConfig(64, kind=kind)
        mcts = BatchedMCTS(uniform_evaluator(game.num_actions), game.num_actions, config, np.random.default_rng(1))
        state = game.initial_state()
        mcts.reset([state, state])
        for _ in range(6):
            result = mcts.search()
            for g in range(2):
                action = int(result.action[g])
                assert mcts.legal[g, 0, action] and result.policy[g, ~mcts.legal[g, 0]].sum() == 0
                mcts.advance(g, action)


@pytest.mark.parametrize("game_name", list(GAMES))
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


# -- PUCT without the solver is the search it always was -----------------------------------------------------


def test_puct_without_the_solver_reproduces_the_reference_visits():
    """Visit counts recorded from the PUCT search before Gumbel and the solver were added (same seed, same tree)."""
    _, result = search([C4.state_from_moves("3344"), C4.state_from_moves("41424")], 300, solver=False)
    np.testing.assert_array_equal(result.visits[0], [10, 245, 9, 9, 9, 9, 9])
    np.testing.assert_array_equal(result.visits[1], [9, 9, 9, 246, 9, 9, 9])


def test_gumbel_with_the_solver_and_tree_reuse_reproduces_the_numpy_trees_visits():
    """Recorded from the numpy tree the compiled kernels replaced: same noise, a fixed linear net, a reused tree."""
    weights = np.random.default_rng(42).normal(size=(84, 8)).astype(np.float32)

    def linear(obs, mask):
        out = obs.reshape(len(obs), -1) @ weights
        logits = np.where(mask, out[:, :7], -np.inf)
        priors = np.exp(logits - logits.max(axis=1, keepdims=True))
        return priors / priors.sum(axis=1, keepdims=True), np.tanh(out[:, 7] / 4)

    config = SearchConfig(simulations=48, kind="gumbel", max_considered=4)
    mcts = BatchedMCTS(linear, C4.num_actions, config, np.random.default_rng(7))
    mcts.reset([C4.state_from_moves(moves) for moves in ("", "4453", "334")])
    first = mcts.search()
    np.testing.assert_array_equal(
        first.visits, [[6, 0, 0, 18, 6, 0, 18], [6, 0, 0, 0, 18, 18, 6], [0, 6, 18, 0, 18, 0, 6]]
    )
    assert first.action.tolist() == [3, 5, 2]
    for g in range(3):
        mcts.advance(g, int(first.action[g]))
    second = mcts.search()
    np.testing.assert_array_equal(
        second.visits, [[6, 1, 31, 19, 0, 6, 2], [6, 0, 18, 6, 35, 0, 0], [18, 0, 18, 21, 6, 0, 2]]
    )
    assert second.action.tolist() == [3, 2, 0]
    np.testing.assert_allclose(second.policy[0], [0.0956, 0.0003, 0.0823, 0.6424, 0.0063, 0.1670, 0.0060], atol=1e-4)


# -- Gumbel ------------------------------------------------------------------------------------------------------


def test_sequential_halving_splits_the_budget_and_halves_the_field():
    schedule = considered_visits(4, 16)
    assert schedule == (0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5)
    assert considered_visits(1, 5) == (0, 1, 2, 3, 4)
    assert len(considered_visits(16, 200)) == 200


def test_gumbel_considers_at_most_m_actions_and_the_target_covers_legal_moves_only():
    state = C4.state_from_moves("444444")  # column 4 full: six legal moves
    mcts, result = search([state], 32, kind="gumbel", max_considered=4, solver=False)
    assert (result.visits[0] > 0).sum() == 4
    assert result.policy[0, 3] == 0 and (result.policy[0][mcts.legal[0, 0]] > 0).all()


def test_gumbel_target_is_the_softmax_of_logits_plus_sigma_of_completed_q():
    priors = np.array([0.4, 0.2, 0.1, 0.1, 0.1, 0.05, 0.05], np.float32)

    def flat(obs, mask):
        return np.tile(priors, (len(obs), 1)), np.zeros(len(obs), np.float32)

    # every value zero: completed Q is flat, sigma adds the same to every move, so the target is the prior
    _, result = search([C4.initial_state()], 16, flat, kind="gumbel", solver=False)
    np.testing.assert_allclose(result.policy[0], priors, rtol=1e-4)


def test_gumbel_with_16_simulations_finds_the_win_a_net_points_at():
    """A net that likes the winning column a little: 16 simulations and the improved policy back it up."""

    def hint(obs, mask):
        priors = np.where(mask, 1.0, 0.0)
        priors[:, 6] += 0.5
        return (priors / priors.sum(axis=1, keepdims=True)).astype(np.float32), np.zeros(len(obs), np.float32)

    _, result = search([C4.state_from_moves("445566")], 16, hint, kind="gumbel", solver=False)
    assert int(result.action[0]) in (2, 6)
    assert result.policy[0, 2] + result.policy[0, 6] > 0.9


# -- the solver --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["puct", "gumbel"])
def test_the_solver_proves_a_forced_win_in_three_and_stops_searching(kind):
    # X to move: column 2 or 5 makes a double threat (win in 3 plies); the root is a proven win, value exactly 1
    mcts, result = search([C4.state_from_moves("3344")], 2000, kind=kind)
    assert mcts.proven[0, 0] == 1.0 and result.value[0] == 1.0 and result.proven[0]
    assert int(result.action[0]) in (1, 4)
    assert result.policy[0, [1, 4]].sum() == pytest.approx(1.0)
    assert result.visits[0].sum() < 2000  # a solved root spends no more simulations


def test_the_solver_proves_a_loss_and_never_plays_a_proven_losing_move():
    # O to move with X threatening column 4: every move but 4 loses at once
    mcts, result = search([C4.state_from_moves("41424")], 16, kind="gumbel")
    assert int(result.action[0]) == 3
    losing = mcts._child_proofs(np.array([0]), np.array([0]))[0]
    assert np.all(losing[np.arange(7) != 3][~np.isnan(losing[np.arange(7) != 3])] == -1.0)


@pytest.mark.parametrize("kind", ["puct", "gumbel"])
def test_a_double_threat_against_the_side_to_move_is_a_proven_loss(kind):
    # X holds columns 2-4 of the bottom row with 1 and 5 open; O, to move, can block only one
    mcts, result = search([C4.state_from_moves("33442")], 400, kind=kind)
    assert mcts.proven[0, 0] == -1.0 and result.value[0] == -1.0


def test_searching_agents_say_what_they_thought():
    """`last_search` (read by `arena serve`): visit shares over legal moves, a winning value, the proof if any."""
    from algorithms.registry import make_agent

    state = C4.state_from_moves("445566")  # columns 3 and 7 win at once for the side to move
    for spec in ("mcts:sims=300,seed=1", "az:connect_four,sims=32"):
        agent = make_agent(spec, C4)
        action = agent.act(state)
        shares = np.asarray(agent.last_search["visits"])
        assert action in (2, 6) and shares.sum() == pytest.approx(1.0) and shares[[2, 6]].sum() >= 0.5
        assert agent.last_search["value"] > 0.5
    assert agent.last_search["proven"] == 1.0  # the solver saw the win in one; search stopped there


# -- contempt ----------------------------------------------------------------------------------------------------


def first_move_judge(obs, mask):
    """A net after X's first move on an empty board, seen from the side to move (O): column 1 is a sure draw
    (value 0, draw 1), column 7 a slightly worse game either side can still lose (X -0.1, draw 0), any other
    column bad for X (-0.5, draw 0)."""
    opponent = obs[:, 1, -1]  # [L, 7] X's stones on the bottom row, from O's side
    x_value = np.where(opponent[:, 0] > 0, 0.0, np.where(opponent[:, 6] > 0, -0.1, -0.5))
    draws = np.where(opponent[:, 0] > 0, 1.0, 0.0)
    priors = mask / mask.sum(axis=1, keepdims=True)
    return priors.astype(np.float32), (-x_value).astype(np.float32), draws.astype(np.float32)


@pytest.mark.parametrize(("contempt", "played", "column_one_q"), [(0.0, 0, 0.0), (0.3, 6, -0.3)])
def test_contempt_trades_a_sure_draw_for_a_line_the_opponent_can_still_lose(contempt, played, column_one_q):
    # Gumbel with 7 simulations and 7 considered actions visits each first move once: Q is the judge's value
    mcts, result = search(
        [C4.initial_state()], 7, first_move_judge, kind="gumbel", max_considered=7, contempt=contempt, solver=False
    )
    q = mcts.value_sum[0, 0] / np.maximum(mcts.visits[0, 0], 1)
    assert q[0] == pytest.approx(column_one_q) and q[6] == pytest.approx(-0.1) and q[3] == pytest.approx(-0.5)
    assert int(result.action[0]) == played


@pytest.mark.parametrize("contempt", [0.0, 0.25])
def test_a_drawn_end_is_worth_minus_contempt_to_the_searcher_and_stays_proven(contempt):
    game = make_game("tictactoe")
    state = game.state_from_board("""
        X O X
        X O O
        O X .
    """)  # X's last move fills the board: a draw
    uniform = uniform_evaluator(game.num_actions)

    def no_draws_foreseen(obs, mask):
        return (*uniform(obs, mask), np.zeros(len(obs), np.float32))

    config = SearchConfig(8, contempt=contempt)
    mcts = BatchedMCTS(no_draws_foreseen, game.num_actions, config, np.random.default_rng(0))
    mcts.reset([state])
    result = mcts.search()
    assert result.proven[0] and result.value[0] == pytest.approx(-contempt) and int(result.action[0]) == 8


def test_contempt_refuses_an_evaluator_without_draws():
    with pytest.raises(ValueError, match="contempt needs an evaluator that returns draw probabilities"):
        search([C4.initial_state()], 4, contempt=0.2)
