"""PettingZoo faces: our games as AEC envs, and an adapter that lets our Agents play in PettingZoo's own games.

The AEC env follows PettingZoo's classic games: agents `player_0` (moves first) and `player_1`, observations
`{"observation": float32[C, H, W] planes from that agent's side, "action_mask": int8[A]}` (the mask is all
zeros for the agent not to move), rewards +1/-1/0 at the end. Unlike PettingZoo's wrapped classic envs, an
illegal action raises `IllegalActionError` instead of silently ending the game.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from pettingzoo import AECEnv

from core.errors import ArenaError
from envs.base import Game, State


class ArenaAECEnv(AECEnv):
    """A PettingZoo AEC env over any `Game` (see module docstring)."""

    metadata: ClassVar[dict] = {"render_modes": ["human", "ansi"], "name": "arena", "is_parallelizable": False}

    def __init__(self, game: Game, render_mode: str | None = None):
        super().__init__()
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ArenaError(f"render_mode {render_mode!r}; valid: None, human, ansi")
        self.game = game
        self.render_mode = render_mode
        self.metadata = {**self.metadata, "name": f"arena_{game.name}_v0"}
        self.possible_agents = ["player_0", "player_1"]
        self.agents = self.possible_agents[:]
        obs_space = spaces.Dict(
            {
                "observation": spaces.Box(0.0, 1.0, shape=game.obs_shape, dtype=np.float32),
                "action_mask": spaces.Box(0, 1, shape=(game.num_actions,), dtype=np.int8),
            }
        )
        self.observation_spaces = dict.fromkeys(self.possible_agents, obs_space)
        self.action_spaces = {a: spaces.Discrete(game.num_actions) for a in self.possible_agents}
        self.state_: State = game.initial_state()
        self._reset_bookkeeping()

    def observation_space(self, agent: str) -> spaces.Space:
        """The same Dict space for both agents."""
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        """Discrete(num_actions)."""
        return self.action_spaces[agent]

    def _reset_bookkeeping(self) -> None:
        self.agents = self.possible_agents[:]
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self.infos = {a: {} for a in self.agents}
        self.agent_selection = self.possible_agents[self.state_.current_player()]

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        """Start a new game (`options={"moves": "4453"}` starts from a position given by a move list)."""
        self.state_ = self.game.initial_state()
        if options and "moves" in options:
            self.state_ = self.game.state_from_moves(options["moves"])
        self._reset_bookkeeping()

    def observe(self, agent: str) -> dict[str, np.ndarray]:
        """Planes from `agent`'s side, and its legal mask (zeros when it is not its turn)."""
        obs = self.state_.observation()
        mine = self.possible_agents.index(agent) == self.state_.current_player()
        if not mine:
            obs = obs[::-1].copy()  # swap "to move" and "opponent" planes: own stones first
        mask = self.state_.legal_mask().astype(np.int8) if mine else np.zeros(self.game.num_actions, np.int8)
        return {"observation": obs, "action_mask": mask}

    def step(self, action: int) -> None:
        """Play `action` for the agent to move; raises IllegalActionError on an illegal one."""
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        self.state_ = self.state_.apply(action)  # raises IllegalActionError with the legal moves
        self._clear_rewards()
        if self.state_.is_terminal():
            ret = self.state_.returns()
            for i, a in enumerate(self.possible_agents):
                self.rewards[a] = float(ret[i])
            self.terminations = dict.fromkeys(self.agents, True)
        else:
            self.agent_selection = self.possible_agents[self.state_.current_player()]
        self._accumulate_rewards()
        if self.render_mode == "human":
            self.render()

    def render(self) -> str | None:
        """The text board (printed in `human` mode, returned in `ansi` mode)."""
        text = str(self.state_)
        if self.render_mode == "human":
            print(text + "\n")
            return None
        return text

    def close(self) -> None:
        """Nothing to release."""


class PettingZooPlayer:
    """Lets one of our Agents act inside PettingZoo's own `connect_four_v3` or `tictactoe_v3`.

    It reads PettingZoo's observation (HWC int8 planes from the acting player's side) and action mask,
    rebuilds our State from them (checking that both agree on the legal moves), and asks the Agent; the
    action indices of these two games are the same as ours.
    """

    SUPPORTED: ClassVar[dict[str, str]] = {"connect_four_v3": "connect_four", "tictactoe_v3": "tictactoe"}

    def __init__(self, agent, game: Game, pz_name: str):
        if self.SUPPORTED.get(pz_name) != game.name:
            raise ArenaError(f"no adapter from PettingZoo's {pz_name!r} to {game.name}; valid: {self.SUPPORTED}")
        self.agent = agent
        self.game = game
        self.pz_name = pz_name

    def state_from_pettingzoo(self, observation: dict[str, np.ndarray]) -> State:
        """Our State for PettingZoo's observation of the player to move."""
        board = np.asarray(observation["observation"])  # [H, W, 2] int8, own stones first
        # Both games index cells as `row * width + col` of this [H, W] array, as we do (PettingZoo draws its
        # tic-tac-toe transposed, a symmetry of the game that changes nothing for play).
        state = self.game.state_from_observation(np.moveaxis(board, -1, 0).astype(np.float32))  # [2, H, W]
        ours, theirs = state.legal_mask(), np.asarray(observation["action_mask"]).astype(bool)
        if not np.array_equal(ours, theirs):
            raise ArenaError(f"PettingZoo's {self.pz_name} legal mask {theirs} disagrees with ours {ours}")
        return state

    def act(self, observation: dict[str, np.ndarray]) -> int:
        """PettingZoo's action index for the Agent's move in this observation."""
        return int(self.agent.act(self.state_from_pettingzoo(observation)))
