"""The learner and actor roles of `arena selfplay` for DQN (Ape-X: actors with their own epsilon, one replay)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from algorithms.dqn.config import DQNConfig, env_spec
from algorithms.dqn.explorer import Explorer, linear
from algorithms.dqn.learner import DQNLearner
from algorithms.nets import QNetwork, is_recurrent
from algorithms.rl_envs import EnvRates
from core.errors import ArenaError
from core.run import Run


def learner_role(config: DQNConfig, run: Run | None, device: torch.device, num_actors: int) -> DQNLearner:
    """The learner of `arena selfplay` for DQN: a central replay fed by every actor (Ape-X)."""
    if is_recurrent(config.net.preset):
        raise ArenaError(f"net.preset {config.net.preset!r} is recurrent; DQN here takes feed-forward presets")
    return DQNLearner(config, run, device, *env_spec(config))


class DQNActor:
    """The actor role of `arena selfplay` for DQN (Ape-X): its own epsilon, transitions sent in chunks.

    Actor i of N decays epsilon like one process would (counting N times its own steps as the run's), down to
    Ape-X's spread of floors `0.4 ** (1 + 7 i / (N - 1))`; a single actor ends at `exploration_final_eps`.
    """

    def __init__(self, config: DQNConfig, index: int, num_actors: int, share: int, device: torch.device) -> None:
        p = self.p = config.dqn
        obs_shape, _, num_actions, _ = env_spec(config)
        self.q_net = QNetwork(config.net.preset, obs_shape, num_actions, config.net.dueling).to(device)
        rng = np.random.default_rng([config.run.seed, index, time.time_ns()])  # new episodes after a restart
        self.explorer = Explorer(config, self.q_net, device, rng)
        self.floor = 0.4 ** (1 + 7 * index / (num_actors - 1)) if num_actors > 1 else p.exploration_final_eps
        self.num_actors = num_actors
        self.chunk = max(config.env.num_envs, p.train_freq // share)  # env steps per message
        # env steps of this actor's the learner consumes per weight version (publish_every rounds)
        self.per_version = config.distributed.publish_every * p.train_freq / share
        self.lead = p.learning_starts / share + self.per_version * max(config.distributed.max_staleness, 1)
        self.own_steps = 0
        self.decay_steps = p.exploration_fraction * p.total_steps
        self._rates = EnvRates()

    def epsilon(self) -> float:
        """This actor's exploration now."""
        p, run_steps = self.p, self.own_steps * self.num_actors
        if run_steps < p.learning_starts:
            return 1.0
        return linear(p.exploration_initial_eps, self.floor, run_steps / self.decay_steps)

    def budget(self, versions: int) -> float:
        """Env steps it may have sent after `versions` new weight versions: the learner's pace plus a lead."""
        return self.lead + self.per_version * versions

    def load_weights(self, state: dict[str, torch.Tensor]) -> None:
        """Act with these weights from now on."""
        self.q_net.load_state_dict(state)

    def step(self) -> dict[str, Any]:
        """Explore for one chunk of env steps; the transitions as a message."""
        parts: list[tuple] = []
        finished: list[float] = []
        steps = 0
        epsilon = self.epsilon()
        while steps < self.chunk:
            epsilon = self.epsilon()
            transitions, ended = self.explorer.step(epsilon)
            if transitions is not None:
                parts.append(tuple(None if a is None else np.array(a) for a in transitions))
            finished.extend(ended)
            steps += self.explorer.n
            self.own_steps += self.explorer.n
        joined = None
        if parts:
            joined = tuple(None if parts[0][i] is None else np.concatenate([q[i] for q in parts]) for i in range(6))
        self._rates.add(steps, len(finished))
        return {"transitions": joined, "env_steps": steps, "episode_returns": finished, "epsilon": epsilon,
                "samples": steps}  # fmt: skip

    def rates(self) -> dict[str, float]:
        """Env steps and episodes per second since the last call."""
        return self._rates.take()

    def close(self) -> None:
        """Close the envs."""
        self.explorer.close()
