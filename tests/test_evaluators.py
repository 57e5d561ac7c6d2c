"""Inference backends: ONNX Runtime gives torch's priors and values, folds BatchNorm, and follows new weights."""

import numpy as np
import pytest
import torch

from algorithms import evaluators
from algorithms.evaluators import (
    MirrorAveraged,
    OnnxEvaluator,
    TorchEvaluator,
    fold_batchnorm,
    make_evaluator,
    onnxruntime_available,
    play_backend,
    selfplay_backend,
)
from algorithms.nets import PolicyValueNet
from core.errors import ArenaError
from envs import make_game

C4 = make_game("connect_four")
needs_onnx = pytest.mark.skipif(not onnxruntime_available(), reason="onnxruntime is not installed")


def trained_looking_net(seed: int = 0) -> PolicyValueNet:
    """A net whose BatchNorm statistics are far from the identity, so folding them is really tested."""
    torch.manual_seed(seed)
    net = PolicyValueNet("resnet-3x32", C4.obs_shape, C4.num_actions)
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.5, 0.5)
    return net


def positions(count: int = 24) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    states = []
    for _ in range(count):
        state = C4.initial_state()
        for _ in range(int(rng.integers(0, 12))):
            state = state.apply(int(rng.choice(state.legal_actions())))
            if state.is_terminal():
                state = C4.initial_state()
        states.append(state)
    return C4.observations(states), np.stack([s.legal_mask() for s in states])


def test_folding_batchnorm_keeps_the_outputs_and_leaves_no_batchnorm():
    net = trained_looking_net().eval()
    folded = fold_batchnorm(net)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    obs, _ = positions()
    with torch.no_grad():
        for a, b in zip(net(torch.from_numpy(obs)), folded(torch.from_numpy(obs)), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    assert net.training is False and any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())


@needs_onnx
def test_onnx_gives_the_priors_and_values_of_torch_on_legal_moves_only():
    net = trained_looking_net()
    obs, mask = positions()
    onnx_priors, onnx_values = OnnxEvaluator(net)(obs, mask)
    torch_priors, torch_values = TorchEvaluator(net, torch.device("cpu"))(obs, mask)
    np.testing.assert_allclose(onnx_priors, torch_priors, atol=1e-5)
    np.testing.assert_allclose(onnx_values, torch_values, atol=1e-5)
    assert (onnx_priors[~mask] == 0).all()
    np.testing.assert_allclose(onnx_priors.sum(axis=1), 1.0, rtol=1e-5)


@needs_onnx
@pytest.mark.parametrize("backend", ["onnx", "onnx-int8", "torch"])
def test_a_draw_head_gives_every_backend_draw_probabilities_mirror_averaged_too(backend):
    torch.manual_seed(0)
    net = PolicyValueNet("resnet-3x32", C4.obs_shape, C4.num_actions, draw_head=True)
    obs, mask = positions()
    _, values, draw_logits = net.eval().heads(torch.from_numpy(obs))
    evaluator = make_evaluator(net, "cpu", backend)
    _, onnx_values, draws = evaluator(obs, mask)
    tolerance = 0.05 if backend == "onnx-int8" else 1e-5  # the int8 graph runs float until calibrated
    np.testing.assert_allclose(draws, torch.sigmoid(draw_logits).detach().numpy(), atol=tolerance)
    np.testing.assert_allclose(onnx_values, values.detach().numpy(), atol=tolerance)
    mirrored = MirrorAveraged(evaluator, C4)(obs, mask)
    flipped = evaluator(np.ascontiguousarray(obs[..., ::-1]), C4.mirror_actions(mask).copy())[2]
    assert len(mirrored) == 3 and np.allclose(mirrored[2], (draws + flipped) / 2, atol=1e-6)
    plain = PolicyValueNet("resnet-3x32", C4.obs_shape, C4.num_actions)
    assert len(make_evaluator(plain, "cpu", backend)(obs, mask)) == 2  # no head, no third output


@needs_onnx
@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_refresh_follows_new_weights_and_never_touches_the_training_mode(backend):
    net = trained_looking_net().train()
    evaluator = make_evaluator(net, "cpu", backend)
    obs, mask = positions(4)
    before = evaluator(obs, mask)[1].copy()
    net.load_state_dict(trained_looking_net(seed=1).state_dict())
    np.testing.assert_array_equal(evaluator(obs, mask)[1], before)  # still the old weights until refreshed
    evaluator.refresh()
    expected = TorchEvaluator(trained_looking_net(seed=1), torch.device("cpu"))(obs, mask)[1]
    np.testing.assert_allclose(evaluator(obs, mask)[1], expected, atol=1e-5)
    assert net.training  # the learner's net stays in training mode throughout


def test_a_wrong_backend_is_a_clear_error():
    with pytest.raises(ArenaError, match="unknown inference backend 'tpu'"):
        make_evaluator(trained_looking_net(), "cpu", "tpu")


@needs_onnx
def test_int8_runs_float_until_calibrated_then_stays_close_and_follows_new_weights():
    net = trained_looking_net()
    obs, mask = positions(64)
    evaluator = OnnxEvaluator(net, int8=True, calibration_positions=128)
    exact_priors, exact_values = OnnxEvaluator(net)(obs, mask)
    np.testing.assert_allclose(evaluator(obs, mask)[1], exact_values, atol=1e-5)  # 64 seen: still float
    assert not evaluator.quantized
    priors, values = evaluator(obs, mask)  # 128 seen: quantized on them before this call ran
    assert evaluator.quantized
    assert not np.allclose(values, exact_values, atol=1e-6)  # really a different (int8) graph
    assert np.abs(values - exact_values).mean() < 0.05
    assert np.abs(priors - exact_priors).sum(axis=1).mean() < 0.1
    assert (priors[~mask] == 0).all()
    net.load_state_dict(trained_looking_net(seed=1).state_dict())
    evaluator.refresh()  # re-quantized at once: it has calibration traffic
    assert evaluator.quantized
    expected = OnnxEvaluator(trained_looking_net(seed=1))(obs, mask)[1]
    assert np.abs(evaluator(obs, mask)[1] - expected).mean() < 0.05
    assert make_evaluator(net, "cpu", "onnx-int8").int8


@needs_onnx
def test_auto_self_play_takes_int8_only_where_it_measures_faster_and_evaluation_stays_float(monkeypatch):
    net = trained_looking_net()
    assert 0 < evaluators.int8_speedup(net, batch=32, repeats=2) < 100  # both graphs really ran and were timed
    monkeypatch.setattr(evaluators, "cpu_has_vnni", lambda: True)
    for speedup, expected in ((2.5, "onnx-int8"), (0.5, "auto")):  # the H200 machine's host CPU measured 0.5
        monkeypatch.setattr(evaluators, "int8_speedup", lambda net, speedup=speedup: speedup)
        assert selfplay_backend("auto", "cpu", net) == expected
    assert selfplay_backend("auto", "cuda", net) == "auto" and selfplay_backend("onnx", "cpu", net) == "onnx"
    assert play_backend("onnx-int8") == "onnx" and play_backend("auto") == "auto"


@pytest.mark.parametrize("game_name", ["connect_four", "othello"])
def test_mirror_averaging_is_the_mean_of_both_images_and_mirror_symmetric(game_name):
    game = make_game(game_name, **({"size": 6} if game_name == "othello" else {}))
    torch.manual_seed(0)
    net = PolicyValueNet("resnet-3x32", game.obs_shape, game.num_actions)
    inner = TorchEvaluator(net, torch.device("cpu"))
    averaged = MirrorAveraged(inner, game)
    rng, states = np.random.default_rng(0), [game.initial_state()]
    while len(states) < 10:
        states.append(states[-1].apply(int(rng.choice(states[-1].legal_actions()))))
    obs, mask = game.observations(states), np.stack([s.legal_mask() for s in states])
    priors, values = averaged(obs, mask)
    direct, direct_values = inner(obs, mask)
    flipped, flipped_values = inner(np.ascontiguousarray(obs[..., ::-1]), game.mirror_actions(mask).copy())
    assert np.allclose(priors, (direct + game.mirror_actions(flipped)) / 2, atol=1e-6)
    assert np.allclose(values, (direct_values + flipped_values) / 2, atol=1e-6)
    assert np.allclose(priors.sum(1), 1, atol=1e-5) and (priors[~mask] == 0).all()
    # the mirror image of a position gets the mirror image of its priors and the same value
    mirror_priors, mirror_values = averaged(np.ascontiguousarray(obs[..., ::-1]), game.mirror_actions(mask).copy())
    assert np.allclose(game.mirror_actions(mirror_priors), priors, atol=1e-5)
    assert np.allclose(mirror_values, values, atol=1e-5)
    assert not np.allclose(direct_values, flipped_values, atol=1e-3)  # an untrained net is not symmetric itself
    assert inner.positions == (2 + 2 + 1 + 1) * len(states) and averaged.calls == inner.calls == 4
