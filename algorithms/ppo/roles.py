"""The learner and actor roles of `arena selfplay` for PPO (synchronous: one rollout per actor per update)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from algorithms.nets import ActorCritic
from algorithms.ppo.config import PPOConfig, env_shapes
from algorithms.ppo.learner import PPOLearner
from algorithms.ppo.rollout import RolloutCollector
from algorithms.rl_envs import EnvRates
from core.run import Run


def learner_role(config: PPOConfig, run: Run | None, device: torch.device, num_actors: int) -> PPOLearner:
    """The learner of `arena selfplay` for PPO: one update on the rollouts of all `num_actors` actors."""
    learner = PPOLearner(config, run, device, *env_shapes(config), num_actors * config.env.num_envs)
    learner.start_distributed(num_actors)
    return learner


class PPOActor:
    """The actor role of `arena selfplay` for PPO: a collector with its own copy of the policy."""

    def __init__(self, config: PPOConfig, index: int, num_actors: int, share: int, device: torch.device) -> None:
        obs_shape, num_actions = env_shapes(config)
        self.model = ActorCritic(
            config.net.preset, obs_shape, num_actions, config.net.shared, config.net.head_hidden
        ).to(device)
        rng = np.random.default_rng([config.run.seed, index, time.time_ns()])  # new episodes after a restart
        torch.manual_seed(int(rng.integers(2**31)))
        self.collector = RolloutCollector(config, self.model, device, rng)
        self._rates = EnvRates()

    def budget(self, versions: int) -> float:
        """One rollout per weight version, then it waits for the update (synchronous PPO)."""
        return versions + 1

    def load_weights(self, state: dict[str, torch.Tensor]) -> None:
        """Act with these weights from now on."""
        self.model.load_state_dict(state)

    def step(self) -> dict[str, Any]:
        """One rollout as a message."""
        rollout = self.collector.collect()
        self._rates.add(rollout.env_steps, len(rollout.episode_returns))
        return {"rollout": rollout.to_numpy(), "samples": 1}

    def rates(self) -> dict[str, float]:
        """Env steps and episodes per second since the last call."""
        return self._rates.take()

    def close(self) -> None:
        """Close the envs."""
        self.collector.close()
