"""Our Gumbel search against DeepMind's mctx `gumbel_muzero_policy` on the same synthetic two-player tree.

Both searches see one endless game whose state is a hash of the moves played, with priors and values a fixed
function of that hash; zero rewards and discount -1 make mctx's single-agent backup a two-player one. Without
Gumbel noise both are deterministic, so root visits, the improved policy and the chosen action must agree.
Needs the test-only extra `reference` (jax on CPU, mctx); skipped without it.
"""

import numpy as np
import pytest

from agents.mcts import BatchedMCTS, SearchConfig

mctx = pytest.importorskip("mctx")
jax = pytest.importorskip("jax")
jnp = jax.numpy

ACTIONS = 5
MODULUS = 1_000_003


def features(code, xp):
    """Prior logits [.., A] and value [..] of a state from its hash `code` (numpy or jax.numpy)."""
    actions = xp.arange(ACTIONS, dtype=xp.float32)
    code = xp.asarray(code, dtype=xp.float32)[..., None]
    logits = 1.5 * xp.sin(code * 0.0013 * (actions + 1.0) + actions)
    value = xp.tanh(xp.sin(code[..., 0] * 0.00071) * 2.0 + 0.1)
    return logits, value


class PathGame:
    """The synthetic game's rules object: observations are the states' hashes."""

    num_actions = ACTIONS

    def observations(self, states):
        return np.array([[s.code] for s in states], np.float32)


class PathState:
    """A position of the endless game: the hash of its move list and the player to move."""

    def __init__(self, game: PathGame, code: int, player: int = 0) -> None:
        self.game, self.code, self.player = game, code, player

    def current_player(self) -> int:
        return self.player

    def legal_mask(self) -> np.ndarray:
        return np.ones(ACTIONS, bool)

    def is_terminal(self) -> bool:
        return False

    def apply(self, action: int) -> "PathState":
        return PathState(self.game, (self.code * 31 + action + 1) % MODULUS, 1 - self.player)


def evaluator(obs: np.ndarray, mask: np.ndarray):
    logits, value = features(obs[:, 0], np)
    priors = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (priors / priors.sum(axis=1, keepdims=True)).astype(np.float32), value.astype(np.float32)


def mctx_search(codes: list[int], simulations: int, considered: int):
    def recurrent_fn(params, rng_key, action, embedding):
        child = (embedding * 31 + action + 1) % MODULUS
        logits, value = features(child, jnp)
        out = mctx.RecurrentFnOutput(
            reward=jnp.zeros_like(value), discount=-jnp.ones_like(value), prior_logits=logits, value=value
        )
        return out, child

    codes = jnp.asarray(codes, jnp.int32)
    logits, value = features(codes, jnp)
    root = mctx.RootFnOutput(prior_logits=logits, value=value, embedding=codes)
    output = mctx.gumbel_muzero_policy(
        params=(),
        rng_key=jax.random.PRNGKey(0),
        root=root,
        recurrent_fn=recurrent_fn,
        num_simulations=simulations,
        max_num_considered_actions=considered,
        gumbel_scale=0.0,
    )
    visits = np.asarray(output.search_tree.summary().visit_counts)
    return visits, np.asarray(output.action_weights), np.asarray(output.action)


@pytest.mark.parametrize(("simulations", "considered"), [(8, 4), (16, 5), (32, 2), (50, 5)])
def test_gumbel_search_matches_mctx(simulations, considered):
    codes = [7, 1234, 98765, 424242]
    game = PathGame()
    config = SearchConfig(simulations=simulations, kind="gumbel", solver=False, max_considered=considered)
    mcts = BatchedMCTS(evaluator, ACTIONS, config, np.random.default_rng(0))
    mcts.reset([PathState(game, code) for code in codes])
    ours = mcts.search(noise=False)
    visits, weights, action = mctx_search(codes, simulations, considered)
    np.testing.assert_array_equal(ours.visits, visits)
    np.testing.assert_allclose(ours.policy, weights, atol=1e-4)
    np.testing.assert_array_equal(ours.action, action)
