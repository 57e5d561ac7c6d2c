"""Replay for off-policy learners: a preallocated numpy ring buffer, n-step folding, and proportional priorities.

Transitions are stored already folded into n-step form, `(obs, action, R, next_obs, discount, next_mask)`, with
`R = sum_k gamma^k r_k` and `discount = gamma^m` (0 when the episode terminated), so the learner's target is
always `R + discount * Q_target(next_obs)` whatever n is.
"""

from __future__ import annotations

from collections import deque
from typing import NamedTuple

import numpy as np


class Batch(NamedTuple):
    """A sampled minibatch (numpy arrays, leading axis B)."""

    obs: np.ndarray  # [B, *obs_shape]
    actions: np.ndarray  # [B] int64
    rewards: np.ndarray  # [B] n-step discounted sums
    next_obs: np.ndarray  # [B, *obs_shape]
    discounts: np.ndarray  # [B] gamma^m, or 0 after a terminal step
    next_masks: np.ndarray | None  # [B, A] legal actions at next_obs (board games)
    indices: np.ndarray  # [B] slots, to update priorities
    weights: np.ndarray  # [B] importance weights (ones without priorities)


class ReplayBuffer:
    """A ring buffer of n-step transitions with uniform or prioritized (Schaul et al. 2016) sampling."""

    def __init__(
        self,
        capacity: int,
        obs_shape: tuple[int, ...],
        obs_dtype: np.dtype,
        num_actions: int | None = None,
        prioritized: bool = False,
        alpha: float = 0.6,
    ) -> None:
        self.capacity = capacity
        self.obs = np.zeros((capacity, *obs_shape), dtype=obs_dtype)
        self.next_obs = np.zeros((capacity, *obs_shape), dtype=obs_dtype)
        self.actions = np.zeros(capacity, dtype=np.int64)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.discounts = np.zeros(capacity, dtype=np.float32)
        self.next_masks = None if num_actions is None else np.ones((capacity, num_actions), dtype=bool)
        self.pos = 0
        self.size = 0
        self.tree = SumTree(capacity) if prioritized else None
        self.alpha = alpha
        self.max_priority = 1.0

    def __len__(self) -> int:
        return self.size

    def add(self, obs, actions, rewards, next_obs, discounts, next_masks=None) -> None:
        """Append k transitions (arrays with leading axis k)."""
        k = len(actions)
        if k == 0:
            return
        slots = (self.pos + np.arange(k)) % self.capacity
        self.obs[slots] = obs
        self.actions[slots] = actions
        self.rewards[slots] = rewards
        self.next_obs[slots] = next_obs
        self.discounts[slots] = discounts
        if self.next_masks is not None and next_masks is not None:
            self.next_masks[slots] = next_masks
        if self.tree is not None:
            self.tree.update(slots, np.full(k, self.max_priority**self.alpha))
        self.pos = (self.pos + k) % self.capacity
        self.size = min(self.size + k, self.capacity)

    def sample_indices(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """Uniform slots of the given shape (e.g. [gradient_steps, batch] to draw a whole round at once)."""
        return rng.integers(0, self.size, size=shape)

    def gather(self, idx: np.ndarray, weights: np.ndarray | None = None) -> Batch:
        """The transitions at `idx` (any shape)."""
        return Batch(
            self.obs[idx],
            self.actions[idx],
            self.rewards[idx],
            self.next_obs[idx],
            self.discounts[idx],
            None if self.next_masks is None else self.next_masks[idx],
            idx,
            np.ones(idx.shape, dtype=np.float32) if weights is None else weights,
        )

    def sample_prioritized(self, batch_size: int, beta: float, rng: np.random.Generator) -> Batch:
        """Slots drawn in proportion to priority^alpha, with importance weights (min-normalised to max 1)."""
        assert self.tree is not None
        total = self.tree.total()
        targets = (np.arange(batch_size) + rng.random(batch_size)) * (total / batch_size)  # stratified
        idx = self.tree.find(targets)
        idx = np.minimum(idx, self.size - 1)
        probs = self.tree.leaves(idx) / total
        weights = (self.size * probs) ** (-beta)
        return self.gather(idx, (weights / weights.max()).astype(np.float32))

    def update_priorities(self, idx: np.ndarray, td_errors: np.ndarray) -> None:
        """New priorities |delta| + eps for the sampled slots."""
        assert self.tree is not None
        priorities = np.abs(td_errors) + 1e-6
        self.max_priority = max(self.max_priority, float(priorities.max()))
        self.tree.update(idx, priorities**self.alpha)


class SumTree:
    """A binary tree of sums over `capacity` leaves in one array; updates and searches vectorized per level."""

    def __init__(self, capacity: int) -> None:
        self.size = 1
        while self.size < capacity:
            self.size *= 2
        self.nodes = np.zeros(2 * self.size, dtype=np.float64)  # node i has children 2i, 2i+1; leaves at size+

    def total(self) -> float:
        """Sum of all leaves."""
        return float(self.nodes[1])

    def leaves(self, idx: np.ndarray) -> np.ndarray:
        """Leaf values at `idx`."""
        return self.nodes[self.size + idx]

    def update(self, idx: np.ndarray, values: np.ndarray) -> None:
        """Set leaves and recompute their ancestors."""
        nodes = np.unique(idx) + self.size
        self.nodes[idx + self.size] = values  # with duplicates the last write wins
        while nodes[0] > 1:
            nodes = np.unique(nodes // 2)
            self.nodes[nodes] = self.nodes[2 * nodes] + self.nodes[2 * nodes + 1]

    def find(self, targets: np.ndarray) -> np.ndarray:
        """For each target in [0, total), the leaf whose prefix-sum interval holds it."""
        node = np.ones(len(targets), dtype=np.int64)
        targets = targets.copy()
        while node[0] < self.size:
            left = 2 * node
            go_right = targets >= self.nodes[left]
            targets -= np.where(go_right, self.nodes[left], 0.0)
            node = left + go_right
        return node - self.size


class NStepFolder:
    """Folds each env's last n rewards into n-step transitions; flushes the tail when an episode ends."""

    def __init__(self, num_envs: int, n: int, gamma: float) -> None:
        self.n = n
        self.gamma = gamma
        self.queues: list[deque] = [deque() for _ in range(num_envs)]

    def push(self, obs, actions, rewards, next_obs, terminated, ended, next_masks=None):
        """One vector step in; out: the finished n-step transitions as arrays (obs, a, R, next_obs, disc, mask)."""
        if self.n == 1:  # nothing to fold: pass the step through as is
            discounts = np.where(terminated, 0.0, self.gamma).astype(np.float32)
            return obs, actions, rewards, next_obs, discounts, next_masks
        out: list[tuple] = []
        for i, queue in enumerate(self.queues):
            queue.append((obs[i], actions[i], rewards[i]))
            mask_i = None if next_masks is None else next_masks[i]
            if len(queue) == self.n and not ended[i]:
                out.append(self._fold(queue, next_obs[i], False, mask_i))
                queue.popleft()
            if ended[i]:
                while queue:
                    out.append(self._fold(queue, next_obs[i], bool(terminated[i]), mask_i))
                    queue.popleft()
        if not out:
            return None
        obs_o, act_o, ret_o, next_o, disc_o, mask_o = zip(*out, strict=True)
        masks = None if next_masks is None else np.stack(mask_o)
        return (
            np.stack(obs_o),
            np.array(act_o),
            np.array(ret_o, np.float32),
            np.stack(next_o),
            np.array(disc_o, np.float32),
            masks,
        )

    def _fold(self, queue: deque, next_obs, terminated: bool, mask) -> tuple:
        ret = 0.0
        for k, (_, _, reward) in enumerate(queue):
            ret += self.gamma**k * reward
        discount = 0.0 if terminated else self.gamma ** len(queue)
        first_obs, first_action, _ = queue[0]
        return first_obs, first_action, ret, next_obs, discount, mask

    def reset(self) -> None:
        """Forget partial transitions (after envs are reset on resume)."""
        for queue in self.queues:
            queue.clear()
