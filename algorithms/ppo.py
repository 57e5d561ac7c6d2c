"""Proximal Policy Optimization (Schulman et al. 2017), feed-forward or recurrent, in one file: config, loss, loop.

Readable top to bottom like CleanRL's `ppo.py` and `ppo_atari_lstm.py`: vectorized envs (SAME_STEP autoreset),
GAE, the clipped surrogate, optional value clipping, advantage normalisation, entropy bonus, learning-rate and
clip annealing, KL early stop, legal-action masks (board games). With a recurrent preset (`lstm-64`, ...) the
rollout keeps the LSTM state per env, zeroes it where an episode ended, stores the state each rollout started
from, and trains on minibatches of whole env sequences replayed from those states.

`arena train` with no config file runs the embedded defaults below: CartPole-v1 with rl-zoo's tuned
hyperparameters, 475+ in about a minute on a laptop CPU.
"""

from __future__ import annotations

import math
import random
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from agents.base import Agent
from algorithms.nets import ActorCritic, State, is_recurrent, make_adam
from algorithms.rl_envs import (
    EnvConfig,
    EnvLearner,
    EnvRates,
    evaluate,
    final_observations,
    make_env,
    make_vector_env,
    space_shapes,
    split_obs,
)
from core.checkpoint import capture_rng, load_newest_checkpoint, restore_rng
from core.config import DistributedConfig, RunConfig, TrackingConfig, config_to_dict, param, section
from core.device import resolve_device
from core.errors import ArenaError
from core.progress import ProgressBar


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


# ---------------------------------------------------------------------------------------------------------------
# Loss


def masked_log_probs(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(log-probabilities [..., A], entropy [...]) of logits that may hold -inf for illegal actions."""
    logp = logits.log_softmax(-1)
    safe = logp.clamp(min=torch.finfo(logp.dtype).min)  # 0 * -inf would be NaN; illegal actions add 0 entropy
    return logp, -(safe.exp() * safe).sum(-1)


def ppo_loss(
    model: ActorCritic,
    batch: dict[str, torch.Tensor],
    p: PPOParams,
    clip: float,
    state: State = None,
    normalized: bool = False,
    want_stats: bool = True,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Clipped surrogate + value loss - entropy bonus on one minibatch (sequences `[T, n, ...]` if recurrent).

    `normalized`: the advantages are already normalised (one minibatch per epoch: done once per rollout).
    `want_stats`: also return the diagnostics (a dozen small ops: skipped on steps that do not report them).
    """
    logits, values, _ = model(batch["obs"], state, batch.get("done"), batch.get("mask"))
    logp_all, entropy = masked_log_probs(logits)
    logp = logp_all.gather(-1, batch["actions"].unsqueeze(-1)).squeeze(-1)
    log_ratio = logp - batch["logp"]
    ratio = log_ratio.exp()
    adv = batch["advantages"]
    if p.norm_adv and not normalized and adv.numel() > 1:
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    policy_loss = torch.max(-adv * ratio, -adv * ratio.clamp(1 - clip, 1 + clip)).mean()
    returns = batch["returns"]
    if p.clip_vloss:
        clipped = batch["values"] + (values - batch["values"]).clamp(-clip, clip)
        value_loss = 0.5 * torch.max((values - returns) ** 2, (clipped - returns) ** 2).mean()
    else:
        value_loss = 0.5 * ((values - returns) ** 2).mean()
    entropy_mean = entropy.mean()
    loss = policy_loss + p.vf_coef * value_loss - p.ent_coef * entropy_mean
    if not want_stats:
        return loss, {}
    with torch.no_grad():
        stats = {
            "policy_loss": policy_loss.detach(),
            "value_loss": value_loss.detach(),
            "entropy": entropy_mean.detach(),
            "approx_kl": ((ratio - 1) - log_ratio).mean(),  # Schulman's low-variance KL estimator
            "clipfrac": ((ratio - 1).abs() > clip).float().mean(),
        }
    return loss, stats


def gae(
    rewards: np.ndarray, values: np.ndarray, dones: np.ndarray, next_value: np.ndarray, next_done: np.ndarray, p
) -> np.ndarray:
    """Generalized advantage estimates [T, N]; `dones[t]` marks obs[t] as the first of a new episode."""
    steps = rewards.shape[0]
    advantages = np.zeros_like(rewards)
    last = np.zeros_like(next_value)
    for t in reversed(range(steps)):
        if t == steps - 1:
            nonterminal, next_values = 1.0 - next_done, next_value
        else:
            nonterminal, next_values = 1.0 - dones[t + 1], values[t + 1]
        delta = rewards[t] + p.gamma * next_values * nonterminal - values[t]
        last = delta + p.gamma * p.gae_lambda * nonterminal * last
        advantages[t] = last
    return advantages


# ---------------------------------------------------------------------------------------------------------------
# Rollouts: the actor side


@dataclass
class Rollout:
    """`num_steps` transitions from each of N envs with their advantages: the unit PPO learns from."""

    data: dict[str, torch.Tensor]
    """`[T, N, ...]`: obs, actions, logp, values, advantages, returns, done (obs[t] starts an episode), mask."""
    initial_state: State
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


# ---------------------------------------------------------------------------------------------------------------
# Learning: the learner side


class PPOLearner(EnvLearner):
    """PPO's learner: model, optimizer, schedules, epochs of minibatch updates, reports, evaluation, checkpoints.

    `train` feeds it its own collector's rollouts; under `arena selfplay` it takes every actor's rollout of one
    weight version side by side (synchronous PPO: the update waits for all of them, then weights go back).
    """

    def __init__(
        self, config: PPOConfig, run: Any, device: torch.device, obs_shape: tuple[int, ...], num_actions: int,
        envs_per_update: int,
    ) -> None:  # fmt: skip
        p = self.p = config.ppo
        self.config, self.run, self.device = config, run, device
        self.obs_shape, self.num_actions = tuple(obs_shape), num_actions
        self.recurrent = is_recurrent(config.net.preset)
        self.net = self.model = ActorCritic(
            config.net.preset, obs_shape, num_actions, config.net.shared, config.net.head_hidden
        ).to(device)
        self.optimizer = make_adam(self.model.parameters(), p.learning_rate, eps=1e-5)
        self.n = envs_per_update
        self.batch_size = self.n * p.num_steps
        self.num_updates = math.ceil(p.total_steps / self.batch_size)
        if self.recurrent:
            envs_per_mb = max(1, min(self.n, p.minibatch_size // p.num_steps))  # whole sequences per minibatch
            if self.n % envs_per_mb:
                raise ArenaError(
                    f"recurrent PPO splits the {self.n} envs into minibatches of {envs_per_mb} whole sequences "
                    f"(ppo.minibatch_size {p.minibatch_size} // ppo.num_steps {p.num_steps}); choose sizes that divide"
                )
        self.rng = np.random.default_rng(config.run.seed)  # env reset seeds of the collector in this process
        self.global_step, self.updates = 0, 0
        self.recent: deque[float] = deque(maxlen=20)  # returns of the last 20 training episodes
        self.best_mean20 = -math.inf
        checkpoint = run.restore() if run is not None else None
        if checkpoint is not None:
            check_shapes(checkpoint, self.obs_shape, num_actions, str(run.path))
            self.model.load_state_dict(checkpoint["model"])
            self.optimizer.load_state_dict(checkpoint["optimizer"])
            self.global_step, self.updates = checkpoint["global_step"], checkpoint["update"]
            self.recent.extend(checkpoint["recent_returns"])
            self.best_mean20 = checkpoint["best_mean20"]
            restore_rng(checkpoint["rng"], {"env": self.rng})
        self.start_schedules()
        self.stats: dict[str, torch.Tensor] = {}
        self.loss = math.nan
        self.reached_target = False

    @property
    def steps(self) -> int:
        """Updates so far (one per rollout)."""
        return self.updates

    @property
    def done(self) -> bool:
        """Whether `ppo.total_steps` env steps are done (or `ppo.target_return` is reached)."""
        return self.updates >= self.num_updates or self.reached_target

    def learn(self, rollout: Rollout, average_gradients: Any = None) -> dict[str, float]:
        """Epochs of clipped-surrogate updates on one rollout, then report, evaluate, checkpoint when due.

        `average_gradients(grads)`: called between backward and the optimizer step (several learner ranks).
        """
        p, model, optimizer = self.p, self.model, self.optimizer
        if rollout.env_steps != self.batch_size:
            raise ArenaError(f"PPO learner expected rollouts of {self.batch_size} steps, got {rollout.env_steps}")
        self.updates += 1
        self.global_step += rollout.env_steps
        frac = 1.0 - (self.updates - 1) / self.num_updates  # linear decay, 1 -> ~0
        lr = p.learning_rate * frac if p.anneal_lr else p.learning_rate
        clip = p.clip_coef * frac if p.anneal_clip else p.clip_coef
        for group in optimizer.param_groups:
            group["lr"] = lr
        model.train()
        data = dict(rollout.data)
        values, returns = data["values"], data["returns"]
        if not self.recurrent:  # feed-forward: the time axis does not matter, flatten once
            del data["done"]
            data = {k: v.reshape(self.batch_size, *v.shape[2:]) for k, v in data.items()}
        whole = not self.recurrent and p.minibatch_size >= self.batch_size
        if whole and p.norm_adv:  # the one minibatch is the rollout: normalise once, not every epoch
            adv = data["advantages"]
            data["advantages"] = (adv - adv.mean()) / (adv.std() + 1e-8)
        parameters = [q for q in model.parameters() if q.requires_grad]
        stop = False
        for epoch in range(p.update_epochs):
            for idx in minibatches(self.batch_size, self.n, p.num_steps, p.minibatch_size, self.recurrent, self.device):
                if self.recurrent:
                    batch = {k: v[:, idx] for k, v in data.items()}
                    start = tuple(s[:, idx] for s in rollout.initial_state)
                else:
                    batch = data if idx is None else {k: v[idx] for k, v in data.items()}
                    start = None
                want_stats = bool(p.target_kl) or (epoch == p.update_epochs - 1)
                loss, step_stats = ppo_loss(model, batch, p, clip, start, whole, want_stats)
                self.stats = step_stats or self.stats
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if average_gradients is not None:
                    average_gradients([q.grad for q in parameters])
                nn.utils.clip_grad_norm_(parameters, p.max_grad_norm, foreach=True)
                optimizer.step()
                if p.target_kl and self.stats["approx_kl"] > p.target_kl:
                    stop = True
                    break
            if stop:
                break
        self.loss = float(loss.detach())

        # -- report, evaluate, checkpoint -------------------------------------------------------------------
        finished = rollout.episode_returns
        self.recent.extend(finished)
        mean20 = float(np.mean(self.recent)) if self.recent else math.nan
        if len(self.recent) == self.recent.maxlen:
            self.best_mean20 = max(self.best_mean20, mean20)
            if p.target_return and mean20 >= p.target_return:
                self.reached_target = True
        figures = {f"train/{k}": float(v) for k, v in self.stats.items()}
        figures |= {"train/learning_rate": lr, "train/clip": clip, "charts/sps": self.steps_per_second()}
        figures["train/explained_variance"] = explained_variance(values.cpu().numpy(), returns.cpu().numpy())
        if finished:
            figures |= {"train/episode_return": float(np.mean(finished)), "train/return_mean20": mean20}
            figures["train/episode_length"] = float(np.mean(rollout.episode_lengths))
        self.log(figures, self.global_step)
        self.periodic()
        return figures

    def greedy_returns(self) -> tuple[float, float]:
        """Mean and std return of greedy episodes."""
        return evaluate_model(self.model, self.config, self.global_step, self.device)

    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs."""
        return {
            "algo": "ppo",
            "config": config_to_dict(self.config),
            "net": {
                "preset": self.config.net.preset,
                "shared": self.model.shared,
                "head_hidden": list(self.config.net.head_hidden),
                "obs_shape": list(self.obs_shape),
            },
            "num_actions": self.num_actions,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "global_step": self.global_step,
            "update": self.updates,
            "recent_returns": list(self.recent),
            "best_mean20": self.best_mean20,
            "rng": capture_rng({"env": self.rng}),
        }

    def summary(self) -> dict[str, float]:
        """Final figures (with a last evaluation)."""
        return super().summary() | {"train/best_return_mean20": self.best_mean20}

    # -- the learner role of `arena selfplay` (see runners/selfplay.py) ---------------------------------------

    publish_every = 1  # on-policy: every update is a new weight version ...
    max_staleness = 0  # ... and rollouts of older versions are dropped

    def start_distributed(self, num_actors: int) -> None:
        """Under `arena selfplay`: an update waits for one rollout from each of this learner's actors."""
        self.pending: list[Rollout] = []
        self.num_actors = num_actors

    def receive(self, payload: dict[str, Any], stale: bool = False) -> None:
        """One actor's rollout (dropped if made by older weights: PPO is on-policy)."""
        if not stale:
            self.pending.append(Rollout.from_numpy(payload["rollout"], self.device))

    def update_ready(self) -> bool:
        """Whether every actor's rollout of the current weights is in."""
        return len(self.pending) >= self.num_actors and not self.done

    def update(self, average_gradients: Any = None) -> int:
        """One update on all actors' rollouts; returns the update count."""
        rollouts, self.pending = self.pending[: self.num_actors], self.pending[self.num_actors :]
        self.learn(Rollout.concatenate(rollouts), average_gradients)
        if self.done:
            self.save()
        return self.updates

    def acting_state(self) -> dict[str, torch.Tensor]:
        """The weights actors act with."""
        return self.model.state_dict()


def train(config: PPOConfig, run: Any) -> dict[str, float]:
    """Train PPO as `config` says, logging to and checkpointing in `run`; returns the final figures."""
    device = resolve_device(config.run.device)
    if config.run.torch_threads:
        torch.set_num_threads(config.run.torch_threads)
    seed = config.run.seed
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    obs_shape, num_actions = env_shapes(config)
    learner = PPOLearner(config, run, device, obs_shape, num_actions, config.env.num_envs)
    collector = RolloutCollector(config, learner.model, device, learner.rng)
    description = f"ppo {config.env.id}" + (" (recurrent)" if learner.recurrent else "")
    try:
        with ProgressBar(learner.num_updates * learner.batch_size, description, completed=learner.global_step) as bar:
            while not learner.done:
                learner.learn(collector.collect())
                mean20 = float(np.mean(learner.recent)) if learner.recent else math.nan
                bar.update(completed=learner.global_step, return_=mean20, loss=learner.loss)
    except KeyboardInterrupt:
        learner.save()
        raise
    finally:
        collector.close()
    learner.save()
    result = learner.summary()
    result["charts/rollout_sps"] = (learner.global_step - learner.start_step) / max(collector.collect_time, 1e-9)
    run.tracker.summary(result)
    return result


def env_shapes(config: PPOConfig) -> tuple[tuple[int, ...], int]:
    """(observation shape, number of actions) of the configured env."""
    env = make_env(config.env)
    try:
        obs_shape, num_actions, _ = space_shapes(env.observation_space, env.action_space)
    finally:
        env.close()
    return obs_shape, num_actions


def learner_role(config: PPOConfig, run: Any, device: torch.device, num_actors: int) -> PPOLearner:
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


def explained_variance(values: np.ndarray, returns: np.ndarray) -> float:
    """1 - Var[returns - values] / Var[returns]: how much of the return the critic predicts."""
    var = returns.var()
    return math.nan if var == 0 else float(1 - (returns - values).var() / var)


def greedy_act(model: ActorCritic):
    """The argmax policy of `model` as an `evaluate` callable (carries recurrent state)."""

    def act(obs, mask, state, done):
        if model.recurrent and state is None:
            state = model.initial_state(obs.shape[0], obs.device)
        logits, _, state = model(obs.float(), state, done.float() if model.recurrent else None, mask)
        return logits.argmax(-1), state

    return act


def evaluate_model(model: ActorCritic, config: PPOConfig, step: int, device: torch.device) -> tuple[float, float]:
    """Mean and std return of greedy episodes on fresh envs (seeded apart from the training envs)."""
    model.eval()
    result = evaluate(greedy_act(model), config.env, config.eval.episodes, 10**6 + config.run.seed + step, device)
    model.train()
    return result


def check_shapes(checkpoint: dict[str, Any], obs_shape: tuple[int, ...], num_actions: int, where: str) -> None:
    """Refuse a checkpoint whose network was built for other observations or actions."""
    saved = tuple(checkpoint["net"]["obs_shape"])
    if saved != tuple(obs_shape) or checkpoint["num_actions"] != num_actions:
        raise ArenaError(
            f"checkpoint in {where} was trained on observations {saved} with {checkpoint['num_actions']} actions; "
            f"this env gives {tuple(obs_shape)} with {num_actions}"
        )


def model_from_checkpoint(checkpoint: dict[str, Any]) -> ActorCritic:
    """Rebuild the trained ActorCritic from a PPO checkpoint, without its run dir."""
    net = checkpoint["net"]
    shape, hidden = tuple(net["obs_shape"]), tuple(net.get("head_hidden", ()))
    model = ActorCritic(net["preset"], shape, checkpoint["num_actions"], net["shared"], hidden)
    model.load_state_dict(checkpoint["model"])
    return model.eval()


# ---------------------------------------------------------------------------------------------------------------
# A trained policy as a tournament Agent


class PPOAgent(Agent):
    """A PPO policy trained on a board game, playing from `State`s: argmax (greedy) or sampled actions."""

    def __init__(self, game: Any, model: ActorCritic, name: str, greedy: bool = True, seed: int | None = None):
        super().__init__(game, seed)
        self.model, self.name, self.greedy = model, name, greedy
        self.hidden: State = None

    def reset(self, seed: int | None = None) -> None:
        """Forget the previous game (recurrent state); a seed re-seeds sampling."""
        self.hidden = None
        if seed is not None:
            self.rng = np.random.default_rng(seed)

    @torch.inference_mode()
    def act(self, state: Any) -> int:
        """The policy's move in `state` (always legal: illegal logits are -inf)."""
        obs = torch.as_tensor(state.observation()).unsqueeze(0)  # [1, C, H, W]
        mask = torch.as_tensor(state.legal_mask()).unsqueeze(0)  # [1, A]
        logits, _, self.hidden = self.model(obs, self.hidden, None, mask)
        if self.greedy:
            return int(logits.argmax(-1))
        probs = logits.softmax(-1)[0].double().numpy()
        return int(self.rng.choice(len(probs), p=probs / probs.sum()))


def load_agent(game: Any, path: str, greedy: bool = True, seed: int | None = None) -> PPOAgent:
    """`ppo:<checkpoint | run dir | run/latest>,greedy=false,seed=N`: a trained PPO policy for `game`."""
    file, checkpoint = load_newest_checkpoint(path)  # a run dir's truncated newest file falls back to the previous
    if checkpoint.get("algo") != "ppo":
        raise ArenaError(f"{file} is a {checkpoint.get('algo', 'non-PPO')} checkpoint, not a PPO one")
    check_shapes(checkpoint, tuple(game.obs_shape), game.num_actions, str(file))
    return PPOAgent(game, model_from_checkpoint(checkpoint), f"ppo:{path}", greedy, seed)
