"""The loss step: Adam on policy cross-entropy + value MSE (+ the draw head's cross-entropy; L2 through weight
decay), and the net it trains."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from algorithms.alphazero.config import AZConfig, LearnConfig
from algorithms.alphazero.replay import Samples
from algorithms.nets import PolicyValueNet
from core.device import use_bf16
from envs.base import Game


class Learner:
    """Adam on policy cross-entropy + value MSE (+ draw cross-entropy with a draw head), L2 through weight decay."""

    def __init__(
        self,
        net: PolicyValueNet,
        config: LearnConfig,
        device: torch.device,
        memory_format: torch.memory_format = torch.channels_last,
    ) -> None:
        # oneDNN's convolutions (and cuDNN's under bf16) run faster on NHWC images than on NCHW
        # (`benchmarks/learner_step.py` prints both); the net's values and its state_dict are the same either way.
        self.memory_format = memory_format
        self.net = net.to(memory_format=memory_format)
        self.config = config
        self.device = device
        self.optimizer = torch.optim.Adam(net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
        self.steps = 0
        self.bf16 = use_bf16(device, config.precision)

    def learning_rate(self) -> float:
        """The step size of the next update under the schedule."""
        config = self.config
        if config.lr_schedule == "constant":
            return config.learning_rate
        progress = min(self.steps / config.total_steps, 1.0)
        final = config.lr_final_fraction
        return config.learning_rate * (final + (1 - final) * 0.5 * (1 + math.cos(math.pi * progress)))

    def update(self, batch: Samples, allreduce: Any = None) -> dict[str, float]:
        """One gradient step on a minibatch; `allreduce(grads)` averages gradients over learners first."""
        self.net.train()
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate()
        obs = torch.from_numpy(batch.obs).to(self.device, memory_format=self.memory_format)
        target_policy = torch.from_numpy(batch.policy).to(self.device)  # [B, A]
        target_value = torch.from_numpy(batch.value).to(self.device)  # [B]
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            logits, values, draw_logits = self.net.heads(obs)
        log_probs = F.log_softmax(logits.float(), dim=-1)
        policy_loss = -(target_policy * log_probs).sum(-1).mean()
        value_loss = F.mse_loss(values.float(), target_value)
        loss = policy_loss + value_loss
        figures = {}
        if draw_logits is not None:
            target_draw = torch.from_numpy(batch.draw).to(self.device)  # [B]
            draw_loss = F.binary_cross_entropy_with_logits(draw_logits.float(), target_draw)
            loss = loss + draw_loss
            figures["learn/draw_loss"] = draw_loss.item()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if allreduce is not None:
            allreduce([p.grad for p in self.net.parameters() if p.grad is not None])
        self.optimizer.step()
        self.steps += 1
        # the policy's entropy against the targets' shows whether the net follows the search
        entropy = -(log_probs.exp() * log_probs).nan_to_num().sum(-1).mean()
        return {
            "learn/loss": loss.item(),
            "learn/policy_loss": policy_loss.item(),
            "learn/value_loss": value_loss.item(),
            "learn/policy_entropy": entropy.item(),
            "learn/learning_rate": self.optimizer.param_groups[0]["lr"],
            **figures,
        }


def build_net(config: AZConfig, game: Game, device: torch.device) -> PolicyValueNet:
    """The policy/value net for `game`, seeded by the run's seed."""
    torch.manual_seed(config.run.seed)
    return PolicyValueNet(config.net, game.obs_shape, game.num_actions, draw_head=config.draw_head).to(device)
