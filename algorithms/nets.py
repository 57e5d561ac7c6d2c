"""Every network in arena: backbones (`MLP`, `NatureCNN`, `ResTower`, `LSTMCore`), heads, and named presets.

All backbones share one signature, `forward(obs, state=None, done=None) -> (features, state)`, so an algorithm
never asks which one it holds. Feed-forward backbones pass `state` through untouched; `LSTMCore` consumes it.
Features are flat, `[B, out_dim]` (or `[T, B, out_dim]` when a recurrent core is fed a sequence).

>>> import torch
>>> net = make_backbone("mlp-64x2", obs_shape=(4,))
>>> features, state = net(torch.zeros(3, 4))
>>> tuple(features.shape), state
((3, 64), None)
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Literal

import torch
from torch import nn

from core.errors import ArenaError

RecurrentState = tuple[torch.Tensor, ...] | None
"""Recurrent state: `(h, c)` for an LSTM, `(h,)` for a GRU, each `[1, B, hidden]`; None for feed-forward nets."""


def layer_init(layer: nn.Module, gain: float = math.sqrt(2), bias: float = 0.0) -> nn.Module:
    """Orthogonal weights, constant bias: the PPO implementation-detail init (Engstrom et al. 2020)."""
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.constant_(layer.bias, bias)
    return layer


_ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU}


# ---------------------------------------------------------------------------------------------------------------
# Backbones


class MLP(nn.Module):
    """Fully connected layers over a flattened observation."""

    def __init__(
        self,
        obs_shape: tuple[int, ...],
        hidden: tuple[int, ...] = (64, 64),
        activation: Literal["tanh", "relu", "gelu"] = "tanh",
    ) -> None:
        super().__init__()
        self.obs_shape = tuple(obs_shape)
        layers: list[nn.Module] = []
        size = math.prod(self.obs_shape)
        for width in hidden:
            layers += [layer_init(nn.Linear(size, width)), _ACTIVATIONS[activation]()]
            size = width
        self.body = nn.Sequential(*layers)
        self.out_dim = size

    def forward(self, obs: torch.Tensor, state: RecurrentState = None, done: torch.Tensor | None = None):
        """obs [B, *obs_shape] -> features [B, out_dim]; state passes through."""
        return self.body(obs.reshape(obs.shape[0], -1).float()), state


class NatureCNN(nn.Module):
    """The DQN Nature paper's convolutions (Mnih et al. 2015) over `[B, C, H, W]` pixels, then a dense layer."""

    def __init__(self, obs_shape: tuple[int, ...], features: int = 512, scale: float = 1 / 255) -> None:
        super().__init__()
        self.obs_shape = tuple(obs_shape)
        self.scale = scale  # uint8 pixels -> [0, 1]
        channels = obs_shape[0]
        self.convs = nn.Sequential(
            layer_init(nn.Conv2d(channels, 32, 8, stride=4)),
            nn.ReLU(),
            layer_init(nn.Conv2d(32, 64, 4, stride=2)),
            nn.ReLU(),
            layer_init(nn.Conv2d(64, 64, 3, stride=1)),
            nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            try:
                flat = self.convs(torch.zeros(1, *obs_shape)).shape[1]
            except RuntimeError as error:
                raise ArenaError(f"NatureCNN needs images of at least 36x36 (C, H, W); got {obs_shape}") from error
        self.dense = nn.Sequential(layer_init(nn.Linear(flat, features)), nn.ReLU())
        self.out_dim = features

    def forward(self, obs: torch.Tensor, state: RecurrentState = None, done: torch.Tensor | None = None):
        """obs [B, C, H, W] (uint8 or float) -> features [B, out_dim]."""
        return self.dense(self.convs(obs.float() * self.scale)), state


class ResidualBlock(nn.Module):
    """conv-bn-relu-conv-bn plus the input, then relu (AlphaZero's block)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, C, H, W] -> [B, C, H, W]."""
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(x + self.bn2(self.conv2(y)))


class ResTower(nn.Module):
    """A residual tower over board planes `[B, C, H, W]`; `trunk` gives the spatial map for AlphaZero's heads."""

    def __init__(self, obs_shape: tuple[int, ...], blocks: int = 5, channels: int = 64) -> None:
        super().__init__()
        self.obs_shape = tuple(obs_shape)
        if len(self.obs_shape) != 3:
            raise ArenaError(f"ResTower needs board planes (C, H, W); got an observation of shape {obs_shape}")
        self.channels = channels
        self.stem = nn.Sequential(
            nn.Conv2d(obs_shape[0], channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU()
        )
        self.blocks = nn.Sequential(*(ResidualBlock(channels) for _ in range(blocks)))
        self.out_dim = channels * obs_shape[1] * obs_shape[2]

    def trunk(self, obs: torch.Tensor) -> torch.Tensor:
        """obs [B, C, H, W] -> spatial features [B, channels, H, W]."""
        return self.blocks(self.stem(obs.float()))

    def forward(self, obs: torch.Tensor, state: RecurrentState = None, done: torch.Tensor | None = None):
        """obs [B, C, H, W] -> features [B, channels * H * W]."""
        return self.trunk(obs).flatten(1), state


class LSTMCore(nn.Module):
    """An encoder backbone followed by an LSTM (or GRU) whose state is zeroed where `done` marks a new episode.

    `done[t]` is True when `obs[t]` is the first observation of a new episode: the state carried into step t is
    reset before step t is processed. Feed a sequence `[T, B, *obs_shape]` (training) or one step
    `[B, *obs_shape]` (acting): both give the same outputs for the same inputs.
    """

    def __init__(self, encoder: nn.Module, hidden_size: int = 128, cell: Literal["lstm", "gru"] = "lstm") -> None:
        super().__init__()
        self.encoder = encoder
        self.obs_shape = encoder.obs_shape
        self.cell = cell
        self.hidden_size = hidden_size
        rnn = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn(encoder.out_dim, hidden_size)
        for name, param in self.rnn.named_parameters():
            if "bias" in name:
                nn.init.constant_(param, 0)
            elif "weight" in name:
                nn.init.orthogonal_(param, 1.0)
        self.out_dim = hidden_size

    def initial_state(self, batch_size: int, device: torch.device | str = "cpu") -> tuple[torch.Tensor, ...]:
        """Zero state for `batch_size` sequences: `(h, c)` or `(h,)`, each `[1, B, hidden]`."""
        zeros = torch.zeros(1, batch_size, self.hidden_size, device=device)
        return (zeros, zeros.clone()) if self.cell == "lstm" else (zeros,)

    def forward(self, obs: torch.Tensor, state: RecurrentState = None, done: torch.Tensor | None = None):
        """obs [T, B, *obs_shape] or [B, *obs_shape], done [T, B] or [B] -> (features [T, B, H] or [B, H], state)."""
        single = obs.dim() == len(self.obs_shape) + 1
        if single:
            obs = obs.unsqueeze(0)
            done = None if done is None else done.unsqueeze(0)
        steps, batch = obs.shape[:2]
        x, _ = self.encoder(obs.reshape(steps * batch, *self.obs_shape))
        x = x.reshape(steps, batch, -1)  # [T, B, F]
        if state is None:
            state = self.initial_state(batch, obs.device)
        if done is None:  # no episode boundaries inside: one fused call
            out, state = self.rnn(x, state if self.cell == "lstm" else state[0])
            state = state if self.cell == "lstm" else (state,)
        else:
            # run fused over each stretch of steps where no env starts a new episode; reset state between
            keep = (1.0 - done.float()).reshape(steps, batch, 1)  # [T, B, 1]
            starts = [0, *(t for t in torch.nonzero(done.reshape(steps, batch).any(1)).flatten().tolist() if t > 0)]
            outs = []
            for t0, t1 in zip(starts, [*starts[1:], steps], strict=True):
                state = tuple(s * keep[t0] for s in state)
                out_t, state = self.rnn(x[t0:t1], state if self.cell == "lstm" else state[0])
                state = state if self.cell == "lstm" else (state,)
                outs.append(out_t)
            out = torch.cat(outs)  # [T, B, H]
        return (out[0] if single else out), state


# ---------------------------------------------------------------------------------------------------------------
# Heads


def mask_logits(logits: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Illegal actions get -inf (so probability exactly 0); `mask` is bool [..., A], True where legal."""
    return logits if mask is None else logits.masked_fill(~mask, float("-inf"))


class PolicyHead(nn.Module):
    """Action logits `[B, A]`, with -inf where the legal mask is False."""

    def __init__(self, in_dim: int, num_actions: int) -> None:
        super().__init__()
        self.linear = layer_init(nn.Linear(in_dim, num_actions), gain=0.01)  # near-uniform first policy

    def forward(self, features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """features [..., F] -> logits [..., A]."""
        return mask_logits(self.linear(features), mask)


class ValueHead(nn.Module):
    """A state value `[B]`."""

    def __init__(self, in_dim: int) -> None:
        super().__init__()
        self.linear = layer_init(nn.Linear(in_dim, 1), gain=1.0)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """features [..., F] -> values [...]."""
        return self.linear(features).squeeze(-1)


class QHead(nn.Module):
    """Action values `[B, A]`; `dueling` splits them into V(s) + A(s, a) - mean_a A(s, a) (Wang et al. 2016)."""

    def __init__(self, in_dim: int, num_actions: int, dueling: bool = False) -> None:
        super().__init__()
        self.dueling = dueling
        self.advantage = nn.Linear(in_dim, num_actions)
        self.value = nn.Linear(in_dim, 1) if dueling else None

    def forward(self, features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """features [..., F] -> Q [..., A], -inf where illegal (so max and argmax see legal actions only)."""
        adv = self.advantage(features)
        if self.value is None:
            return mask_logits(adv, mask)
        if mask is None:
            return self.value(features) + adv - adv.mean(-1, keepdim=True)
        legal = mask.float()
        mean = (adv * legal).sum(-1, keepdim=True) / legal.sum(-1, keepdim=True).clamp(min=1)
        return mask_logits(self.value(features) + adv - mean, mask)


# ---------------------------------------------------------------------------------------------------------------
# Presets and whole models


PRESETS: dict[str, dict[str, Any]] = {
    "flat": {"kind": "mlp", "hidden": (), "activation": "tanh"},
    "mlp-64x1": {"kind": "mlp", "hidden": (64,), "activation": "tanh"},
    "mlp-64x2": {"kind": "mlp", "hidden": (64, 64), "activation": "tanh"},
    "mlp-256x2": {"kind": "mlp", "hidden": (256, 256), "activation": "relu"},
    "mlp-512x3": {"kind": "mlp", "hidden": (512, 512, 512), "activation": "relu"},
    "nature-cnn": {"kind": "cnn", "features": 512},
    "resnet-3x32": {"kind": "resnet", "blocks": 3, "channels": 32},
    "resnet-4x48": {"kind": "resnet", "blocks": 4, "channels": 48},
    "resnet-5x64": {"kind": "resnet", "blocks": 5, "channels": 64},
    "resnet-10x128": {"kind": "resnet", "blocks": 10, "channels": 128},
    "resnet-20x256": {"kind": "resnet", "blocks": 20, "channels": 256},
    "lstm-64": {"kind": "lstm", "hidden_size": 64, "cell": "lstm", "encoder": "mlp-64x1"},
    "lstm-128": {"kind": "lstm", "hidden_size": 128, "cell": "lstm", "encoder": "mlp-64x1"},
    "gru-64": {"kind": "lstm", "hidden_size": 64, "cell": "gru", "encoder": "mlp-64x1"},
    "lstm-cnn-256": {"kind": "lstm", "hidden_size": 256, "cell": "lstm", "encoder": "nature-cnn"},
}
"""Named sizes. `make_backbone(name, obs_shape, **overrides)` builds one; overrides replace preset entries."""


def make_backbone(preset: str, obs_shape: tuple[int, ...], **overrides: Any) -> nn.Module:
    """A backbone from a preset name (see `PRESETS`) for observations of `obs_shape`."""
    if preset not in PRESETS:
        raise ArenaError(f"unknown network preset {preset!r}; valid: {', '.join(PRESETS)}")
    spec = {**PRESETS[preset], **overrides}
    kind = spec.pop("kind")
    obs_shape = tuple(obs_shape)
    if kind == "mlp":
        return MLP(obs_shape, tuple(spec["hidden"]), spec["activation"])
    if kind == "cnn":
        return NatureCNN(obs_shape, spec["features"])
    if kind == "resnet":
        return ResTower(obs_shape, spec["blocks"], spec["channels"])
    encoder = make_backbone(spec["encoder"], obs_shape)
    return LSTMCore(encoder, spec["hidden_size"], spec["cell"])


def is_recurrent(preset: str) -> bool:
    """Whether a preset builds a recurrent core (so the algorithm must carry state)."""
    return PRESETS.get(preset, {}).get("kind") == "lstm"


class TwinMLP(nn.Module):
    """Two MLPs of the same sizes (actor and critic) run as one batched matmul per layer: the same maths as two
    `MLP`s with half the kernel calls, which is most of the cost of a 64x64 net on CPU."""

    def __init__(self, obs_shape: tuple[int, ...], hidden: tuple[int, ...], activation: str = "tanh") -> None:
        super().__init__()
        self.obs_shape = tuple(obs_shape)
        sizes = [math.prod(self.obs_shape), *hidden]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in itertools.pairwise(sizes):
            weight = torch.empty(2, fan_out, fan_in)
            for k in range(2):  # as `layer_init` would initialise each nn.Linear
                nn.init.orthogonal_(weight[k], math.sqrt(2))
            self.weights.append(nn.Parameter(weight.transpose(1, 2).contiguous()))  # [2, in, out]
            self.biases.append(nn.Parameter(torch.zeros(2, 1, fan_out)))
        self.activation = _ACTIVATIONS[activation]()
        self.out_dim = sizes[-1]

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """obs [B, *obs_shape] -> features [2, B, out_dim]: index 0 for the actor, 1 for the critic."""
        x = obs.reshape(obs.shape[0], -1).float()
        x = x.expand(2, *x.shape)  # [2, B, in]
        for weight, bias in zip(self.weights, self.biases, strict=True):
            x = self.activation(torch.baddbmm(bias, x, weight))
        return x


class ActorCritic(nn.Module):
    """Policy and value on one backbone (`shared`) or on two of the same preset; recurrent presets share one."""

    def __init__(
        self,
        preset: str,
        obs_shape: tuple[int, ...],
        num_actions: int,
        shared: bool = False,
        head_hidden: tuple[int, ...] = (),
    ) -> None:
        super().__init__()
        self.recurrent = is_recurrent(preset)
        self.shared = shared or self.recurrent
        spec = PRESETS.get(preset, {})
        self.twin = None
        self.actor_body = self.critic_body = None
        if not self.shared and spec.get("kind") == "mlp":
            self.twin = TwinMLP(obs_shape, tuple(spec["hidden"]), spec["activation"])
            out_dim = self.twin.out_dim
        else:
            self.actor_body = make_backbone(preset, obs_shape)
            self.critic_body = None if self.shared else make_backbone(preset, obs_shape)
            out_dim = self.actor_body.out_dim
        # optional hidden layers of each head, on any leading dims ([B, F] or [T, B, F])
        self.policy_mlp = head_layers(out_dim, head_hidden)
        self.value_mlp = head_layers(out_dim, head_hidden)
        out_dim = head_hidden[-1] if head_hidden else out_dim
        self.policy = PolicyHead(out_dim, num_actions)
        self.value_head = ValueHead(out_dim)

    def heads(self, actor: torch.Tensor, critic: torch.Tensor, mask: torch.Tensor | None):
        """(logits, values) from the actor's and the critic's features."""
        return self.policy(self.policy_mlp(actor), mask), self.value_head(self.value_mlp(critic))

    def initial_state(self, batch_size: int, device: torch.device | str = "cpu") -> RecurrentState:
        """Zero recurrent state, or None for a feed-forward model."""
        return self.actor_body.initial_state(batch_size, device) if self.recurrent else None

    def forward(self, obs: torch.Tensor, state: RecurrentState = None, done: torch.Tensor | None = None, mask=None):
        """-> (logits [..., A] with -inf where illegal, values [...], state)."""
        if self.twin is not None:
            features = self.twin(obs)  # [2, B, F]
            return *self.heads(features[0], features[1], mask), state
        features, state = self.actor_body(obs, state, done)
        critic_features = features if self.critic_body is None else self.critic_body(obs)[0]
        return *self.heads(features, critic_features, mask), state

    def value(self, obs: torch.Tensor, state: RecurrentState = None, done: torch.Tensor | None = None) -> torch.Tensor:
        """Values only (for bootstrapping)."""
        if self.twin is not None:
            features = self.twin(obs)[1]
        elif self.critic_body is not None:
            features = self.critic_body(obs)[0]
        else:
            features = self.actor_body(obs, state, done)[0]
        return self.value_head(self.value_mlp(features))


def head_layers(in_dim: int, hidden: tuple[int, ...]) -> nn.Module:
    """Linear + tanh layers that act on the last dim (identity when `hidden` is empty)."""
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [layer_init(nn.Linear(in_dim, width)), nn.Tanh()]
        in_dim = width
    return nn.Sequential(*layers)


def make_adam(params: Any, lr: float, eps: float = 1e-8) -> torch.optim.Adam:
    """Adam with the fused kernel (one call per step instead of one per tensor: ~3x faster for small nets)."""
    return torch.optim.Adam(params, lr=lr, eps=eps, fused=True)


class QNetwork(nn.Module):
    """A backbone and a `QHead`: Q-values `[B, A]` for DQN."""

    def __init__(self, preset: str, obs_shape: tuple[int, ...], num_actions: int, dueling: bool = False) -> None:
        super().__init__()
        self.body = make_backbone(preset, obs_shape)
        self.head = QHead(self.body.out_dim, num_actions, dueling)
        for module in self.modules():  # PyTorch's default init: orthogonal sqrt(2) makes DQN's targets unstable
            if isinstance(module, nn.Linear | nn.Conv2d):
                module.reset_parameters()

    def forward(self, obs: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """obs [B, *obs_shape] -> Q [B, A] (-inf where illegal)."""
        return self.head(self.body(obs)[0], mask)


class PolicyValueNet(nn.Module):
    """AlphaZero's model: a `ResTower` with a 1x1-conv policy head (logits [B, A]) and a tanh value head ([B]).

    With `draw_head`, the value head's hidden layer also predicts whether the game ends drawn (a logit [B]):
    with the value (E[win - loss]) that is a win/draw/loss estimate, which contempt plays on (`SearchConfig`).
    """

    def __init__(
        self,
        preset: str,
        obs_shape: tuple[int, ...],
        num_actions: int,
        value_hidden: int = 64,
        draw_head: bool = False,
    ) -> None:
        super().__init__()
        self.tower = make_backbone(preset, obs_shape)
        if not isinstance(self.tower, ResTower):
            raise ArenaError(f"PolicyValueNet needs a resnet preset (e.g. resnet-5x64), got {preset!r}")
        channels, cells = self.tower.channels, obs_shape[1] * obs_shape[2]
        self.policy_conv = nn.Sequential(nn.Conv2d(channels, 2, 1, bias=False), nn.BatchNorm2d(2), nn.ReLU())
        self.policy_fc = nn.Linear(2 * cells, num_actions)
        self.value_conv = nn.Sequential(nn.Conv2d(channels, 1, 1, bias=False), nn.BatchNorm2d(1), nn.ReLU())
        self.value_fc = nn.Sequential(nn.Linear(cells, value_hidden), nn.ReLU(), nn.Linear(value_hidden, 1), nn.Tanh())
        self.draw_fc = nn.Linear(value_hidden, 1) if draw_head else None

    @property
    def draw_head(self) -> bool:
        """Whether the net predicts draws."""
        return self.draw_fc is not None

    @staticmethod
    def has_draw_head(weights: dict[str, torch.Tensor]) -> bool:
        """Whether a state_dict of this class holds a draw head (checkpoints made before it existed do not)."""
        return "draw_fc.weight" in weights

    def heads(
        self, obs: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """obs [B, C, H, W] -> (logits [B, A] with -inf where illegal, values [B] in [-1, 1], draw logits [B] or
        None without a draw head)."""
        x = self.tower.trunk(obs)  # [B, channels, H, W]
        logits = mask_logits(self.policy_fc(self.policy_conv(x).flatten(1)), mask)
        hidden = self.value_fc[1](self.value_fc[0](self.value_conv(x).flatten(1)))  # [B, value_hidden]
        values = self.value_fc[3](self.value_fc[2](hidden)).squeeze(-1)
        draws = None if self.draw_fc is None else self.draw_fc(hidden).squeeze(-1)
        return logits, values, draws

    def forward(self, obs: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """obs [B, C, H, W] -> (logits [B, A] with -inf where illegal, values [B] in [-1, 1])."""
        logits, values, _ = self.heads(obs, mask)
        return logits, values
