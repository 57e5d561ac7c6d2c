"""A trained Q-network as a tournament Agent (`dqn:<checkpoint | run dir>`, greedy), and its loader."""

from __future__ import annotations

from typing import Any

import torch

from agents.base import Agent
from algorithms.nets import QNetwork
from algorithms.rl_envs import check_shapes
from core.checkpoint import load_newest_checkpoint
from core.errors import ArenaError
from envs.base import Game, State


def model_from_checkpoint(checkpoint: dict[str, Any]) -> QNetwork:
    """Rebuild the trained Q-network from a DQN checkpoint, without its run dir."""
    net = checkpoint["net"]
    model = QNetwork(net["preset"], tuple(net["obs_shape"]), checkpoint["num_actions"], net["dueling"])
    model.load_state_dict(checkpoint["model"])
    return model.eval()


class DQNAgent(Agent):
    """A Q-network trained on a board game, playing the legal action of highest value."""

    def __init__(self, game: Game, model: QNetwork, name: str) -> None:
        super().__init__(game)
        self.model, self.name = model, name

    def reset(self, seed: int | None = None) -> None:
        """Nothing to forget: the policy is deterministic and memoryless."""

    @torch.inference_mode()
    def act(self, state: State) -> int:
        """The greedy move in `state` (illegal actions are valued -inf)."""
        obs = torch.as_tensor(state.observation()).unsqueeze(0)  # [1, C, H, W]
        mask = torch.as_tensor(state.legal_mask()).unsqueeze(0)  # [1, A]
        return int(self.model(obs, mask).argmax(-1))


def load_agent(game: Game, path: str) -> DQNAgent:
    """`dqn:<checkpoint | run dir | run/latest>`: a trained DQN policy for `game`."""
    file, checkpoint = load_newest_checkpoint(path)  # a run dir's truncated newest file falls back to the previous
    if checkpoint.get("algo") != "dqn":
        raise ArenaError(f"{file} is a {checkpoint.get('algo', 'non-DQN')} checkpoint, not a DQN one")
    check_shapes(checkpoint, tuple(game.obs_shape), game.num_actions, str(file))
    return DQNAgent(game, model_from_checkpoint(checkpoint), f"dqn:{path}")
