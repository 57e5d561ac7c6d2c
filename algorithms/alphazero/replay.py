"""Training samples (planes, search policies, value and draw targets) and the replay window the learner samples from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


@dataclass
class Samples:
    """Training samples: planes, search policies, value targets, and whether each one's game was drawn."""

    obs: np.ndarray  # [S, C, H, W] float32
    policy: np.ndarray  # [S, A] float32
    value: np.ndarray  # [S] float32, from the side to move
    draw: np.ndarray | None = None  # [S] float32, 1.0 where the game ended drawn (the draw head's target)

    FIELDS = ("obs", "policy", "value", "draw")

    def __post_init__(self) -> None:
        if self.draw is None:  # hand-built batches: no game drawn
            self.draw = np.zeros_like(self.value)

    def __len__(self) -> int:
        return len(self.value)

    @staticmethod
    def concatenate(parts: list[Samples], obs_shape: tuple[int, ...], num_actions: int) -> Samples:
        """Join sample batches (an empty list gives empty arrays of the right shapes)."""
        if not parts:
            empty = np.zeros(0, np.float32)
            return Samples(np.zeros((0, *obs_shape), np.float32), np.zeros((0, num_actions), np.float32), empty, empty)
        return Samples(*(np.concatenate([getattr(p, k) for p in parts]) for k in Samples.FIELDS))

    def last(self, count: int) -> Samples:
        """The last `count` samples."""
        return Samples(*(getattr(self, k)[-count:] for k in Samples.FIELDS))


class ReplayWindow:
    """The most recent `capacity` samples in a ring; uniform minibatches."""

    def __init__(self, capacity: int, obs_shape: tuple[int, ...], num_actions: int) -> None:
        self.capacity = capacity
        self.obs = np.zeros((capacity, *obs_shape), np.float32)  # [N, C, H, W]
        self.policy = np.zeros((capacity, num_actions), np.float32)  # [N, A]
        self.value = np.zeros(capacity, np.float32)  # [N]
        self.draw = np.zeros(capacity, np.float32)  # [N]
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
            samples, n = samples.last(self.capacity), self.capacity
        index = (self.cursor + np.arange(n)) % self.capacity
        for field in Samples.FIELDS:
            getattr(self, field)[index] = getattr(samples, field)
        self.cursor = (self.cursor + n) % self.capacity
        self.size = min(self.size + n, self.capacity)
        self.added += n

    def sample(self, batch_size: int, rng: np.random.Generator) -> Samples:
        """A uniform minibatch (with replacement)."""
        index = rng.integers(0, self.size, batch_size)
        return Samples(*(getattr(self, k)[index] for k in Samples.FIELDS))

    def state_dict(self) -> dict[str, Any]:
        """Contents as tensors (checkpoints refuse numpy arrays)."""
        order = (self.cursor - self.size + np.arange(self.size)) % self.capacity  # oldest first
        return {k: torch.from_numpy(getattr(self, k)[order]) for k in Samples.FIELDS} | {"added": self.added}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Refill from `state_dict` output (a window saved before draw targets existed counts no draws)."""
        self.size = self.cursor = 0
        draw = state["draw"].numpy() if "draw" in state else None  # Samples counts no draws then
        self.add(Samples(state["obs"].numpy(), state["policy"].numpy(), state["value"].numpy(), draw))
        self.added = int(state["added"])
