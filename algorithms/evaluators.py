"""Evaluators: the batched callables search calls, `(obs [B, C, H, W], mask [B, A]) -> (priors [B, A], values [B])`.

Torch trains; inference goes through whichever backend is fastest where it runs:

- `OnnxEvaluator` (CPU): the net with BatchNorm folded into its convolutions, exported to ONNX and run by ONNX
  Runtime, 2x or more torch eager's evaluations/s for the small towers we train on CPU
  (`python benchmarks/mcts_speed.py`). `refresh()` re-exports after the weights change.
- `TorchEvaluator` (CUDA, or anywhere onnxruntime is missing): the net in eval mode, bf16 autocast on CUDA.

`make_evaluator(net, device, backend="auto")` picks one. Neither toggles the net's train/eval mode per call:
the ONNX path runs a folded copy, and the torch path keeps an eval-mode twin of the training net.
"""

from __future__ import annotations

import copy
import importlib.util
import io
import itertools
import warnings
from typing import Literal

import numpy as np
import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from algorithms.nets import PolicyValueNet, mask_logits
from core.errors import ArenaError

Backend = Literal["auto", "onnx", "torch"]


def onnxruntime_available() -> bool:
    """Whether the ONNX Runtime backend can run here."""
    return importlib.util.find_spec("onnxruntime") is not None and importlib.util.find_spec("onnx") is not None


def fold_batchnorm(module: nn.Module) -> nn.Module:
    """An eval-mode copy of `module` with every Conv2d followed by a BatchNorm2d fused into one Conv2d.

    It finds the pairs two ways: adjacent entries of an `nn.Sequential`, and `convK`/`bnK` attribute pairs (our
    `ResidualBlock`); a fused BatchNorm becomes an Identity, so each forward runs unchanged.
    """
    folded = copy.deepcopy(module).eval()
    for parent in folded.modules():
        names = list(parent._modules)
        pairs = []
        if isinstance(parent, nn.Sequential):
            pairs = list(itertools.pairwise(names))
        else:
            pairs = [(n, "bn" + n[4:]) for n in names if n.startswith("conv") and "bn" + n[4:] in parent._modules]
        for conv_name, bn_name in pairs:
            conv, bn = parent._modules[conv_name], parent._modules[bn_name]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                parent._modules[conv_name] = fuse_conv_bn_eval(conv, bn)
                parent._modules[bn_name] = nn.Identity()
    return folded


class _PriorsAndValues(nn.Module):
    """The exported graph: masked softmax priors and values, so nothing is left for numpy to do."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, obs: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, values = self.net(obs, None)
        return torch.softmax(mask_logits(logits, mask), dim=-1), values


class OnnxEvaluator:
    """A PolicyValueNet run by ONNX Runtime on CPU, BatchNorm folded; `refresh()` picks up new weights."""

    def __init__(self, net: PolicyValueNet, threads: int = 1) -> None:
        import onnxruntime as ort  # why: heavy, and only the onnx backend needs it

        self.net = net
        self.calls = 0
        self.positions = 0
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # spinning threads would steal the core torch's learner or another rank is using
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        self._options = options
        self.session = None
        self.refresh()

    def export(self) -> bytes:
        """The net's current weights as an ONNX model (BatchNorm folded, dynamic batch)."""
        folded = _PriorsAndValues(fold_batchnorm(self.net)).cpu().float()
        obs_shape = tuple(self.net.tower.obs_shape)
        num_actions = self.net.policy_fc.out_features
        example = (torch.zeros(2, *obs_shape), torch.ones(2, num_actions, dtype=torch.bool))
        buffer = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice, once per export
            torch.onnx.export(
                folded,
                example,
                buffer,
                input_names=["obs", "mask"],
                output_names=["priors", "values"],
                dynamic_axes={name: {0: "batch"} for name in ("obs", "mask", "priors", "values")},
                opset_version=17,
                dynamo=False,
            )
        return buffer.getvalue()

    def refresh(self) -> None:
        """Re-export the net (call after its weights change; searches in flight finish on the old session)."""
        import onnxruntime as ort  # why: heavy, and only the onnx backend needs it

        # one assignment swaps sessions: a search running in another thread keeps the one it already holds
        self.session = ort.InferenceSession(self.export(), self._options, providers=["CPUExecutionProvider"])

    def __call__(self, obs: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """obs [B, C, H, W], mask [B, A] -> priors [B, A], values [B] (side to move)."""
        self.calls += 1
        self.positions += len(obs)
        feeds = {"obs": np.ascontiguousarray(obs, np.float32), "mask": mask.astype(bool)}
        priors, values = self.session.run(None, feeds)
        return priors, values


class TorchEvaluator:
    """A PolicyValueNet in eval mode through torch, bf16 autocast on CUDA; `refresh()` copies new weights in.

    It searches with an eval-mode twin of the net it is given, so the training net's mode is never touched.
    """

    def __init__(self, net: PolicyValueNet, device: torch.device) -> None:
        self.net = net
        self.device = device
        self.calls = 0
        self.positions = 0
        self.twin = copy.deepcopy(net).to(device).eval()

    def refresh(self) -> None:
        """Copy the net's current weights into the eval twin."""
        self.twin.load_state_dict(self.net.state_dict())

    @torch.inference_mode()
    def __call__(self, obs: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """obs [B, C, H, W], mask [B, A] -> priors [B, A], values [B] (side to move)."""
        self.calls += 1
        self.positions += len(obs)
        x = torch.from_numpy(obs).to(self.device, non_blocking=True)
        m = torch.from_numpy(mask).to(self.device, non_blocking=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
            logits, values = self.twin(x, m)
        priors = torch.softmax(logits.float(), dim=-1)
        return priors.cpu().numpy(), values.float().cpu().numpy()


def make_evaluator(
    net: PolicyValueNet, device: torch.device | str = "cpu", backend: Backend = "auto", threads: int | None = None
) -> OnnxEvaluator | TorchEvaluator:
    """The fastest evaluator for `device`: ONNX Runtime on CPU when installed, torch otherwise (CUDA included).

    ONNX Runtime takes `threads` intra-op threads, by default as many as torch has (all cores in one process,
    the rank's share under MPI), so inference and the learner use the same cores in turn.
    """
    device = torch.device(device)
    threads = threads or torch.get_num_threads()
    if backend not in ("auto", "onnx", "torch"):
        raise ArenaError(f"unknown inference backend {backend!r}; valid: auto, onnx, torch")
    if backend == "onnx" and device.type != "cpu":
        raise ArenaError(f"the onnx inference backend runs on CPU; device is {device}")
    if backend == "onnx" and not onnxruntime_available():
        raise ArenaError("the onnx inference backend needs onnxruntime and onnx: pip install onnxruntime onnx")
    if backend == "onnx" or (backend == "auto" and device.type == "cpu" and onnxruntime_available()):
        return OnnxEvaluator(net, threads=threads)
    return TorchEvaluator(net, device)
