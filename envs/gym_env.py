"""A single-agent Gymnasium face for every game: the learner plays one side, a given opponent Agent the other.

Registered by `import agents` (which turns an opponent's spec string into an Agent) as `arena/TicTacToe-v0`,
`arena/ConnectFour-v0`, `arena/Othello-v0`, `arena/Gomoku-v0`:

>>> import gymnasium, agents
>>> env = gymnasium.make("arena/ConnectFour-v0", opponent="greedy", learner_side="first")
>>> obs, info = env.reset(seed=0)
>>> obs["observation"].shape, obs["action_mask"].tolist()
((2, 6, 7), [1, 1, 1, 1, 1, 1, 1])

Observations are `{"observation": float32[C, H, W] planes from the learner's side, "action_mask": int8[A]}`.
The reward is +1 / -1 / 0 for the learner when the game ends. `action_space.sample()` draws a legal action
of the current position (a plain `Discrete` otherwise). An illegal action raises `IllegalActionError`, or,
with `illegal_action="lose"`, ends the episode as a loss (reward -1, `info["illegal_action"]`): that mode is
for learners that play without the mask, and for `check_env`, which replays an action sampled in one position
in another (harmless where every first move is legal, as in the empty-board games, but not in Othello).
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from core.errors import ArenaError, IllegalActionError
from envs.base import State
from envs.registry import make_game

SIDES = ("first", "second", "random")
ILLEGAL_MODES = ("raise", "lose")


class LegalDiscrete(spaces.Discrete):
    """Discrete(n) whose `sample()` without a mask draws among the legal actions of its env's position."""

    def __init__(self, n: int, legal_mask=None, seed: int | None = None):
        super().__init__(n, seed=seed)
        self._legal_mask = legal_mask  # a callable returning int8[n], or None

    def sample(self, mask: np.ndarray | None = None, probability: np.ndarray | None = None) -> np.int64:
        """A legal action of the env's current position unless a mask or probability is given."""
        if mask is None and probability is None and self._legal_mask is not None:
            legal = self._legal_mask()
            if legal.any():
                return super().sample(mask=legal)
        return super().sample(mask=mask, probability=probability)

    def __deepcopy__(self, memo):
        # A copy (e.g. for a vector env's batched space) is a plain Discrete: it does not follow one env.
        return spaces.Discrete(int(self.n), start=int(self.start))


class ArenaGymEnv(gym.Env):
    """The learner against `opponent`: an Agent (`act(state) -> action`, `reset()`, a seeded `rng` if it draws),
    or a callable that makes one for the game (`lambda game: MinimaxAgent(game, depth=2)`).

    Through `gymnasium.make` (ids registered by `import agents`) the opponent may be a spec string, `greedy`.
    """

    metadata: ClassVar[dict] = {"render_modes": ["human", "ansi"], "render_fps": 4}

    def __init__(
        self,
        game: str = "connect_four",
        opponent: Any = None,
        learner_side: str = "random",
        illegal_action: str = "raise",
        render_mode: str | None = None,
        **game_options: Any,
    ):
        if learner_side not in SIDES:
            raise ArenaError(f"learner_side {learner_side!r}; valid: {', '.join(SIDES)}")
        if illegal_action not in ILLEGAL_MODES:
            raise ArenaError(f"illegal_action {illegal_action!r}; valid: {', '.join(ILLEGAL_MODES)}")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ArenaError(f"render_mode {render_mode!r}; valid: None, human, ansi")
        self.illegal_action = illegal_action
        self.forfeited = False  # the learner lost by an illegal action (illegal_action="lose")
        self.game = make_game(game, **game_options)
        if not callable(getattr(opponent, "act", None)) and callable(opponent):
            opponent = opponent(self.game)
        if not callable(getattr(opponent, "act", None)):
            raise ArenaError(f"opponent {opponent!r} is not an Agent (an object with act(state) and reset())")
        self.opponent = opponent
        self.learner_side = learner_side
        self.render_mode = render_mode
        self.observation_space = spaces.Dict(
            {
                "observation": spaces.Box(0.0, 1.0, shape=self.game.obs_shape, dtype=np.float32),
                "action_mask": spaces.Box(0, 1, shape=(self.game.num_actions,), dtype=np.int8),
            }
        )
        self.action_space = LegalDiscrete(self.game.num_actions, legal_mask=self.action_masks)
        self.state: State = self.game.initial_state()
        self.learner = 0  # the learner's player index in the current game

    def action_masks(self) -> np.ndarray:
        """int8[A]: the learner's legal actions now (zeros once the game is over)."""
        if self.forfeited or self.state.is_terminal() or self.state.current_player() != self.learner:
            return np.zeros(self.game.num_actions, dtype=np.int8)
        return self.state.legal_mask().astype(np.int8)

    def _obs(self) -> dict[str, np.ndarray]:
        obs = self.state.observation()
        if self.state.current_player() != self.learner:
            obs = obs[::-1].copy()  # a finished game: show it from the learner's side all the same
        return {"observation": obs, "action_mask": self.action_masks()}

    def _opponent_moves(self) -> None:
        # The opponent moves until it is the learner's turn (Othello passes are moves too) or the game ends.
        while not self.state.is_terminal() and self.state.current_player() != self.learner:
            self.state = self.state.apply(self.opponent.act(self.state))

    def _info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"learner": self.learner}
        if self.state.is_terminal():
            # An int even for a draw (-1): vector envs stack infos into arrays.
            info["winner"] = -1 if self.state.winner is None else self.state.winner
        return info

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """A new game; the opponent moves first when the learner plays second."""
        super().reset(seed=seed)
        if self.learner_side == "random":
            self.learner = int(self.np_random.integers(2))
        else:
            self.learner = SIDES.index(self.learner_side)
        if hasattr(self.opponent, "rng"):  # the opponent's randomness follows the env's seed
            self.opponent.rng = np.random.default_rng(int(self.np_random.integers(2**63)))
        self.opponent.reset()
        self.forfeited = False
        self.state = self.game.initial_state()
        if options and "moves" in options:
            self.state = self.game.state_from_moves(options["moves"])
        self._opponent_moves()
        return self._obs(), self._info()

    def step(self, action: int):
        """Play the learner's `action`, then the opponent's reply; reward +1/-1/0 at the end."""
        if self.state.is_terminal() or self.forfeited:
            raise ArenaError("step() after the game ended: call reset()")
        try:
            self.state = self.state.apply(int(action))  # raises IllegalActionError naming the legal moves
        except IllegalActionError:
            if self.illegal_action == "raise":
                raise
            self.forfeited = True
            return self._obs(), -1.0, True, False, {**self._info(), "illegal_action": int(action)}
        self._opponent_moves()
        terminated = self.state.is_terminal()
        reward = float(self.state.returns()[self.learner]) if terminated else 0.0
        if self.render_mode == "human":
            self.render()
        return self._obs(), reward, terminated, False, self._info()

    def render(self) -> str | None:
        """The text board (printed in `human` mode, returned in `ansi` mode)."""
        text = str(self.state)
        if self.render_mode == "human":
            print(text + "\n")
            return None
        return text
