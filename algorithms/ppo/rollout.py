"""Rollouts: vector envs stepped with the policy (recurrent state carried), GAE computed, minibatch indices."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from algorithms.nets import ActorCritic, RecurrentState
from algorithms.ppo.config import PPOConfig
from algorithms.ppo.loss import gae
from algorithms.rl_envs import final_observations, make_vector_env, space_shapes, split_obs


@dataclass
class Rollout:
    """`num_steps` transitions from each of N envs with their advantages: the unit PPO learns from."""

    data: dict[str, torch.Tensor]
    """`[T, N, ...]`: obs, actions, logp, values, advantages, returns, done (obs[t] starts an episode), mask."""
    initial_state: RecurrentState
    """The recurrent state each env's sequence started from (`[layers, N, H]` tensors), or None."""
    episode_returns: list[float]
    """Returns of the episodes that ended during the rollout."""
    episode_lengths: list[int]
    """Their lengths."""

    @property
    def env_steps(self) -> int:
        """Transitions in the rollout (T * N)."""
        return self.data["actions"].numel()

    def to_numpy(self) -> dict[str, Any]:
        """Plain arrays, to send over MPI."""
        state = None if self.initial_state is None else [s.cpu().numpy() for s in self.initial_state]
        return {
            "data": {k: v.cpu().numpy() for k, v in self.data.items()},
            "initial_state": state,
            "episode_returns": self.episode_returns,
            "episode_lengths": self.episode_lengths,
        }

    @classmethod
    def from_numpy(cls, payload: dict[str, Any], device: torch.device) -> Rollout:
        """The inverse of `to_numpy`, onto `device`."""
        state = payload["initial_state"]
        return cls(
            {k: torch.from_numpy(v).to(device) for k, v in payload["data"].items()},
            None if state is None else tuple(torch.from_numpy(s).to(device) for s in state),
            list(payload["episode_returns"]),
            list(payload["episode_lengths"]),
        )

    @classmethod
    def concatenate(cls, parts: list[Rollout]) -> Rollout:
        """Rollouts of several actors side by side, as one rollout of all their envs (the env axis is 1)."""
        if len(parts) == 1:
            return parts[0]
        first = parts[0]
        state = None
        if first.initial_state is not None:
            state = tuple(torch.cat([p.initial_state[i] for p in parts], 1) for i in range(len(first.initial_state)))
        return cls(
            {k: torch.cat([p.data[k] for p in parts], 1) for k in first.data},
            state,
            [r for p in parts for r in p.episode_returns],
            [n for p in parts for n in p.episode_lengths],
        )


class RolloutCollector:
    """Steps `env.num_envs` copies of the env with `model`'s sampled actions, `num_steps` each per rollout.

    Rewards of time-limit truncations bootstrap from the value of the last observation; GAE is computed here,
    since the collector holds the value of the state after the rollout.
    """

    def __init__(self, config: PPOConfig, model: ActorCritic, device: torch.device, rng: np.random.Generator):
        self.p, self.model, self.device = config.ppo, model, device
        self.envs = make_vector_env(config.env)
        space = self.envs.single_observation_space
        obs_shape, num_actions, masked = space_shapes(space, self.envs.single_action_space)
        self.masked, self.recurrent = masked, model.recurrent
        n, steps = self.n, self.steps = config.env.num_envs, config.ppo.num_steps
        obs_dtype = torch.from_numpy(np.zeros(0, (space["observation"] if masked else space).dtype)).dtype
        # preallocated once; a rollout hands out views of them, used before the next rollout overwrites them
        self.obs = torch.zeros((steps, n, *obs_shape), dtype=obs_dtype, device=device)  # uint8 pixels stay uint8
        self.mask = torch.ones((steps, n, num_actions), dtype=torch.bool, device=device)
        self.actions = torch.zeros((steps, n), dtype=torch.long, device=device)
        self.logp = torch.zeros((steps, n), device=device)
        self.values = torch.zeros((steps, n), device=device)
        self.rewards = np.zeros((steps, n), dtype=np.float32)
        self.dones = np.zeros((steps, n), dtype=np.float32)  # obs[t] starts a new episode
        raw, _ = self.envs.reset(seed=int(rng.integers(2**31)))
        obs_np, mask_np = split_obs(raw)
        self.next_obs = torch.as_tensor(obs_np, device=device)
        self.next_mask = None if mask_np is None else torch.as_tensor(mask_np, device=device)
        self.next_done = torch.zeros(n, device=device)
        self.state = model.initial_state(n, device)
        self.episode_return = np.zeros(n)
        self.episode_length = np.zeros(n, dtype=np.int64)
        self.collect_time = 0.0  # seconds spent acting and stepping envs (raw rollout steps/s)

    @torch.inference_mode()
    def collect(self) -> Rollout:
        """One rollout with the model's current weights."""
        p, model, device = self.p, self.model, self.device
        start = time.perf_counter()
        state = self.state
        initial_state = None if state is None else tuple(s.clone() for s in state)
        finished: list[float] = []
        lengths: list[int] = []
        next_obs, next_mask, next_done = self.next_obs, self.next_mask, self.next_done
        for t in range(self.steps):
            self.obs[t] = next_obs
            self.dones[t] = next_done.cpu().numpy()
            if next_mask is not None:
                self.mask[t] = next_mask
            logits, value, state = model(next_obs, state, next_done, next_mask)  # [N, A], [N]
            probs = logits.softmax(-1)
            action = torch.multinomial(probs, 1).squeeze(1)  # [N]
            self.logp[t] = probs.gather(1, action.unsqueeze(1)).squeeze(1).log()
            self.actions[t] = action
            self.values[t] = value
            raw, reward, terminated, truncated, info = self.envs.step(action.cpu().numpy())
            done = terminated | truncated
            self.episode_return += reward
            self.episode_length += 1
            reward = reward.astype(np.float32)
            if truncated.any():  # time limit, not a real end: bootstrap from the last observation
                cut = truncated & ~terminated
                if cut.any():
                    final_obs, _ = final_observations(info, cut)
                    sub = None if state is None else tuple(s[:, torch.as_tensor(cut)] for s in state)
                    reward[cut] += p.gamma * model.value(torch.as_tensor(final_obs, device=device), sub).cpu().numpy()
            self.rewards[t] = reward
            if done.any():
                finished.extend(self.episode_return[done].tolist())
                lengths.extend(self.episode_length[done].tolist())
                self.episode_return[done] = 0.0
                self.episode_length[done] = 0
            obs_np, mask_np = split_obs(raw)
            next_obs = torch.as_tensor(obs_np, device=device)
            next_mask = None if mask_np is None else torch.as_tensor(mask_np, device=device)
            next_done = torch.as_tensor(done, dtype=torch.float32, device=device)
        next_value = model.value(next_obs, state, next_done).cpu().numpy()
        self.next_obs, self.next_mask, self.next_done, self.state = next_obs, next_mask, next_done, state
        advantages = torch.as_tensor(
            gae(self.rewards, self.values.cpu().numpy(), self.dones, next_value, next_done.cpu().numpy(), p),
            device=device,
        )  # [T, N]
        data = {
            "obs": self.obs,
            "actions": self.actions,
            "logp": self.logp,
            "values": self.values,
            "advantages": advantages,
            "returns": advantages + self.values,
            "done": torch.as_tensor(self.dones, device=device),
        }
        if self.masked:
            data["mask"] = self.mask
        self.collect_time += time.perf_counter() - start
        return Rollout(data, initial_state, finished, lengths)

    def close(self) -> None:
        """Close the envs (subprocesses of async vectorization)."""
        self.envs.close()


def minibatches(batch_size: int, n: int, steps: int, size: int, recurrent: bool, device: torch.device):
    """Index sets of one epoch: env indices (recurrent) or transition indices; None means the whole batch."""
    if recurrent:
        per = max(1, min(n, size // steps))
        order = torch.randperm(n, device=device)
        return [order[i : i + per] for i in range(0, n, per)]
    if size >= batch_size:
        return [None]  # one minibatch of everything: no shuffle, no copy
    order = torch.randperm(batch_size, device=device)
    return [order[i : i + size] for i in range(0, batch_size, size)]
