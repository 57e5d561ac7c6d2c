"""PPO's learner (schedules, epochs of minibatch updates, reports, evaluation, checkpoints) and `train`."""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np
import torch
from torch import nn

from algorithms.nets import ActorCritic, is_recurrent, make_adam
from algorithms.ppo.config import PPOConfig, env_shapes
from algorithms.ppo.loss import explained_variance, ppo_loss
from algorithms.ppo.rollout import Rollout, RolloutCollector, minibatches
from algorithms.rl_envs import EnvLearner, check_shapes, evaluate, seed_everything
from core.checkpoint import capture_rng, restore_rng
from core.config import config_to_dict
from core.device import resolve_device
from core.errors import ArenaError
from core.progress import ProgressBar
from core.run import Run


class PPOLearner(EnvLearner):
    """PPO's learner: model, optimizer, schedules, epochs of minibatch updates, reports, evaluation, checkpoints.

    `train` feeds it its own collector's rollouts; under `arena selfplay` it takes every actor's rollout of one
    weight version side by side (synchronous PPO: the update waits for all of them, then weights go back).
    """

    def __init__(
        self, config: PPOConfig, run: Run | None, device: torch.device, obs_shape: tuple[int, ...], num_actions: int,
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
        """Epochs of clipped-surrogate updates on one rollout; returns the update's figures (no I/O: the caller
        logs them, then evaluates and checkpoints when due).

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

        # -- the update's figures -----------------------------------------------------------------------------
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
        figures = self.learn(Rollout.concatenate(rollouts), average_gradients)
        self.log(figures, self.global_step)
        self.periodic()  # greedy evaluation and a checkpoint when their env-step intervals come round
        if self.done:
            self.save()
        return self.updates

    def acting_state(self) -> dict[str, torch.Tensor]:
        """The weights actors act with."""
        return self.model.state_dict()


def train(config: PPOConfig, run: Run) -> dict[str, float]:
    """Train PPO as `config` says, logging to and checkpointing in `run`; returns the final figures."""
    device = resolve_device(config.run.device)
    seed_everything(config.run.seed, config.run.torch_threads)
    obs_shape, num_actions = env_shapes(config)
    learner = PPOLearner(config, run, device, obs_shape, num_actions, config.env.num_envs)
    collector = RolloutCollector(config, learner.model, device, learner.rng)
    description = f"ppo {config.env.id}" + (" (recurrent)" if learner.recurrent else "")
    try:
        with ProgressBar(learner.num_updates * learner.batch_size, description, completed=learner.global_step) as bar:
            while not learner.done:
                figures = learner.learn(collector.collect())  # one update: epochs of minibatches on a rollout
                learner.log(figures, learner.global_step)
                learner.periodic()  # greedy evaluation and a checkpoint when their env-step intervals come round
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
