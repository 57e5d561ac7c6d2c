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
from agents.buffers import Batch, NStepFolder, ReplayBuffer
from agents.nets import QNetwork, is_recurrent, make_adam
from agents.rl_envs import (
    EnvConfig,
    evaluate,
    final_observations,
    make_vector_env,
    space_shapes,
    split_obs,
)
from envs.errors import ArenaError
from runners.checkpoint import capture_rng, restore_rng
from runners.config import RunConfig, TrackingConfig, config_to_dict, param, section
from runners.progress import ProgressBar
from runners.run import resolve_device


@dataclass(frozen=True)
class QNetConfig:
    """The Q-network: a feed-forward preset from `agents.nets.PRESETS` and a head."""

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
# Loop


def train(config: DQNConfig, run: Any) -> dict[str, float]:
    """Train DQN as `config` says, logging to and checkpointing in `run`; returns the final figures."""
    p = config.dqn
    if is_recurrent(config.net.preset):
        raise ArenaError(f"net.preset {config.net.preset!r} is recurrent; DQN here takes feed-forward presets")
    device = resolve_device(config.run.device)
    if config.run.torch_threads:
        torch.set_num_threads(config.run.torch_threads)
    seed = config.run.seed
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)  # exploration, replay sampling, env reset seeds

    envs = make_vector_env(config.env)
    obs_space = envs.single_observation_space
    obs_shape, num_actions, masked = space_shapes(obs_space, envs.single_action_space)
    obs_dtype = (obs_space["observation"] if masked else obs_space).dtype
    q_net = QNetwork(config.net.preset, obs_shape, num_actions, config.net.dueling).to(device)
    target_net = QNetwork(config.net.preset, obs_shape, num_actions, config.net.dueling).to(device)
    target_net.load_state_dict(q_net.state_dict())
    target_net.requires_grad_(False)
    optimizer = make_adam(q_net.parameters(), p.learning_rate)
    buffer = ReplayBuffer(
        p.buffer_size, obs_shape, obs_dtype, num_actions if masked else None, p.prioritized, p.priority_alpha
    )
    folder = NStepFolder(config.env.num_envs, p.n_step, p.gamma)
    n = config.env.num_envs

    global_step, gradient_steps, last_train, last_target = 0, 0, 0, 0
    recent: deque[float] = deque(maxlen=20)
    checkpoint = run.restore()
    if checkpoint is not None:
        check_shapes(checkpoint, obs_shape, num_actions, str(run.path))
        q_net.load_state_dict(checkpoint["model"])
        target_net.load_state_dict(checkpoint["target"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        global_step, gradient_steps = checkpoint["global_step"], checkpoint["gradient_steps"]
        last_train, last_target = checkpoint["last_train"], checkpoint["last_target"]
        recent.extend(checkpoint["recent_returns"])
        restore_rng(checkpoint["rng"], {"rng": rng})
        if "replay" in checkpoint:
            load_replay(buffer, checkpoint["replay"])

    raw, _ = envs.reset(seed=int(rng.integers(2**31)))
    obs, mask = split_obs(raw)
    episode_return = np.zeros(n)
    synced_at = gradient_steps  # the target equals the online net as of this many gradient steps
    next_checkpoint = (global_step // config.run.checkpoint_every + 1) * config.run.checkpoint_every
    next_eval = (global_step // config.eval.every + 1) * config.eval.every if config.eval.every else math.inf
    start_time, start_step = time.perf_counter(), global_step
    loss_value, td_abs = math.nan, math.nan
    decay_steps = p.exploration_fraction * p.total_steps

    def state_dict() -> dict[str, Any]:
        state = {
            "algo": "dqn",
            "config": config_to_dict(config),
            "net": {"preset": config.net.preset, "dueling": config.net.dueling, "obs_shape": list(obs_shape)},
            "num_actions": num_actions,
            "model": q_net.state_dict(),
            "target": target_net.state_dict(),
            "optimizer": optimizer.state_dict(),
            "global_step": global_step,
            "gradient_steps": gradient_steps,
            "last_train": last_train,
            "last_target": last_target,
            "recent_returns": list(recent),
            "rng": capture_rng({"rng": rng}),
        }
        if p.checkpoint_replay:
            state["replay"] = save_replay(buffer)
        return state

    try:
        with ProgressBar(p.total_steps, f"dqn {config.env.id}", completed=global_step) as bar:
            while global_step < p.total_steps:
                # -- act: epsilon-greedy over legal actions ---------------------------------------------------
                epsilon = linear(p.exploration_initial_eps, p.exploration_final_eps, global_step / decay_steps)
                if global_step < p.learning_starts:
                    epsilon = 1.0
                explore = rng.random(n) < epsilon
                if explore.all():
                    actions = random_actions(rng, n, num_actions, mask)
                else:
                    with torch.inference_mode():
                        mask_t = None if mask is None else torch.as_tensor(mask, device=device)
                        greedy = q_net(torch.as_tensor(obs, device=device), mask_t).argmax(-1).cpu().numpy()
                    actions = np.where(explore, random_actions(rng, n, num_actions, mask), greedy)
                raw, reward, terminated, truncated, info = envs.step(actions)
                global_step += n
                next_obs, next_mask = split_obs(raw)
                ended = terminated | truncated
                real_next, real_mask = next_obs, next_mask
                if ended.any():  # SAME_STEP autoreset: the true next observation of an ended episode is in info
                    real_next, real_mask = next_obs.copy(), None if next_mask is None else next_mask.copy()
                    finals, final_masks = final_observations(info, ended)
                    real_next[ended] = finals
                    if real_mask is not None:
                        real_mask[ended] = final_masks
                    episode_return += reward
                    recent.extend(episode_return[ended].tolist())
                    run.log(
                        {"train/episode_return": float(np.mean(episode_return[ended])),
                         "train/return_mean20": float(np.mean(recent)), "train/epsilon": epsilon},
                        step=global_step,
                    )  # fmt: skip
                    episode_return[ended] = 0.0
                else:
                    episode_return += reward
                folded = folder.push(obs, actions, reward.astype(np.float32), real_next, terminated, ended, real_mask)
                if folded is not None:
                    buffer.add(*folded)
                obs, mask = next_obs, next_mask

                # -- learn ------------------------------------------------------------------------------------
                if global_step >= p.learning_starts and global_step - last_train >= p.train_freq:
                    last_train = global_step
                    beta = linear(p.priority_beta, 1.0, global_step / p.total_steps)
                    loss_value, td_abs = learn(q_net, target_net, optimizer, buffer, p, beta, rng, device)
                    gradient_steps += p.gradient_steps
                if global_step - last_target >= p.target_update_interval:
                    last_target = global_step
                    if p.tau < 1.0 or synced_at != gradient_steps:  # a hard copy of unchanged weights is a no-op
                        soft_update(target_net, q_net, p.tau)
                        synced_at = gradient_steps

                # -- report -----------------------------------------------------------------------------------
                if last_train == global_step and gradient_steps:
                    elapsed = time.perf_counter() - start_time
                    figures = {"train/loss": loss_value, "train/td_abs": td_abs, "train/epsilon": epsilon}
                    figures |= {
                        "charts/sps": (global_step - start_step) / elapsed,
                        "train/gradient_steps": gradient_steps,
                    }
                    run.log(figures, step=global_step)
                    bar.update(
                        completed=global_step, return_=float(np.mean(recent)) if recent else None, loss=loss_value
                    )
                if global_step >= next_eval:
                    next_eval += config.eval.every
                    mean, std = evaluate_q(q_net, config, global_step, device)
                    run.log({"eval/return_mean": mean, "eval/return_std": std}, step=global_step)
                if global_step >= next_checkpoint:
                    next_checkpoint += config.run.checkpoint_every
                    run.save(state_dict(), step=global_step)
    except KeyboardInterrupt:
        run.save(state_dict(), step=global_step)
        raise
    finally:
        envs.close()

    run.save(state_dict(), step=global_step)
    elapsed = time.perf_counter() - start_time
    result = {
        "global_step": global_step,
        "gradient_steps": gradient_steps,
        "train/return_mean20": float(np.mean(recent)) if recent else math.nan,
        "time_s": elapsed,
        "charts/sps": (global_step - start_step) / max(elapsed, 1e-9),
    }
    if config.eval.episodes:
        mean, std = evaluate_q(q_net, config, global_step, device)
        result |= {"eval/return_mean": mean, "eval/return_std": std}
        run.log({"eval/return_mean": mean, "eval/return_std": std}, step=global_step)
    run.tracker.summary(result)
    return result


def learn(q_net, target_net, optimizer, buffer: ReplayBuffer, p: DQNParams, beta: float, rng, device):
    """One learning round of `p.gradient_steps` steps; returns (last loss, mean |TD error| of the last batch)."""
    loss = td = torch.zeros(1)
    if buffer.tree is not None:  # priorities change after every step: sample one batch at a time
        for _ in range(p.gradient_steps):
            batch = buffer.sample_prioritized(p.batch_size, beta, rng)
            loss, td = gradient_step(q_net, target_net, optimizer, to_tensors(batch, device), p)
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
            loss, td = gradient_step(q_net, target_net, optimizer, {key: v[j] for key, v in tensors.items()}, p)
        done += k
    return float(loss), float(td.abs().mean())


def gradient_step(q_net, target_net, optimizer, batch: dict[str, torch.Tensor], p: DQNParams):
    """One Adam step on the TD loss; returns (loss, td errors)."""
    loss, td = td_loss(q_net, target_net, batch, p.double)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
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
    from runners.checkpoint import load_checkpoint_file, resolve_checkpoint_path

    file = resolve_checkpoint_path(path)
    checkpoint = load_checkpoint_file(file)
    if checkpoint.get("algo") != "dqn":
        raise ArenaError(f"{file} is a {checkpoint.get('algo', 'non-DQN')} checkpoint, not a DQN one")
    check_shapes(checkpoint, tuple(game.obs_shape), game.num_actions, str(file))
    return DQNAgent(game, model_from_checkpoint(checkpoint), f"dqn:{path}")
