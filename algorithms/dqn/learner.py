"""DQN's learner (replay, rounds of gradient steps, reports, evaluation, checkpoints) and `train`."""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np
import torch

from algorithms.buffers import ReplayBuffer
from algorithms.dqn.config import DQNConfig, env_spec
from algorithms.dqn.explorer import Explorer, linear
from algorithms.dqn.loss import learn, soft_update
from algorithms.nets import QNetwork, is_recurrent, make_adam
from algorithms.rl_envs import EnvLearner, check_shapes, evaluate, seed_everything
from core.checkpoint import capture_rng, restore_rng
from core.config import config_to_dict
from core.device import resolve_device
from core.errors import ArenaError
from core.progress import ProgressBar
from core.run import Run


class DQNLearner(EnvLearner):
    """DQN's learner: Q and target nets, optimizer, replay, learning rounds, reports, evaluation, checkpoints.

    Transitions come from `train`'s own Explorer or, under `arena selfplay`, from actor ranks (Ape-X: each
    actor explores with its own epsilon). Either way a round of `gradient_steps` is owed for every
    `train_freq` env steps received, so the replay ratio is the single-process one.
    """

    def __init__(
        self, config: DQNConfig, run: Run | None, device: torch.device, obs_shape: tuple[int, ...], obs_dtype: np.dtype,
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


def train(config: DQNConfig, run: Run) -> dict[str, float]:
    """Train DQN as `config` says, logging to and checkpointing in `run`; returns the final figures."""
    if is_recurrent(config.net.preset):
        raise ArenaError(f"net.preset {config.net.preset!r} is recurrent; DQN here takes feed-forward presets")
    device = resolve_device(config.run.device)
    seed_everything(config.run.seed, config.run.torch_threads)
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
