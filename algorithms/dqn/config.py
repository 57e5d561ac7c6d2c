"""DQN's config: the Q-network, the DQN hyperparameters, evaluation, and the whole run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from algorithms.rl_envs import EnvConfig, make_env, space_shapes
from core.config import DistributedConfig, RunConfig, TrackingConfig, param, section


@dataclass(frozen=True)
class QNetConfig:
    """The Q-network: a feed-forward preset from `algorithms.nets.PRESETS` and a head."""

    preset: str = "mlp-256x2"
    """Backbone preset: `mlp-256x2`, `nature-cnn`, `resnet-5x64` (recurrent presets are for PPO)."""
    dueling: bool = False
    """Split Q into a state value and centred advantages."""


@dataclass(frozen=True)
class DQNParams:
    """DQN's hyperparameters (defaults: rl-zoo's tuned CartPole-v1 set)."""

    total_steps: int = param(50_000, gt=0)
    """Env steps to train for (all envs together)."""
    learning_rate: float = param(2.3e-3, gt=0)
    """Adam step size."""
    buffer_size: int = param(100_000, gt=0)
    """Replay capacity in transitions."""
    learning_starts: int = param(1_000, ge=0)
    """Env steps of uniformly random actions before learning starts."""
    batch_size: int = param(64, gt=0)
    """Transitions per gradient step."""
    gamma: float = param(0.99, gt=0, le=1)
    """Discount factor."""
    train_freq: int = param(256, gt=0)
    """Env steps between learning rounds."""
    gradient_steps: int = param(128, gt=0)
    """Gradient steps per learning round."""
    target_update_interval: int = param(10, gt=0)
    """Env steps between target-network updates."""
    tau: float = param(1.0, gt=0, le=1)
    """Target update weight: 1 copies the online net (hard), less averages (Polyak)."""
    double: bool = True
    """Double DQN: the online net picks the next action, the target net values it."""
    n_step: int = param(1, ge=1)
    """Rewards folded into each target before bootstrapping."""
    exploration_fraction: float = param(0.16, gt=0, le=1)
    """Fraction of `total_steps` over which epsilon decays linearly."""
    exploration_initial_eps: float = param(1.0, ge=0, le=1)
    """Epsilon at the start."""
    exploration_final_eps: float = param(0.04, ge=0, le=1)
    """Epsilon after the decay."""
    max_grad_norm: float = param(10.0, gt=0)
    """Clip the global gradient norm to this."""
    prioritized: bool = False
    """Prioritized replay (proportional, stratified sampling)."""
    priority_alpha: float = param(0.6, ge=0)
    """How strongly priorities skew sampling (0 = uniform)."""
    priority_beta: float = param(0.4, ge=0, le=1)
    """Importance-weight exponent at the start; it rises linearly to 1 over training."""
    checkpoint_replay: bool = True
    """Store the replay buffer in checkpoints, so a resumed run continues exactly (large for pixels)."""


@dataclass(frozen=True)
class EvalConfig:
    """Greedy evaluation episodes (epsilon 0) on fresh envs."""

    episodes: int = param(20, ge=0)
    """Episodes per evaluation (0 = no evaluation)."""
    every: int = param(0, ge=0)
    """Env steps between evaluations during training; 0 evaluates only at the end."""


@dataclass(frozen=True)
class DQNConfig:
    """DQN on a Gymnasium task (classic control, Atari pixels, a board game against a fixed opponent)."""

    algo: Literal["dqn"] = "dqn"
    """Algorithm name (selects this config in `arena train`)."""
    env: EnvConfig = param(default_factory=lambda: EnvConfig(num_envs=1))
    """The environment (one copy by default, as in rl-zoo)."""
    net: QNetConfig = section(QNetConfig)
    """The Q-network."""
    dqn: DQNParams = section(DQNParams)
    """DQN's hyperparameters."""
    eval: EvalConfig = section(EvalConfig)
    """Evaluation."""
    run: RunConfig = section(RunConfig)
    """Run name, seed, device, checkpoints (`checkpoint_every` counts env steps)."""
    distributed: DistributedConfig = param(default_factory=lambda: DistributedConfig(publish_every=1, max_staleness=1))
    """Learner and actor ranks under `mpirun -n N arena selfplay` (ignored by `arena train`); new weights after
    every learning round by default, and actors at most one round ahead."""
    tracking: TrackingConfig = section(TrackingConfig)
    """W&B and metrics.jsonl."""


def env_spec(config: DQNConfig) -> tuple[tuple[int, ...], np.dtype, int, bool]:
    """(observation shape, observation dtype, number of actions, whether it gives legal masks) of the env."""
    env = make_env(config.env)
    try:
        space = env.observation_space
        obs_shape, num_actions, masked = space_shapes(space, env.action_space)
    finally:
        env.close()
    return obs_shape, (space["observation"] if masked else space).dtype, num_actions, masked
