"""DQN's loss and update: the TD loss (double, n-step, importance weights), one gradient step, target updates."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from algorithms.buffers import Batch, ReplayBuffer
from algorithms.dqn.config import DQNParams
from algorithms.nets import QNetwork


class TensorBatch(NamedTuple):
    """A minibatch as tensors on the learner's device (leading axis B, or [k, B] for a whole round)."""

    obs: torch.Tensor  # [B, *obs_shape]
    actions: torch.Tensor  # [B] int64
    rewards: torch.Tensor  # [B] n-step discounted sums
    next_obs: torch.Tensor  # [B, *obs_shape]
    discounts: torch.Tensor  # [B] gamma^m, or 0 after a terminal step
    weights: torch.Tensor | None = None  # [B] importance weights (prioritized replay); None: uniform
    next_masks: torch.Tensor | None = None  # [B, A] legal actions at next_obs (board games)
    next_q_target: torch.Tensor | None = None  # [B, A] the target net's values at next_obs, if computed already


def td_loss(
    q_net: QNetwork, target_net: QNetwork, batch: TensorBatch, double: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Importance-weighted Huber loss against `R + discount * Q_target(next, a*)`; returns (loss, td errors [B]).

    `batch.next_q_target` may hold the target net's values already (computed for a whole round at once).
    """
    with torch.no_grad():
        mask = batch.next_masks
        next_q_target = batch.next_q_target
        if next_q_target is None:
            next_q_target = target_net(batch.next_obs, mask)  # [B, A], -inf where illegal
        if double:
            best = q_net(batch.next_obs, mask).argmax(-1, keepdim=True)  # [B, 1]
            next_q = next_q_target.gather(1, best).squeeze(1)
        else:
            next_q = next_q_target.max(-1).values
        discounts = batch.discounts
        # terminal next states bootstrap nothing (and may have no legal action: -inf * 0 would be NaN)
        next_q = torch.where(discounts > 0, next_q, torch.zeros_like(next_q))
        target = batch.rewards + discounts * next_q  # [B]
    q = q_net(batch.obs).gather(1, batch.actions.unsqueeze(1)).squeeze(1)  # [B]
    td = q - target
    if batch.weights is not None:  # prioritized replay: importance weights
        loss = (batch.weights * F.smooth_l1_loss(q, target, reduction="none")).mean()
    else:
        loss = F.smooth_l1_loss(q, target)
    return loss, td.detach()


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
        tensors = tensors._replace(weights=None)  # uniform sampling: all ones
        # the target net does not change within a round: value all the round's next states in one big call
        with torch.no_grad():
            next_obs = tensors.next_obs.flatten(0, 1)  # [k * B, ...]
            masks = tensors.next_masks.flatten(0, 1) if tensors.next_masks is not None else None
            next_q_target = target_net(next_obs, masks).unflatten(0, (k, p.batch_size))  # [k, B, A]
        tensors = tensors._replace(next_q_target=next_q_target)
        for j in range(k):
            batch_j = TensorBatch(*(None if v is None else v[j] for v in tensors))
            loss, td = gradient_step(q_net, target_net, optimizer, batch_j, p, average_gradients)
        done += k
    return float(loss), float(td.abs().mean())


def gradient_step(q_net, target_net, optimizer, batch: TensorBatch, p: DQNParams, average_gradients=None):
    """One Adam step on the TD loss; returns (loss, td errors)."""
    loss, td = td_loss(q_net, target_net, batch, p.double)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if average_gradients is not None:
        average_gradients([q.grad for q in q_net.parameters()])
    nn.utils.clip_grad_norm_(q_net.parameters(), p.max_grad_norm, foreach=True)
    optimizer.step()
    return loss.detach(), td


def to_tensors(batch: Batch, device: torch.device) -> TensorBatch:
    """Numpy batch -> tensors on `device` (zero-copy on CPU)."""
    return TensorBatch(
        obs=torch.from_numpy(batch.obs).to(device),
        actions=torch.from_numpy(batch.actions).to(device),
        rewards=torch.from_numpy(batch.rewards).to(device),
        next_obs=torch.from_numpy(batch.next_obs).to(device),
        discounts=torch.from_numpy(batch.discounts).to(device),
        weights=torch.from_numpy(batch.weights).to(device),
        next_masks=None if batch.next_masks is None else torch.from_numpy(batch.next_masks).to(device),
    )


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
