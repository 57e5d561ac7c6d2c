"""Backbones and heads: shapes, legal-action masking, recurrent state resets, sequence == step by step."""

import pytest
import torch

from algorithms.nets import (
    PRESETS,
    ActorCritic,
    LSTMCore,
    NatureCNN,
    PolicyHead,
    QHead,
    QNetwork,
    ResTower,
    make_backbone,
)
from core.errors import ArenaError


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.mark.parametrize(
    ("preset", "obs_shape", "out_dim"),
    [
        ("mlp-64x2", (4,), 64),
        ("mlp-256x2", (2, 6, 7), 256),
        ("nature-cnn", (4, 84, 84), 512),
        ("resnet-3x32", (2, 6, 7), 32 * 6 * 7),
        ("lstm-64", (4,), 64),
        ("gru-64", (4,), 64),
    ],
)
def test_backbone_shapes(preset, obs_shape, out_dim):
    net = make_backbone(preset, obs_shape)
    features, state = net(torch.zeros(5, *obs_shape))
    assert features.shape == (5, out_dim)
    assert net.out_dim == out_dim
    if PRESETS[preset]["kind"] == "lstm":
        assert all(s.shape == (1, 5, 64) for s in state)
    else:
        assert state is None


def test_nature_cnn_takes_uint8_pixels():
    net = NatureCNN((4, 84, 84))
    pixels = torch.randint(0, 256, (2, 4, 84, 84), dtype=torch.uint8)
    assert net(pixels)[0].shape == (2, 512)


def test_restower_trunk_is_spatial_and_small_boards_refused():
    tower = ResTower((2, 6, 7), blocks=2, channels=16)
    assert tower.trunk(torch.zeros(3, 2, 6, 7)).shape == (3, 16, 6, 7)
    with pytest.raises(ArenaError, match="board planes"):
        ResTower((42,))


def test_unknown_preset_names_the_valid_ones():
    with pytest.raises(ArenaError, match="valid: flat, mlp-64x1"):
        make_backbone("mlp-huge", (4,))


def test_policy_head_gives_illegal_actions_zero_probability():
    head = PolicyHead(8, 7)
    mask = torch.tensor([[True, False, True, True, False, True, True]] * 3)
    logits = head(torch.randn(3, 8), mask)
    probs = torch.softmax(logits, -1)
    assert torch.all(probs[~mask] == 0)
    assert torch.allclose(probs.sum(-1), torch.ones(3))
    # entropy of a masked distribution stays finite (torch clamps -inf logits)
    assert torch.isfinite(torch.distributions.Categorical(logits=logits).entropy()).all()


@pytest.mark.parametrize("dueling", [False, True])
def test_q_head_masks_and_argmax_is_legal(dueling):
    head = QHead(8, 5, dueling=dueling)
    mask = torch.tensor([[False, False, True, False, True]] * 4)
    q = head(torch.randn(4, 8), mask)
    assert q.shape == (4, 5)
    assert torch.all(q[~mask] == float("-inf"))
    assert set(q.argmax(-1).tolist()) <= {2, 4}


def test_dueling_q_is_value_plus_centred_advantage():
    head = QHead(3, 4, dueling=True)
    x = torch.randn(6, 3)
    q = head(x)
    value = head.value(x)
    # the mean over actions of Q is V, since the advantages are centred
    assert torch.allclose(q.mean(-1, keepdim=True), value, atol=1e-6)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_recurrent_sequence_equals_step_by_step(cell):
    core = LSTMCore(make_backbone("mlp-64x1", (3,)), hidden_size=16, cell=cell)
    steps, batch = 7, 4
    obs = torch.randn(steps, batch, 3)
    done = torch.zeros(steps, batch, dtype=torch.bool)
    done[3, 1] = done[5, 2] = True  # episodes end in two of the envs
    start = tuple(torch.randn_like(s) for s in core.initial_state(batch))
    whole, final = core(obs, start, done)
    state, parts = start, []
    for t in range(steps):
        out, state = core(obs[t], state, done[t])
        parts.append(out)
    assert torch.allclose(whole, torch.stack(parts), atol=1e-6)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(final, state, strict=True))


def test_recurrent_state_resets_where_done():
    core = LSTMCore(make_backbone("mlp-64x1", (3,)), hidden_size=16)
    obs = torch.randn(1, 2, 3)
    carried = tuple(torch.randn_like(s) for s in core.initial_state(2))
    done = torch.tensor([[True, False]])
    out, _ = core(obs, carried, done)
    fresh, _ = core(obs[:, :1], None)  # env 0 starts a new episode: as if from a zero state
    kept, _ = core(obs[:, 1:], tuple(s[:, 1:] for s in carried))
    assert torch.allclose(out[:, :1], fresh, atol=1e-6)
    assert torch.allclose(out[:, 1:], kept, atol=1e-6)
    assert not torch.allclose(out[:, :1], core(obs[:, :1], tuple(s[:, :1] for s in carried))[0])


def test_actor_critic_shapes_and_masking():
    model = ActorCritic("mlp-64x2", (2, 6, 7), 7)
    mask = torch.ones(5, 7, dtype=torch.bool)
    mask[:, 3] = False
    logits, values, state = model(torch.zeros(5, 2, 6, 7), mask=mask)
    assert logits.shape == (5, 7) and values.shape == (5,) and state is None
    assert torch.all(logits[:, 3] == float("-inf"))
    recurrent = ActorCritic("lstm-64", (4,), 2)
    assert recurrent.shared
    logits, values, state = recurrent(torch.zeros(6, 3, 4), recurrent.initial_state(3), torch.zeros(6, 3))
    assert logits.shape == (6, 3, 2) and values.shape == (6, 3) and state[0].shape == (1, 3, 64)


def test_q_network_shapes():
    net = QNetwork("mlp-256x2", (4,), 2, dueling=True)
    assert net(torch.zeros(9, 4)).shape == (9, 2)


def test_twin_mlp_equals_two_separate_mlps():
    from algorithms.nets import MLP, TwinMLP

    twin = TwinMLP((4,), (64, 64))
    obs = torch.randn(5, 4)
    for k in range(2):
        mlp = MLP((4,), (64, 64))
        linears = [m for m in mlp.body if isinstance(m, torch.nn.Linear)]
        for linear, weight, bias in zip(linears, twin.weights, twin.biases, strict=True):
            linear.weight.data.copy_(weight[k].T)
            linear.bias.data.copy_(bias[k, 0])
        torch.testing.assert_close(twin(obs)[k], mlp(obs)[0])
