"""`check_game`: a conformance checker that plays random games and checks every invariant of the State API."""

from __future__ import annotations

import numpy as np

from core.errors import IllegalActionError
from envs.base import Game


def check_game(game: Game, games: int = 20, seed: int = 0, max_checked_per_game: int = 40) -> int:
    """Play `games` random games of `game`, asserting the API's invariants at each step; returns states seen.

    Checked: the legal mask matches what `apply` accepts; `apply` leaves the old state unchanged (copies are
    independent); observations have `game.obs_shape`; symmetries keep the identity first, permute the policy,
    and map the legal moves of a position to the legal moves of the transformed position; the text forms
    round-trip; terminal states have returns summing to zero, +-1 for a win and 0 for a draw.
    """
    rng = np.random.default_rng(seed)
    seen = 0
    for g in range(games):
        state = game.initial_state()
        history = []
        checked = 0
        while True:
            seen += 1
            thorough = checked < max_checked_per_game and (g < 3 or rng.random() < 0.3)
            _check_state(game, state, rng, thorough)
            checked += thorough
            if state.is_terminal():
                break
            legal = state.legal_actions()
            action = int(rng.choice(legal))
            before = (str(state), state.legal_actions(), state.current_player(), state.moves)
            child = _apply_legal(state, action)
            after = (str(state), state.legal_actions(), state.current_player(), state.moves)
            assert before == after, "apply changed the state it was called on"
            assert child.moves == (*state.moves, action), "moves history does not end with the move played"
            history.append(action)
            state = child
        replay = game.state_from_moves(game.moves_to_text(history))
        assert str(replay) == str(state), "replaying the move list in text gives another position"
        _check_terminal(state)
    return seen


def _apply_legal(state, action: int):
    """`state.apply(action)` for an action the legal mask allows: a refusal is a broken invariant."""
    try:
        return state.apply(action)
    except IllegalActionError as e:
        raise AssertionError(f"the legal mask allows {action} but apply refuses it: {e}") from e


def _check_state(game: Game, state, rng: np.random.Generator, thorough: bool) -> None:
    mask = state.legal_mask()
    assert mask.shape == (game.num_actions,) and mask.dtype == bool
    legal = state.legal_actions()
    assert legal == np.flatnonzero(mask).tolist(), "legal_actions disagrees with legal_mask"
    assert state.current_player() in (0, 1)
    if state.is_terminal():
        assert not mask.any(), "a finished game has legal moves"
    else:
        assert mask.any(), "an unfinished game has no legal move"
        assert state.winner is None
    obs = state.observation()
    assert obs.shape == game.obs_shape and obs.dtype == np.float32, f"observation {obs.shape} {obs.dtype}"
    assert isinstance(str(state), str) and str(state)
    if not thorough:
        return
    # Every action outside the mask is refused with IllegalActionError, every action inside is accepted.
    for a in range(game.num_actions):
        if mask[a]:
            _apply_legal(state, a)
            assert game.text_to_action(game.action_to_text(a)) == a, f"text of action {a} does not round-trip"
        else:
            try:
                state.apply(a)
            except IllegalActionError as e:
                assert "legal" in str(e)
            else:
                raise AssertionError(f"apply accepted action {a} that the legal mask forbids")
    for bad in (-1, game.num_actions):
        try:
            state.apply(bad)
        except IllegalActionError:
            pass
        else:
            raise AssertionError(f"apply accepted out-of-range action {bad}")
    if state.is_terminal():
        return
    # The position rebuilt from its own observation has the same legal moves and observation.
    rebuilt = game.state_from_observation(obs)
    assert np.array_equal(rebuilt.legal_mask(), mask), "state_from_observation changes the legal moves"
    assert np.array_equal(rebuilt.observation(), obs)
    policy = mask.astype(np.float32) * rng.random(game.num_actions).astype(np.float32)
    syms = state.symmetries(obs, policy)
    assert np.array_equal(syms[0][0], obs) and np.array_equal(syms[0][1], policy), "identity must come first"
    for o, p in syms:
        assert o.shape == obs.shape and p.shape == policy.shape
        assert np.allclose(np.sort(p), np.sort(policy)), "a symmetry must permute the policy"
        # The transformed policy is nonzero exactly on the legal moves of the transformed position.
        sym_state = game.state_from_observation(o)
        assert np.array_equal(sym_state.legal_mask(), p > 0), "a symmetry maps legal moves to illegal ones"


def _check_terminal(state) -> None:
    ret = state.returns()
    assert ret.shape == (2,) and ret.dtype == np.float32
    assert ret.sum() == 0, f"returns {ret} of a two-player zero-sum game must sum to 0"
    if state.winner is None:
        assert (ret == 0).all(), "a draw returns 0 to both"
    else:
        assert ret[state.winner] == 1 and ret[1 - state.winner] == -1
