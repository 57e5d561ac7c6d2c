"""PPO's loss: masked log-probabilities, the clipped surrogate with value clipping and entropy bonus, GAE."""

from __future__ import annotations

import math

import numpy as np
import torch

from algorithms.nets import ActorCritic, RecurrentState
from algorithms.ppo.config import PPOParams


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
    state: RecurrentState = None,
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


def explained_variance(values: np.ndarray, returns: np.ndarray) -> float:
    """1 - Var[returns - values] / Var[returns]: how much of the return the critic predicts."""
    var = returns.var()
    return math.nan if var == 0 else float(1 - (returns - values).var() / var)
