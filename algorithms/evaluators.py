"""Evaluators: the batched callables search calls, `(obs [B, C, H, W], mask [B, A]) -> (priors [B, A], values [B])`,
and `draws [B]` (the probability that the game ends drawn) third where the net has a draw head.

Torch trains; inference goes through whichever backend is fastest where it runs:

- `OnnxEvaluator` (CPU): the net with BatchNorm folded into its convolutions, exported to ONNX and run by ONNX
  Runtime, 2x or more torch eager's evaluations/s for the small towers we train on CPU
  (`python benchmarks/mcts_speed.py`). `refresh()` re-exports after the weights change.
- `OnnxEvaluator(int8=True)` (`onnx-int8`): the same graph with its convolutions quantized to int8 (QDQ,
  per-channel weights), calibrated on the positions it evaluated last; on this project's CPU (VNNI) it runs ~2.8x
  the float graph, at ~97% of the float net's top moves and a mean value error of ~0.03
  (`benchmarks/mcts_speed.py`).
- `TorchEvaluator` (CUDA, or anywhere onnxruntime is missing): the net in eval mode, bf16 autocast on CUDA.

`MirrorAveraged(evaluator, game)` averages one of those over each position and its left-right mirror (play only:
it costs twice the positions per call).

`make_evaluator(net, device, backend="auto")` picks one. Neither toggles the net's train/eval mode per call:
the ONNX path runs a folded copy, and the torch path keeps an eval-mode twin of the training net.
"""

from __future__ import annotations

import copy
import importlib.util
import io
import itertools
import tempfile
import time
import warnings
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from algorithms.nets import PolicyValueNet, mask_logits
from core.device import cpu_has_vnni
from core.errors import ArenaError
from envs.base import Game

Backend = Literal["auto", "onnx", "onnx-int8", "torch"]
BACKENDS = ("auto", "onnx", "onnx-int8", "torch")


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
    """The exported graph: masked softmax priors, values and (with a draw head) draw probabilities, so nothing is
    left for numpy to do."""

    def __init__(self, net: PolicyValueNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, obs: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        logits, values, draw_logits = self.net.heads(obs, None)
        priors = torch.softmax(mask_logits(logits, mask), dim=-1)
        return (priors, values) if draw_logits is None else (priors, values, torch.sigmoid(draw_logits))


class OnnxEvaluator:
    """A PolicyValueNet run by ONNX Runtime on CPU, BatchNorm folded; `refresh()` picks up new weights.

    With `int8`, the convolutions run quantized: activation ranges are calibrated (min-max) on the last
    `calibration_positions` positions it evaluated, so until it has seen that many it runs the float graph, and
    each `refresh()` after that quantizes the new weights on the newest traffic (~0.2 s for resnet-4x48).
    """

    def __init__(
        self, net: PolicyValueNet, threads: int = 1, int8: bool = False, calibration_positions: int = 128
    ) -> None:
        import onnxruntime as ort  # why: heavy, and only the onnx backend needs it

        self.net = net
        self.calls = 0
        self.positions = 0
        self.int8 = int8
        self.calibration_positions = calibration_positions
        self.quantized = False
        self._recent: list[tuple[np.ndarray, np.ndarray]] = []
        self._recent_count = 0
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
        outputs = ["priors", "values"] + (["draws"] if self.net.draw_head else [])
        buffer = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice, once per export
            torch.onnx.export(
                folded,
                example,
                buffer,
                input_names=["obs", "mask"],
                output_names=outputs,
                dynamic_axes={name: {0: "batch"} for name in ["obs", "mask", *outputs]},
                opset_version=17,
                dynamo=False,
            )
        return buffer.getvalue()

    def refresh(self) -> None:
        """Re-export the net (call after its weights change; searches in flight finish on the old session)."""
        import onnxruntime as ort  # why: heavy, and only the onnx backend needs it

        model = self.export()
        calibrated = self._recent_count >= self.calibration_positions
        if self.int8 and calibrated:
            model = self._quantize(model)
        # one assignment swaps sessions: a search running in another thread keeps the one it already holds
        self.session = ort.InferenceSession(model, self._options, providers=["CPUExecutionProvider"])
        self.quantized = self.int8 and calibrated

    def _quantize(self, model: bytes) -> bytes:
        """`model` with int8 convolutions (u8 activations, per-channel s8 weights), calibrated on recent traffic."""
        from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
        from onnxruntime.quantization.shape_inference import quant_pre_process

        batches = [{"obs": obs, "mask": mask} for obs, mask in self._recent]

        class Recent(CalibrationDataReader):
            def __init__(self) -> None:
                self.batches = iter(batches)

            def get_next(self) -> dict | None:
                return next(self.batches, None)

        with tempfile.TemporaryDirectory() as folder:
            exported, source, target = (Path(folder, name) for name in ("float.onnx", "fused.onnx", "int8.onnx"))
            exported.write_bytes(model)
            # fuse first (Conv+Add+Relu...), or the QDQ pairs land between ops that would have fused: ~6x slower
            quant_pre_process(exported, source, skip_symbolic_shape=True)
            quantize_static(
                source,
                target,
                Recent(),
                quant_format=QuantFormat.QDQ,
                op_types_to_quantize=["Conv"],  # the heads' small Gemms gain nothing and cost accuracy
                per_channel=True,
                activation_type=QuantType.QUInt8,  # u8 x s8 is the pair VNNI's dot-product instructions take
                weight_type=QuantType.QInt8,
            )
            return target.read_bytes()

    def _remember(self, obs: np.ndarray, mask: np.ndarray) -> None:
        """Keep the newest positions (about `calibration_positions`) for the next quantization."""
        self._recent.append((obs.copy(), mask.copy()))
        self._recent_count += len(obs)
        while self._recent_count - len(self._recent[0][0]) >= self.calibration_positions:
            self._recent_count -= len(self._recent.pop(0)[0])

    def __call__(self, obs: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, ...]:
        """obs [B, C, H, W], mask [B, A] -> priors [B, A], values [B] (side to move)[, draws [B]]."""
        self.calls += 1
        self.positions += len(obs)
        feeds = {"obs": np.ascontiguousarray(obs, np.float32), "mask": mask.astype(bool)}
        if self.int8:
            self._remember(feeds["obs"], feeds["mask"])
            if not self.quantized and self._recent_count >= self.calibration_positions:
                self.refresh()  # the first quantization, once there is traffic to calibrate on
        return tuple(self.session.run(None, feeds))


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
    def __call__(self, obs: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, ...]:
        """obs [B, C, H, W], mask [B, A] -> priors [B, A], values [B] (side to move)[, draws [B]]."""
        self.calls += 1
        self.positions += len(obs)
        x = torch.from_numpy(obs).to(self.device, non_blocking=True)
        m = torch.from_numpy(mask).to(self.device, non_blocking=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
            logits, values, draw_logits = self.twin.heads(x, m)
        priors = torch.softmax(logits.float(), dim=-1)
        outputs = (priors.cpu().numpy(), values.float().cpu().numpy())
        return outputs if draw_logits is None else (*outputs, torch.sigmoid(draw_logits.float()).cpu().numpy())


class MirrorAveraged:
    """An evaluator whose priors and values are the means over each position and its left-right mirror.

    Both go to the inner evaluator in one batch of 2B. The nets learn from both mirror images but do not come out
    symmetric: on Pons' Connect Four positions the shipped net's move and its mirror image's agree in 60-71% and
    the two values differ by 0.3-0.5 on average, and the mean makes fewer mistakes than either
    (`benchmarks/mirror_agreement.py`).
    """

    def __init__(self, inner: OnnxEvaluator | TorchEvaluator, game: Game) -> None:
        self.inner = inner
        self.game = game

    @property
    def calls(self) -> int:
        """Inner evaluator calls (one per call of this one)."""
        return self.inner.calls

    @property
    def positions(self) -> int:
        """Positions the inner evaluator saw (twice the positions asked for)."""
        return self.inner.positions

    def refresh(self) -> None:
        """Pick up new weights (the inner evaluator's refresh)."""
        self.inner.refresh()

    def images(self, obs: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, ...]:
        """The inner net on both images in one batch: priors and values of the positions, then of their mirror
        images (priors mapped back onto the positions' actions), then draws of both where the net has them."""
        batch = len(obs)
        both_obs = np.concatenate([obs, obs[..., ::-1]])
        both_mask = np.concatenate([mask, self.game.mirror_actions(mask)])
        priors, values, *draws = self.inner(both_obs, both_mask)
        images = (priors[:batch], values[:batch], self.game.mirror_actions(priors[batch:]), values[batch:])
        return (*images, draws[0][:batch], draws[0][batch:]) if draws else images

    def __call__(self, obs: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, ...]:
        """obs [B, C, H, W], mask [B, A] -> priors [B, A], values [B] (side to move)[, draws [B]], mirror-averaged."""
        priors, values, mirror_priors, mirror_values, *draws = self.images(obs, mask)
        means = ((priors + mirror_priors) / 2, (values + mirror_values) / 2)
        return (*means, (draws[0] + draws[1]) / 2) if draws else means


def int8_speedup(net: PolicyValueNet, batch: int = 128, threads: int | None = None, repeats: int = 5) -> float:
    """How many times faster the int8 graph of `net` runs than its float graph here: each timed on one batch of
    `batch` positions (random planes, also the int8 graph's calibration), the best of `repeats` tries each, in
    turns. About a second for the towers we train on CPU."""
    rng = np.random.default_rng(0)
    obs = (rng.random((batch, *net.tower.obs_shape)) < 0.3).astype(np.float32)
    mask = np.ones((batch, net.policy_fc.out_features), dtype=bool)
    threads = threads or torch.get_num_threads()
    exact = OnnxEvaluator(net, threads=threads)
    quantized = OnnxEvaluator(net, threads=threads, int8=True, calibration_positions=batch)
    quantized(obs, mask)  # calibrates and quantizes
    best = {exact: float("inf"), quantized: float("inf")}
    for _ in range(repeats):
        for evaluator in best:
            start = time.perf_counter()
            evaluator(obs, mask)
            best[evaluator] = min(best[evaluator], time.perf_counter() - start)
    return best[exact] / best[quantized]


INT8_MIN_SPEEDUP = 1.2
"""`auto` self-play takes the int8 graph only when it measures at least this much faster than the float one."""


def selfplay_backend(backend: Backend, device: torch.device | str, net: PolicyValueNet) -> Backend:
    """The backend self-play runs for `backend`: `auto` on a CPU with VNNI is the int8 graph where it measures
    faster for `net` (`int8_speedup`: 2-4x on this project's 2-core AMD EPYC; the H200 machine's host CPU, VNNI
    too, ran it at 0.5x float, README), float ONNX elsewhere; other backends are taken as given."""
    on_cpu = torch.device(device).type == "cpu"
    if backend == "auto" and on_cpu and onnxruntime_available() and cpu_has_vnni():
        return "onnx-int8" if int8_speedup(net) >= INT8_MIN_SPEEDUP else "auto"
    return backend


def play_backend(backend: Backend) -> Backend:
    """The backend that evaluation and gating use for a run whose self-play uses `backend`: never the int8 one,
    so a run's figures judge its float net."""
    return "onnx" if backend == "onnx-int8" else backend


def make_evaluator(
    net: PolicyValueNet, device: torch.device | str = "cpu", backend: Backend = "auto", threads: int | None = None
) -> OnnxEvaluator | TorchEvaluator:
    """The fastest evaluator for `device`: ONNX Runtime on CPU when installed, torch otherwise (CUDA included).

    ONNX Runtime takes `threads` intra-op threads, by default as many as torch has (all cores in one process,
    the rank's share under MPI), so inference and the learner use the same cores in turn. `onnx-int8` is the
    quantized ONNX graph (faster, slightly less exact).
    """
    device = torch.device(device)
    threads = threads or torch.get_num_threads()
    if backend not in BACKENDS:
        raise ArenaError(f"unknown inference backend {backend!r}; valid: {', '.join(BACKENDS)}")
    onnx = backend in ("onnx", "onnx-int8")
    if onnx and device.type != "cpu":
        raise ArenaError(f"the {backend} inference backend runs on CPU; device is {device}")
    if onnx and not onnxruntime_available():
        raise ArenaError(f"the {backend} inference backend needs onnxruntime and onnx: pip install onnxruntime onnx")
    if onnx or (backend == "auto" and device.type == "cpu" and onnxruntime_available()):
        return OnnxEvaluator(net, threads=threads, int8=backend == "onnx-int8")
    return TorchEvaluator(net, device)
