"""Training samples (planes, search policies, value targets) and the replay window the learner samples from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


@dataclass
class Samples:
    """Training samples: planes, search policies, value targets."""

    obs: np.ndarray  # [S, C, H, W] float32
    policy: np.ndarray  # [S, A] float32
    value: np.ndarray  # [S] float32, from the side to move

    def __len__(self) -> int:
        return len(self.value)

    @staticmethod
    def concatenate(parts: list[Samples], obs_shape: tuple[int, ...], num_actions: int) -> Samples:
        """Join sample batches (an empty list gives empty arrays of the right shapes)."""
        if not parts:
            return Samples(
                np.zeros((0, *obs_shape), np.float32), np.zeros((0, num_actions), np.float32), np.zeros(0, np.float32)
            )
        return Samples(*(np.concatenate([getattr(p, k) for p in parts]) for k in ("obs", "policy", "value")))


class ReplayWindow:
    """The most recent `capacity` samples in a ring; uniform minibatches."""

    def __init__(self, capacity: int, obs_shape: tuple[int, ...], num_actions: int) -> None:
        self.capacity = capacity
        self.obs = np.zeros((capacity, *obs_shape), np.float32)  # [N, C, H, W]
        self.policy = np.zeros((capacity, num_actions), np.float32)  # [N, A]
        self.value = np.zeros(capacity, np.float32)  # [N]
        self.size = 0
        self.cursor = 0
        self.added = 0

    def __len__(self) -> int:
        return self.size

    def add(self, samples: Samples) -> None:
        """Append samples, overwriting the oldest when full."""
        n = len(samples)
        if n == 0:
            return
        if n > self.capacity:
            samples = Samples(
                samples.obs[-self.capacity :], samples.policy[-self.capacity :], samples.value[-self.capacity :]
            )
            n = self.capacity
        index = (self.cursor + np.arange(n)) % self.capacity
        self.obs[index], self.policy[index], self.value[index] = samples.obs, samples.policy, samples.value
        self.cursor = (self.cursor + n) % self.capacity
        self.size = min(self.size + n, self.capacity)
        self.added += n

    def sample(self, batch_size: int, rng: np.random.Generator) -> Samples:
        """A uniform minibatch (with replacement)."""
        index = rng.integers(0, self.size, batch_size)
        return Samples(self.obs[index], self.policy[index], self.value[index])

    def state_dict(self) -> dict[str, Any]:
        """Contents as tensors (checkpoints refuse numpy arrays)."""
        order = (self.cursor - self.size + np.arange(self.size)) % self.capacity  # oldest first
        return {
            "obs": torch.from_numpy(self.obs[order]),
            "policy": torch.from_numpy(self.policy[order]),
            "value": torch.from_numpy(self.value[order]),
            "added": self.added,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Refill from `state_dict` output."""
        self.size = self.cursor = 0
        self.add(Samples(state["obs"].numpy(), state["policy"].numpy(), state["value"].numpy()))
        self.added = int(state["added"])
