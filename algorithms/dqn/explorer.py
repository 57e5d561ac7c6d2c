"""Exploration: epsilon-greedy steps of the vector envs into n-step transitions, legal random actions."""

from __future__ import annotations

import numpy as np
import torch

from algorithms.buffers import NStepFolder
from algorithms.dqn.config import DQNConfig
from algorithms.nets import QNetwork
from algorithms.rl_envs import final_observations, make_vector_env, space_shapes, split_obs


def linear(start: float, end: float, fraction: float) -> float:
    """`start` moving linearly to `end` as `fraction` goes 0 -> 1 (then stays)."""
    return start + (end - start) * min(max(fraction, 0.0), 1.0)


class Explorer:
    """Epsilon-greedy acting on `env.num_envs` envs: n-step transitions out, episode returns counted."""

    def __init__(self, config: DQNConfig, q_net: QNetwork, device: torch.device, rng: np.random.Generator) -> None:
        self.q_net, self.device, self.rng = q_net, device, rng
        self.envs = make_vector_env(config.env)
        _, self.num_actions, _ = space_shapes(self.envs.single_observation_space, self.envs.single_action_space)
        self.n = config.env.num_envs
        self.folder = NStepFolder(self.n, config.dqn.n_step, config.dqn.gamma)
        raw, _ = self.envs.reset(seed=int(rng.integers(2**31)))
        self.obs, self.mask = split_obs(raw)
        self.episode_return = np.zeros(self.n)

    def step(self, epsilon: float) -> tuple[tuple | None, list[float]]:
        """One step of every env; returns (the n-step transitions it completed or None, returns of ended episodes)."""
        n, rng, mask = self.n, self.rng, self.mask
        explore = rng.random(n) < epsilon
        if explore.all():
            actions = random_actions(rng, n, self.num_actions, mask)
        else:
            with torch.inference_mode():
                mask_t = None if mask is None else torch.as_tensor(mask, device=self.device)
                greedy = self.q_net(torch.as_tensor(self.obs, device=self.device), mask_t).argmax(-1).cpu().numpy()
            actions = np.where(explore, random_actions(rng, n, self.num_actions, mask), greedy)
        raw, reward, terminated, truncated, info = self.envs.step(actions)
        next_obs, next_mask = split_obs(raw)
        ended = terminated | truncated
        real_next, real_mask = next_obs, next_mask
        self.episode_return += reward
        finished: list[float] = []
        if ended.any():  # SAME_STEP autoreset: the true next observation of an ended episode is in info
            real_next, real_mask = next_obs.copy(), None if next_mask is None else next_mask.copy()
            finals, final_masks = final_observations(info, ended)
            real_next[ended] = finals
            if real_mask is not None:
                real_mask[ended] = final_masks
            finished = self.episode_return[ended].tolist()
            self.episode_return[ended] = 0.0
        folded = self.folder.push(self.obs, actions, reward.astype(np.float32), real_next, terminated, ended, real_mask)
        self.obs, self.mask = next_obs, next_mask
        return folded, finished

    def close(self) -> None:
        """Close the envs."""
        self.envs.close()


def random_actions(rng: np.random.Generator, n: int, num_actions: int, mask: np.ndarray | None) -> np.ndarray:
    """Uniform actions, legal ones only when a mask is given."""
    if mask is None:
        return rng.integers(0, num_actions, size=n)
    scores = rng.random((n, num_actions)) * mask  # illegal actions score 0, legal ones (0, 1)
    return scores.argmax(-1)
