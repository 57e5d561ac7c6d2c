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
from agents.nets import ActorCritic, State, is_recurrent, make_adam
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
class NetConfig:
    """The network: a preset from `agents.nets.PRESETS`."""

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
# Loop


def train(config: PPOConfig, run: Any) -> dict[str, float]:
    """Train PPO as `config` says, logging to and checkpointing in `run`; returns the final figures."""
    p = config.ppo
    device = resolve_device(config.run.device)
    if config.run.torch_threads:
        torch.set_num_threads(config.run.torch_threads)
    seed = config.run.seed
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)  # env reset seeds

    envs = make_vector_env(config.env)
    obs_shape, num_actions, masked = space_shapes(envs.single_observation_space, envs.single_action_space)
    recurrent = is_recurrent(config.net.preset)
    model = ActorCritic(config.net.preset, obs_shape, num_actions, config.net.shared, config.net.head_hidden).to(device)
    optimizer = make_adam(model.parameters(), p.learning_rate, eps=1e-5)

    n, steps = config.env.num_envs, p.num_steps
    batch_size = n * steps
    num_updates = math.ceil(p.total_steps / batch_size)
    if recurrent:
        envs_per_mb = max(1, min(n, p.minibatch_size // steps))  # whole sequences per minibatch
        if n % envs_per_mb:
            raise ArenaError(
                f"recurrent PPO splits the {n} envs into minibatches of {envs_per_mb} whole sequences "
                f"(ppo.minibatch_size {p.minibatch_size} // ppo.num_steps {steps}); choose sizes that divide"
            )
    global_step, update = 0, 0
    recent: deque[float] = deque(maxlen=20)  # returns of the last 20 training episodes
    best_mean20 = -math.inf
    checkpoint = run.restore()
    if checkpoint is not None:
        check_shapes(checkpoint, obs_shape, num_actions, str(run.path))
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        global_step, update = checkpoint["global_step"], checkpoint["update"]
        recent.extend(checkpoint["recent_returns"])
        best_mean20 = checkpoint["best_mean20"]
        restore_rng(checkpoint["rng"], {"env": rng})

    # Rollout storage, preallocated once.  T = num_steps, N = num_envs
    space = envs.single_observation_space
    obs_dtype = torch.from_numpy(np.zeros(0, (space["observation"] if masked else space).dtype)).dtype
    obs_buf = torch.zeros((steps, n, *obs_shape), dtype=obs_dtype, device=device)  # [T, N, ...] (uint8 pixels stay)
    mask_buf = torch.ones((steps, n, num_actions), dtype=torch.bool, device=device)  # [T, N, A]
    actions_buf = torch.zeros((steps, n), dtype=torch.long, device=device)  # [T, N]
    logp_buf = torch.zeros((steps, n), device=device)  # [T, N]
    values_buf = torch.zeros((steps, n), device=device)  # [T, N]
    rewards = np.zeros((steps, n), dtype=np.float32)  # [T, N]
    dones = np.zeros((steps, n), dtype=np.float32)  # [T, N]: obs[t] starts a new episode

    raw, _ = envs.reset(seed=int(rng.integers(2**31)))
    obs_np, mask_np = split_obs(raw)
    next_obs = torch.as_tensor(obs_np, device=device)
    next_mask = None if mask_np is None else torch.as_tensor(mask_np, device=device)
    next_done = torch.zeros(n, device=device)
    state = model.initial_state(n, device)
    episode_return = np.zeros(n)
    episode_length = np.zeros(n, dtype=np.int64)
    next_checkpoint = (global_step // config.run.checkpoint_every + 1) * config.run.checkpoint_every
    next_eval = (global_step // config.eval.every + 1) * config.eval.every if config.eval.every else math.inf
    start_time, start_step = time.perf_counter(), global_step
    stats: dict[str, torch.Tensor] = {}
    collect_time = 0.0  # seconds spent stepping envs and acting (for raw rollout steps/s)
    description = f"ppo {config.env.id}" + (" (recurrent)" if recurrent else "")

    def state_dict() -> dict[str, Any]:
        return {
            "algo": "ppo",
            "config": config_to_dict(config),
            "net": {
                "preset": config.net.preset,
                "shared": model.shared,
                "head_hidden": list(config.net.head_hidden),
                "obs_shape": list(obs_shape),
            },
            "num_actions": num_actions,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "global_step": global_step,
            "update": update,
            "recent_returns": list(recent),
            "best_mean20": best_mean20,
            "rng": capture_rng({"env": rng}),
        }

    try:
        with ProgressBar(num_updates * batch_size, description, completed=global_step) as bar:
            while update < num_updates:
                update += 1
                frac = 1.0 - (update - 1) / num_updates  # linear decay, 1 -> ~0
                lr = p.learning_rate * frac if p.anneal_lr else p.learning_rate
                clip = p.clip_coef * frac if p.anneal_clip else p.clip_coef
                for group in optimizer.param_groups:
                    group["lr"] = lr
                initial_state = None if state is None else tuple(s.clone() for s in state)
                finished: list[float] = []
                lengths: list[int] = []

                # -- collect a rollout --------------------------------------------------------------------
                collect_start = time.perf_counter()
                with torch.inference_mode():
                    for t in range(steps):
                        obs_buf[t] = next_obs
                        dones[t] = next_done.cpu().numpy()
                        if next_mask is not None:
                            mask_buf[t] = next_mask
                        logits, value, state = model(next_obs, state, next_done, next_mask)  # [N, A], [N]
                        probs = logits.softmax(-1)
                        action = torch.multinomial(probs, 1).squeeze(1)  # [N]
                        logp_buf[t] = probs.gather(1, action.unsqueeze(1)).squeeze(1).log()
                        actions_buf[t] = action
                        values_buf[t] = value
                        raw, reward, terminated, truncated, info = envs.step(action.cpu().numpy())
                        global_step += n
                        done = terminated | truncated
                        episode_return += reward
                        episode_length += 1
                        reward = reward.astype(np.float32)
                        if truncated.any():  # time limit, not a real end: bootstrap from the last observation
                            cut = truncated & ~terminated
                            if cut.any():
                                final_obs, _ = final_observations(info, cut)
                                final_obs_t = torch.as_tensor(final_obs, device=device)
                                sub = None if state is None else tuple(s[:, torch.as_tensor(cut)] for s in state)
                                final_value = model.value(final_obs_t, sub).cpu().numpy()
                                reward[cut] += p.gamma * final_value
                        rewards[t] = reward
                        if done.any():
                            for i in np.flatnonzero(done):
                                finished.append(float(episode_return[i]))
                                lengths.append(int(episode_length[i]))
                            episode_return[done] = 0.0
                            episode_length[done] = 0
                        obs_np, mask_np = split_obs(raw)
                        next_obs = torch.as_tensor(obs_np, device=device)
                        next_mask = None if mask_np is None else torch.as_tensor(mask_np, device=device)
                        next_done = torch.as_tensor(done, dtype=torch.float32, device=device)
                    next_value = model.value(next_obs, state, next_done).cpu().numpy()
                collect_time += time.perf_counter() - collect_start

                values_np = values_buf.cpu().numpy()
                advantages_np = gae(rewards, values_np, dones, next_value, next_done.cpu().numpy(), p)
                advantages = torch.as_tensor(advantages_np, device=device)  # [T, N]
                returns = advantages + values_buf
                dones_t = torch.as_tensor(dones, device=device)

                # -- learn from it ------------------------------------------------------------------------
                model.train()
                data = {
                    "obs": obs_buf,
                    "actions": actions_buf,
                    "logp": logp_buf,
                    "values": values_buf,
                    "advantages": advantages,
                    "returns": returns,
                }
                if masked:
                    data["mask"] = mask_buf
                if recurrent:
                    data["done"] = dones_t
                else:  # feed-forward: the time axis does not matter, flatten once
                    data = {k: v.reshape(batch_size, *v.shape[2:]) for k, v in data.items()}
                whole = not recurrent and p.minibatch_size >= batch_size
                if whole and p.norm_adv:  # the one minibatch is the rollout: normalise once, not every epoch
                    adv = data["advantages"]
                    data["advantages"] = (adv - adv.mean()) / (adv.std() + 1e-8)
                stop = False
                for epoch in range(p.update_epochs):
                    for idx in minibatches(batch_size, n, steps, p.minibatch_size, recurrent, device):
                        if recurrent:
                            batch = {k: v[:, idx] for k, v in data.items()}
                            start = tuple(s[:, idx] for s in initial_state)
                        else:
                            batch = data if idx is None else {k: v[idx] for k, v in data.items()}
                            start = None
                        want_stats = bool(p.target_kl) or (epoch == p.update_epochs - 1)
                        loss, step_stats = ppo_loss(model, batch, p, clip, start, whole, want_stats)
                        stats = step_stats or stats
                        optimizer.zero_grad(set_to_none=True)
                        loss.backward()
                        nn.utils.clip_grad_norm_(model.parameters(), p.max_grad_norm, foreach=True)
                        optimizer.step()
                        if p.target_kl and stats["approx_kl"] > p.target_kl:
                            stop = True
                            break
                    if stop:
                        break

                # -- report -------------------------------------------------------------------------------
                recent.extend(finished)
                mean20 = float(np.mean(recent)) if recent else math.nan
                if len(recent) == recent.maxlen:
                    best_mean20 = max(best_mean20, mean20)
                elapsed = time.perf_counter() - start_time
                figures = {f"train/{k}": float(v) for k, v in stats.items()}
                figures |= {"train/learning_rate": lr, "train/clip": clip}
                figures["charts/sps"] = (global_step - start_step) / elapsed
                figures["train/explained_variance"] = explained_variance(values_np, returns.cpu().numpy())
                if finished:
                    figures |= {"train/episode_return": float(np.mean(finished)), "train/return_mean20": mean20}
                    figures["train/episode_length"] = float(np.mean(lengths))
                run.log(figures, step=global_step)
                bar.update(completed=global_step, return_=mean20, loss=float(loss.detach()))
                if global_step >= next_eval:
                    next_eval += config.eval.every
                    mean, std = evaluate_model(model, config, global_step, device)
                    run.log({"eval/return_mean": mean, "eval/return_std": std}, step=global_step)
                if global_step >= next_checkpoint:
                    next_checkpoint += config.run.checkpoint_every
                    run.save(state_dict(), step=global_step)
                if p.target_return and len(recent) == recent.maxlen and mean20 >= p.target_return:
                    break
    except KeyboardInterrupt:
        run.save(state_dict(), step=global_step)
        raise
    finally:
        envs.close()

    run.save(state_dict(), step=global_step)
    elapsed = time.perf_counter() - start_time
    result = {
        "global_step": global_step,
        "train/return_mean20": float(np.mean(recent)) if recent else math.nan,
        "train/best_return_mean20": best_mean20,
        "time_s": elapsed,
        "charts/sps": (global_step - start_step) / max(elapsed, 1e-9),
        "charts/rollout_sps": (global_step - start_step) / max(collect_time, 1e-9),
    }
    if config.eval.episodes:
        mean, std = evaluate_model(model, config, global_step, device)
        result |= {"eval/return_mean": mean, "eval/return_std": std}
        run.log({"eval/return_mean": mean, "eval/return_std": std}, step=global_step)
    run.tracker.summary(result)
    return result


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
    from runners.checkpoint import load_checkpoint_file, resolve_checkpoint_path

    file = resolve_checkpoint_path(path)
    checkpoint = load_checkpoint_file(file)
    if checkpoint.get("algo") != "ppo":
        raise ArenaError(f"{file} is a {checkpoint.get('algo', 'non-PPO')} checkpoint, not a PPO one")
    check_shapes(checkpoint, tuple(game.obs_shape), game.num_actions, str(file))
    return PPOAgent(game, model_from_checkpoint(checkpoint), f"ppo:{path}", greedy, seed)
