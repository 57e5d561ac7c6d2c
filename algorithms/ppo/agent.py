"""A trained PPO policy as a tournament Agent (`ppo:<checkpoint | run dir>`), and its loader."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from agents.base import Agent
from algorithms.nets import ActorCritic, RecurrentState
from algorithms.rl_envs import check_shapes
from core.checkpoint import load_newest_checkpoint
from core.errors import ArenaError
from envs.base import Game, State


def model_from_checkpoint(checkpoint: dict[str, Any]) -> ActorCritic:
    """Rebuild the trained ActorCritic from a PPO checkpoint, without its run dir."""
    net = checkpoint["net"]
    shape, hidden = tuple(net["obs_shape"]), tuple(net.get("head_hidden", ()))
    model = ActorCritic(net["preset"], shape, checkpoint["num_actions"], net["shared"], hidden)
    model.load_state_dict(checkpoint["model"])
    return model.eval()


class PPOAgent(Agent):
    """A PPO policy trained on a board game, playing from `State`s: argmax (greedy) or sampled actions."""

    def __init__(self, game: Game, model: ActorCritic, name: str, greedy: bool = True, seed: int | None = None):
        super().__init__(game, seed)
        self.model, self.name, self.greedy = model, name, greedy
        self.hidden: RecurrentState = None

    def reset(self, seed: int | None = None) -> None:
        """Forget the previous game (recurrent state); a seed re-seeds sampling."""
        self.hidden = None
        if seed is not None:
            self.rng = np.random.default_rng(seed)

    @torch.inference_mode()
    def act(self, state: State) -> int:
        """The policy's move in `state` (always legal: illegal logits are -inf)."""
        obs = torch.as_tensor(state.observation()).unsqueeze(0)  # [1, C, H, W]
        mask = torch.as_tensor(state.legal_mask()).unsqueeze(0)  # [1, A]
        logits, _, self.hidden = self.model(obs, self.hidden, None, mask)
        if self.greedy:
            return int(logits.argmax(-1))
        probs = logits.softmax(-1)[0].double().numpy()
        return int(self.rng.choice(len(probs), p=probs / probs.sum()))


def load_agent(game: Game, path: str, greedy: bool = True, seed: int | None = None) -> PPOAgent:
    """`ppo:<checkpoint | run dir | run/latest>,greedy=false,seed=N`: a trained PPO policy for `game`."""
    file, checkpoint = load_newest_checkpoint(path)  # a run dir's truncated newest file falls back to the previous
    if checkpoint.get("algo") != "ppo":
        raise ArenaError(f"{file} is a {checkpoint.get('algo', 'non-PPO')} checkpoint, not a PPO one")
    check_shapes(checkpoint, tuple(game.obs_shape), game.num_actions, str(file))
    return PPOAgent(game, model_from_checkpoint(checkpoint), f"ppo:{path}", greedy, seed)
