"""Deep Q-Networks (Mnih et al. 2015) with the usual improvements, in one file: config, loss, update, loop.

Double DQN (van Hasselt et al. 2016), dueling heads, n-step returns, prioritized replay (option), a target
network updated hard or by Polyak averaging, a linear epsilon schedule, gradient clipping, vectorized envs and
legal-action masks (board games: random exploration and the max in the target see legal actions only).
Evaluation plays greedy episodes (epsilon 0). Defaults: rl-zoo's tuned CartPole-v1 set.
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
import torch.nn.functional as F
from torch import nn

from agents.base import Agent
from algorithms.buffers import Batch, NStepFolder, ReplayBuffer
from algorithms.nets import QNetwork, is_recurrent, make_adam
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


def linear(start: float, end: float, fraction: float) -> float:
    """`start` moving linearly to `end` as `fraction` goes 0 -> 1 (then stays)."""
    return start + (end - start) * min(max(fraction, 0.0), 1.0)


# ---------------------------------------------------------------------------------------------------------------
# Loss


def td_loss(
    q_net: QNetwork, target_net: QNetwork, batch: dict[str, torch.Tensor], double: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Importance-weighted Huber loss against `R + discount * Q_target(next, a*)`; returns (loss, td errors [B]).

    `batch["next_q_target"]` may hold the target net's values already (computed for a whole round at once).
    """
    with torch.no_grad():
        mask = batch.get("next_masks")
        next_q_target = batch.get("next_q_target")
        if next_q_target is None:
            next_q_target = target_net(batch["next_obs"], mask)  # [B, A], -inf where illegal
        if double:
            best = q_net(batch["next_obs"], mask).argmax(-1, keepdim=True)  # [B, 1]
            next_q = next_q_target.gather(1, best).squeeze(1)
        else:
            next_q = next_q_target.max(-1).values
        discounts = batch["discounts"]
        # terminal next states bootstrap nothing (and may have no legal action: -inf * 0 would be NaN)
        next_q = torch.where(discounts > 0, next_q, torch.zeros_like(next_q))
        target = batch["rewards"] + discounts * next_q  # [B]
    q = q_net(batch["obs"]).gather(1, batch["actions"].unsqueeze(1)).squeeze(1)  # [B]
    td = q - target
    if "weights" in batch:  # prioritized replay: importance weights
        loss = (batch["weights"] * F.smooth_l1_loss(q, target, reduction="none")).mean()
    else:
        loss = F.smooth_l1_loss(q, target)
    return loss, td.detach()


# ---------------------------------------------------------------------------------------------------------------
# Acting: the actor side


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


# ---------------------------------------------------------------------------------------------------------------
# Learning: the learner side


class DQNLearner(EnvLearner):
    """DQN's learner: Q and target nets, optimizer, replay, learning rounds, reports, evaluation, checkpoints.

    Transitions come from `train`'s own Explorer or, under `arena selfplay`, from actor ranks (Ape-X: each
    actor explores with its own epsilon). Either way a round of `gradient_steps` is owed for every
    `train_freq` env steps received, so the replay ratio is the single-process one.
    """

    def __init__(
        self, config: DQNConfig, run: Any, device: torch.device, obs_shape: tuple[int, ...], obs_dtype: np.dtype,
        num_actions: int, masked: bool,
    ) -> None:  # fmt: skip
        p = self.p = config.dqn
        self.config, self.run, self.device = config, run, device
        self.obs_shape, self.num_actions = tuple(obs_shape), num_actions
        self.net = self.q_net = QNetwork(config.net.preset, obs_shape, num_actions, config.net.dueling).to(device)
        self.target_net = QNetwork(config.net.preset, obs_shape, num_actions, config.net.dueling).to(device)
        self.target_net.load_state_dict(self.q_net.state_dict())
        self.target_net.requires_grad_(False)
        self.optimizer = make_adam(self.q_net.parameters(), p.learning_rate)
        self.buffer = ReplayBuffer(
            p.buffer_size, obs_shape, obs_dtype, num_actions if masked else None, p.prioritized, p.priority_alpha
        )
        self.rng = np.random.default_rng(config.run.seed)  # replay sampling (and this process's exploration)
        self.global_step = self.gradient_steps = self.rounds = self.last_train = self.last_target = 0
        self.recent: deque[float] = deque(maxlen=20)
        checkpoint = run.restore() if run is not None else None
        if checkpoint is not None:
            check_shapes(checkpoint, self.obs_shape, num_actions, str(run.path))
            self.q_net.load_state_dict(checkpoint["model"])
            self.target_net.load_state_dict(checkpoint["target"])
            self.optimizer.load_state_dict(checkpoint["optimizer"])
            self.global_step, self.gradient_steps = checkpoint["global_step"], checkpoint["gradient_steps"]
            self.last_train, self.last_target = checkpoint["last_train"], checkpoint["last_target"]
            self.rounds = checkpoint.get("rounds", self.gradient_steps // p.gradient_steps)
            self.recent.extend(checkpoint["recent_returns"])
            restore_rng(checkpoint["rng"], {"rng": self.rng})
            if "replay" in checkpoint:
                load_replay(self.buffer, checkpoint["replay"])
        self.synced_at = self.gradient_steps  # the target equals the online net as of this many gradient steps
        self.start_schedules()
        self.loss, self.td_abs = math.nan, math.nan
        self.decay_steps = p.exploration_fraction * p.total_steps

    @property
    def steps(self) -> int:
        """Learning rounds so far."""
        return self.rounds

    @property
    def done(self) -> bool:
        """Whether `dqn.total_steps` env steps are in and every learning round they earned is done."""
        return self.global_step >= self.p.total_steps and not self.update_ready()

    def epsilon(self, floor: float | None = None) -> float:
        """Exploration at the current env step: 1 before learning starts, then linear decay to `floor`."""
        p = self.p
        if self.global_step < p.learning_starts:
            return 1.0
        end = p.exploration_final_eps if floor is None else floor
        return linear(p.exploration_initial_eps, end, self.global_step / self.decay_steps)

    def add(self, transitions: tuple | None, env_steps: int, finished: list[float], epsilon: float) -> None:
        """Transitions from `env_steps` env steps into the replay, and the returns of episodes that ended."""
        if transitions is not None:
            self.buffer.add(*transitions)
        self.global_step += env_steps
        if finished:
            self.recent.extend(finished)
            self.log(
                {"train/episode_return": float(np.mean(finished)), "train/return_mean20": float(np.mean(self.recent)),
                 "train/epsilon": epsilon},
                self.global_step,
            )  # fmt: skip

    def update_ready(self) -> bool:
        """Whether a learning round is owed: `train_freq` env steps since the last one, past `learning_starts`."""
        p = self.p
        counted = min(self.global_step, p.total_steps)  # steps that actors ran past the budget earn no rounds
        first = self.last_train < p.learning_starts
        return counted >= p.learning_starts and (first or counted - self.last_train >= p.train_freq)

    def update(self, average_gradients: Any = None) -> int:
        """One learning round of `gradient_steps`, then the target sync when due; returns the round count."""
        p = self.p
        # rounds fall every train_freq env steps from learning_starts, so a round owed is never skipped, however
        # many steps arrived at once (from actor ranks)
        self.last_train = p.learning_starts if self.last_train < p.learning_starts else self.last_train + p.train_freq
        beta = linear(p.priority_beta, 1.0, self.global_step / p.total_steps)
        self.loss, self.td_abs = learn(
            self.q_net, self.target_net, self.optimizer, self.buffer, p, beta, self.rng, self.device, average_gradients
        )
        self.gradient_steps += p.gradient_steps
        self.rounds += 1
        self.sync_target()
        self.periodic()
        if self.done:  # the last round's weights are the run's result
            self.save()
        self.log(
            {"train/loss": self.loss, "train/td_abs": self.td_abs, "train/epsilon": self.epsilon(),
             "charts/sps": self.steps_per_second(), "train/gradient_steps": self.gradient_steps},
            self.global_step,
        )  # fmt: skip
        return self.rounds

    def sync_target(self) -> None:
        """Copy (or Polyak-average) the online net into the target every `target_update_interval` env steps."""
        p = self.p
        if self.global_step - self.last_target >= p.target_update_interval:
            self.last_target = self.global_step
            if p.tau < 1.0 or self.synced_at != self.gradient_steps:  # a hard copy of unchanged weights is a no-op
                soft_update(self.target_net, self.q_net, p.tau)
                self.synced_at = self.gradient_steps

    def greedy_returns(self) -> tuple[float, float]:
        """Mean and std return of greedy (epsilon 0) episodes."""
        return evaluate_q(self.q_net, self.config, self.global_step, self.device)

    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs (the replay too, if `dqn.checkpoint_replay`)."""
        config = self.config
        state = {
            "algo": "dqn",
            "config": config_to_dict(config),
            "net": {"preset": config.net.preset, "dueling": config.net.dueling, "obs_shape": list(self.obs_shape)},
            "num_actions": self.num_actions,
            "model": self.q_net.state_dict(),
            "target": self.target_net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "global_step": self.global_step,
            "gradient_steps": self.gradient_steps,
            "rounds": self.rounds,
            "last_train": self.last_train,
            "last_target": self.last_target,
            "recent_returns": list(self.recent),
            "rng": capture_rng({"rng": self.rng}),
        }
        if self.p.checkpoint_replay:
            state["replay"] = save_replay(self.buffer)
        return state

    def summary(self) -> dict[str, float]:
        """Final figures (with a last evaluation)."""
        return {**super().summary(), "gradient_steps": self.gradient_steps}

    # -- the learner role of `arena selfplay` (see runners/selfplay.py) ---------------------------------------

    max_staleness = None  # off-policy: transitions of any weight version are worth learning from

    @property
    def publish_every(self) -> int:
        """Learning rounds between weight versions."""
        return self.config.distributed.publish_every

    def receive(self, payload: dict[str, Any], stale: bool = False) -> None:
        """One actor's chunk of transitions (off-policy: never stale)."""
        self.add(payload["transitions"], payload["env_steps"], payload["episode_returns"], payload["epsilon"])
        if not self.update_ready():
            self.sync_target()
            self.periodic()

    def acting_state(self) -> dict[str, torch.Tensor]:
        """The weights actors act with."""
        return self.q_net.state_dict()


def train(config: DQNConfig, run: Any) -> dict[str, float]:
    """Train DQN as `config` says, logging to and checkpointing in `run`; returns the final figures."""
    if is_recurrent(config.net.preset):
        raise ArenaError(f"net.preset {config.net.preset!r} is recurrent; DQN here takes feed-forward presets")
    device = resolve_device(config.run.device)
    if config.run.torch_threads:
        torch.set_num_threads(config.run.torch_threads)
    seed = config.run.seed
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    learner = DQNLearner(config, run, device, *env_spec(config))
    explorer = Explorer(config, learner.q_net, device, learner.rng)  # one rng: exploration, replay, env seeds
    n = config.env.num_envs
    try:
        with ProgressBar(config.dqn.total_steps, f"dqn {config.env.id}", completed=learner.global_step) as bar:
            while not learner.done:
                epsilon = learner.epsilon()
                transitions, finished = explorer.step(epsilon)
                learner.add(transitions, n, finished, epsilon)
                trained = False
                while learner.update_ready():
                    learner.update()
                    trained = True
                learner.sync_target()
                if trained:
                    recent = float(np.mean(learner.recent)) if learner.recent else None
                    bar.update(completed=learner.global_step, return_=recent, loss=learner.loss)
                learner.periodic()
    except KeyboardInterrupt:
        learner.save()
        raise
    finally:
        explorer.close()
    learner.save()
    result = learner.summary()
    run.tracker.summary(result)
    return result


def env_spec(config: DQNConfig) -> tuple[tuple[int, ...], np.dtype, int, bool]:
    """(observation shape, observation dtype, number of actions, whether it gives legal masks) of the env."""
    env = make_env(config.env)
    try:
        space = env.observation_space
        obs_shape, num_actions, masked = space_shapes(space, env.action_space)
    finally:
        env.close()
    return obs_shape, (space["observation"] if masked else space).dtype, num_actions, masked


def learner_role(config: DQNConfig, run: Any, device: torch.device, num_actors: int) -> DQNLearner:
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


def learn(
    q_net, target_net, optimizer, buffer: ReplayBuffer, p: DQNParams, beta: float, rng, device, average_gradients=None
):
    """One learning round of `p.gradient_steps` steps; returns (last loss, mean |TD error| of the last batch).

    `average_gradients(grads)`: called between backward and the optimizer step (several learner ranks).
    """
    loss = td = torch.zeros(1)
    if buffer.tree is not None:  # priorities change after every step: sample one batch at a time
        for _ in range(p.gradient_steps):
            batch = buffer.sample_prioritized(p.batch_size, beta, rng)
            loss, td = gradient_step(q_net, target_net, optimizer, to_tensors(batch, device), p, average_gradients)
            buffer.update_priorities(batch.indices, td.cpu().numpy())
        return float(loss), float(td.abs().mean())
    # uniform: draw the whole round's indices at once, gather in chunks that fit in a few MB
    per_sample = buffer.obs[0].nbytes * 2 + 64
    chunk = max(1, min(p.gradient_steps, (64 << 20) // (per_sample * p.batch_size)))
    done = 0
    while done < p.gradient_steps:
        k = min(chunk, p.gradient_steps - done)
        tensors = to_tensors(buffer.gather(buffer.sample_indices((k, p.batch_size), rng)), device)  # [k, B, ...]
        del tensors["weights"]  # uniform sampling: all ones
        # the target net does not change within a round: value all the round's next states in one big call
        with torch.no_grad():
            next_obs = tensors["next_obs"].flatten(0, 1)  # [k * B, ...]
            masks = tensors["next_masks"].flatten(0, 1) if "next_masks" in tensors else None
            tensors["next_q_target"] = target_net(next_obs, masks).unflatten(0, (k, p.batch_size))  # [k, B, A]
        for j in range(k):
            batch_j = {key: v[j] for key, v in tensors.items()}
            loss, td = gradient_step(q_net, target_net, optimizer, batch_j, p, average_gradients)
        done += k
    return float(loss), float(td.abs().mean())


def gradient_step(q_net, target_net, optimizer, batch: dict[str, torch.Tensor], p: DQNParams, average_gradients=None):
    """One Adam step on the TD loss; returns (loss, td errors)."""
    loss, td = td_loss(q_net, target_net, batch, p.double)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if average_gradients is not None:
        average_gradients([q.grad for q in q_net.parameters()])
    nn.utils.clip_grad_norm_(q_net.parameters(), p.max_grad_norm, foreach=True)
    optimizer.step()
    return loss.detach(), td


def to_tensors(batch: Batch, device: torch.device) -> dict[str, torch.Tensor]:
    """Numpy batch -> tensors on `device` (zero-copy on CPU)."""
    out = {
        "obs": torch.from_numpy(batch.obs).to(device),
        "actions": torch.from_numpy(batch.actions).to(device),
        "rewards": torch.from_numpy(batch.rewards).to(device),
        "next_obs": torch.from_numpy(batch.next_obs).to(device),
        "discounts": torch.from_numpy(batch.discounts).to(device),
        "weights": torch.from_numpy(batch.weights).to(device),
    }
    if batch.next_masks is not None:
        out["next_masks"] = torch.from_numpy(batch.next_masks).to(device)
    return out


@torch.no_grad()
def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """target <- tau * source + (1 - tau) * target (tau 1: a copy)."""
    target_params, source_params = list(target.parameters()), list(source.parameters())
    if tau >= 1.0:
        torch._foreach_copy_(target_params, source_params)
    else:
        torch._foreach_lerp_(target_params, source_params, tau)
    for t, s in zip(target.buffers(), source.buffers(), strict=True):  # batch-norm statistics
        t.copy_(s)


def random_actions(rng: np.random.Generator, n: int, num_actions: int, mask: np.ndarray | None) -> np.ndarray:
    """Uniform actions, legal ones only when a mask is given."""
    if mask is None:
        return rng.integers(0, num_actions, size=n)
    scores = rng.random((n, num_actions)) * mask  # illegal actions score 0, legal ones (0, 1)
    return scores.argmax(-1)


def greedy_act(q_net: QNetwork):
    """The epsilon-0 policy of `q_net` as an `evaluate` callable."""

    def act(obs, mask, state, done):
        return q_net(obs, mask).argmax(-1), state

    return act


def evaluate_q(q_net: QNetwork, config: DQNConfig, step: int, device: torch.device) -> tuple[float, float]:
    """Mean and std return of greedy episodes on fresh envs."""
    return evaluate(greedy_act(q_net), config.env, config.eval.episodes, 10**6 + config.run.seed + step, device)


def save_replay(buffer: ReplayBuffer) -> dict[str, Any]:
    """The filled part of the buffer as tensors (checkpoints refuse numpy arrays)."""
    k = buffer.size
    out: dict[str, Any] = {"pos": buffer.pos, "size": k, "max_priority": buffer.max_priority}
    for name in ("obs", "next_obs", "actions", "rewards", "discounts", "next_masks"):
        array = getattr(buffer, name)
        if array is not None:
            out[name] = torch.from_numpy(array[:k].copy())
    if buffer.tree is not None:
        out["priorities"] = torch.from_numpy(buffer.tree.leaves(np.arange(k)).copy())
    return out


def load_replay(buffer: ReplayBuffer, saved: dict[str, Any]) -> None:
    """Refill a fresh buffer from `save_replay`'s output."""
    k = saved["size"]
    for name in ("obs", "next_obs", "actions", "rewards", "discounts", "next_masks"):
        if name in saved and getattr(buffer, name) is not None:
            getattr(buffer, name)[:k] = saved[name].numpy()
    buffer.pos, buffer.size, buffer.max_priority = saved["pos"], k, saved["max_priority"]
    if buffer.tree is not None and "priorities" in saved:
        buffer.tree.update(np.arange(k), saved["priorities"].numpy())


def check_shapes(checkpoint: dict[str, Any], obs_shape: tuple[int, ...], num_actions: int, where: str) -> None:
    """Refuse a checkpoint whose network was built for other observations or actions."""
    saved = tuple(checkpoint["net"]["obs_shape"])
    if saved != tuple(obs_shape) or checkpoint["num_actions"] != num_actions:
        raise ArenaError(
            f"checkpoint in {where} was trained on observations {saved} with {checkpoint['num_actions']} actions; "
            f"this env gives {tuple(obs_shape)} with {num_actions}"
        )


def model_from_checkpoint(checkpoint: dict[str, Any]) -> QNetwork:
    """Rebuild the trained Q-network from a DQN checkpoint, without its run dir."""
    net = checkpoint["net"]
    model = QNetwork(net["preset"], tuple(net["obs_shape"]), checkpoint["num_actions"], net["dueling"])
    model.load_state_dict(checkpoint["model"])
    return model.eval()


# ---------------------------------------------------------------------------------------------------------------
# A trained Q-network as a tournament Agent


class DQNAgent(Agent):
    """A Q-network trained on a board game, playing the legal action of highest value."""

    def __init__(self, game: Any, model: QNetwork, name: str) -> None:
        super().__init__(game)
        self.model, self.name = model, name

    def reset(self, seed: int | None = None) -> None:
        """Nothing to forget: the policy is deterministic and memoryless."""

    @torch.inference_mode()
    def act(self, state: Any) -> int:
        """The greedy move in `state` (illegal actions are valued -inf)."""
        obs = torch.as_tensor(state.observation()).unsqueeze(0)  # [1, C, H, W]
        mask = torch.as_tensor(state.legal_mask()).unsqueeze(0)  # [1, A]
        return int(self.model(obs, mask).argmax(-1))


def load_agent(game: Any, path: str) -> DQNAgent:
    """`dqn:<checkpoint | run dir | run/latest>`: a trained DQN policy for `game`."""
    file, checkpoint = load_newest_checkpoint(path)  # a run dir's truncated newest file falls back to the previous
    if checkpoint.get("algo") != "dqn":
        raise ArenaError(f"{file} is a {checkpoint.get('algo', 'non-DQN')} checkpoint, not a DQN one")
    check_shapes(checkpoint, tuple(game.obs_shape), game.num_actions, str(file))
    return DQNAgent(game, model_from_checkpoint(checkpoint), f"dqn:{path}")
