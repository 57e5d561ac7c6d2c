"""PPO's config: the network, the PPO hyperparameters, evaluation, and the whole run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from algorithms.rl_envs import EnvConfig, make_env, space_shapes
from core.config import DistributedConfig, RunConfig, TrackingConfig, param, section


@dataclass(frozen=True)
class NetConfig:
    """The network: a preset from `algorithms.nets.PRESETS`."""

    preset: str = "mlp-64x2"
    """Backbone preset: `mlp-64x2`, `nature-cnn`, `resnet-5x64`; a recurrent one (`lstm-64`, `gru-64`,
    `lstm-cnn-256`) makes this recurrent PPO."""
    shared: bool = False
    """One backbone for policy and value (always true for recurrent presets) instead of two."""
    head_hidden: tuple[int, ...] = ()
    """Hidden layer widths of the policy and of the value head (each its own), e.g. [64] after an LSTM."""


@dataclass(frozen=True)
class PPOParams:
    """PPO's hyperparameters (defaults: rl-zoo's tuned CartPole-v1 set)."""

    total_steps: int = param(100_000, gt=0)
    """Env steps to train for (all envs together)."""
    num_steps: int = param(32, gt=0)
    """Steps per env in each rollout; a rollout is `num_steps * env.num_envs` transitions."""
    learning_rate: float = param(1e-3, gt=0)
    """Adam step size at the start."""
    anneal_lr: bool = True
    """Decay the learning rate linearly to 0 over `total_steps`."""
    gamma: float = param(0.98, gt=0, le=1)
    """Discount factor."""
    gae_lambda: float = param(0.8, ge=0, le=1)
    """GAE's lambda: 0 is one-step TD, 1 is Monte Carlo."""
    update_epochs: int = param(20, ge=1)
    """Passes over each rollout."""
    minibatch_size: int = param(256, ge=1)
    """Transitions per gradient step (recurrent: rounded to whole env sequences of `num_steps`)."""
    norm_adv: bool = True
    """Normalise advantages within each minibatch."""
    clip_coef: float = param(0.2, gt=0)
    """Surrogate clipping range at the start."""
    anneal_clip: bool = True
    """Decay the clipping range linearly to 0 with the learning rate's schedule."""
    clip_vloss: bool = False
    """Clip the value update around the rollout's values with the same range."""
    ent_coef: float = param(0.0, ge=0)
    """Weight of the entropy bonus."""
    vf_coef: float = param(0.5, ge=0)
    """Weight of the value loss."""
    max_grad_norm: float = param(0.5, gt=0)
    """Clip the global gradient norm to this."""
    target_kl: float = param(0.0, ge=0)
    """Stop a rollout's epochs once the approximate KL to the rollout policy passes this (0 = never)."""
    target_return: float = 0.0
    """Stop training once the mean return of the last 20 training episodes reaches this (0 = never)."""


@dataclass(frozen=True)
class EvalConfig:
    """Greedy evaluation episodes (argmax actions) on fresh envs."""

    episodes: int = param(20, ge=0)
    """Episodes per evaluation (0 = no evaluation)."""
    every: int = param(0, ge=0)
    """Env steps between evaluations during training; 0 evaluates only at the end."""


@dataclass(frozen=True)
class PPOConfig:
    """PPO on a Gymnasium task (classic control, Atari pixels, a board game against a fixed opponent)."""

    algo: Literal["ppo"] = "ppo"
    """Algorithm name (selects this config in `arena train`)."""
    env: EnvConfig = section(EnvConfig)
    """The environment."""
    net: NetConfig = section(NetConfig)
    """The network."""
    ppo: PPOParams = section(PPOParams)
    """PPO's hyperparameters."""
    eval: EvalConfig = section(EvalConfig)
    """Evaluation."""
    run: RunConfig = section(RunConfig)
    """Run name, seed, device, checkpoints (`checkpoint_every` counts env steps)."""
    distributed: DistributedConfig = section(DistributedConfig)
    """Learner and actor ranks under `mpirun -n N arena selfplay` (ignored by `arena train`)."""
    tracking: TrackingConfig = section(TrackingConfig)
    """W&B and metrics.jsonl."""


def env_shapes(config: PPOConfig) -> tuple[tuple[int, ...], int]:
    """(observation shape, number of actions) of the configured env."""
    env = make_env(config.env)
    try:
        obs_shape, num_actions, _ = space_shapes(env.observation_space, env.action_space)
    finally:
        env.close()
    return obs_shape, num_actions
