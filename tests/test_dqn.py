"""DQN: replay (n-step folding, priorities), the TD target, smoke runs through `Run`, resume; slow learning test."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from algorithms.buffers import NStepFolder, ReplayBuffer, SumTree
from algorithms.dqn import DQNConfig, model_from_checkpoint, random_actions, td_loss, train
from algorithms.dqn.loss import TensorBatch
from algorithms.nets import QNetwork
from core.checkpoint import load_checkpoint_file, resolve_checkpoint_path
from core.config import load_config
from core.run import Run


def make_run(tmp_path, *overrides, name="r"):
    config = load_config(
        DQNConfig,
        None,
        [f"run.runs_dir={tmp_path}", "tracking.mode=disabled", "run.torch_threads=1", *overrides],
    )
    return config, Run.create(config, name=name)


SMALL = ("dqn.total_steps=600", "dqn.learning_starts=100", "dqn.train_freq=100", "dqn.gradient_steps=8",
         "eval.episodes=2", "net.preset=mlp-64x2")  # fmt: skip


def test_n_step_folding_sums_discounted_rewards_and_stops_at_the_end():
    folder = NStepFolder(num_envs=1, n=3, gamma=0.5)
    obs = [np.array([[float(t)]]) for t in range(5)]
    out = []
    for t in range(4):
        ended = terminated = np.array([t == 3])
        folded = folder.push(obs[t], np.array([t]), np.array([1.0]), obs[t + 1], terminated, ended)
        if folded is not None:
            out.append(folded)
    obs_o = np.concatenate([o[0] for o in out])[:, 0]
    returns = np.concatenate([o[2] for o in out])
    discounts = np.concatenate([o[4] for o in out])
    next_o = np.concatenate([o[3] for o in out])[:, 0]
    # from obs 0: three rewards then bootstrap from obs 3 with 0.5^3; the tail ends in a terminal state
    np.testing.assert_allclose(obs_o, [0, 1, 2, 3])
    np.testing.assert_allclose(returns, [1.75, 1.75, 1.5, 1.0])
    np.testing.assert_allclose(discounts, [0.125, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(next_o, [3, 4, 4, 4])


def test_sum_tree_samples_in_proportion_to_priority():
    tree = SumTree(5)
    tree.update(np.arange(5), np.array([1.0, 0.0, 3.0, 0.0, 4.0]))
    assert tree.total() == 8.0
    np.testing.assert_array_equal(tree.find(np.array([0.5, 1.0, 3.9, 4.0, 7.99])), [0, 2, 2, 4, 4])


def test_prioritized_replay_prefers_large_errors():
    rng = np.random.default_rng(0)
    buffer = ReplayBuffer(100, (1,), np.float32, prioritized=True, alpha=1.0)
    buffer.add(np.zeros((10, 1)), np.zeros(10), np.zeros(10), np.zeros((10, 1)), np.ones(10))
    buffer.update_priorities(np.arange(10), np.array([0.0] * 9 + [100.0]))
    batch = buffer.sample_prioritized(64, beta=1.0, rng=rng)
    assert np.mean(batch.indices == 9) > 0.9
    assert batch.weights.max() == pytest.approx(1.0)


def test_random_exploration_picks_legal_actions_only():
    mask = np.array([[False, True, False, True]] * 200)
    actions = random_actions(np.random.default_rng(0), 200, 4, mask)
    assert set(actions.tolist()) == {1, 3}


def test_td_target_uses_legal_next_actions_and_ignores_terminal_states():
    torch.manual_seed(0)
    q_net = QNetwork("mlp-64x1", (2,), 3)
    batch = TensorBatch(
        obs=torch.zeros(2, 2),
        actions=torch.tensor([0, 1]),
        rewards=torch.tensor([1.0, 2.0]),
        next_obs=torch.ones(2, 2),
        discounts=torch.tensor([0.5, 0.0]),
        weights=torch.ones(2),
        next_masks=torch.tensor([[False, True, False], [False, False, False]]),  # second: game over
    )
    _, td = td_loss(q_net, q_net, batch, double=True)
    q = q_net(batch.obs).gather(1, batch.actions[:, None]).squeeze(1)
    next_q = q_net(batch.next_obs)[0, 1]  # the only legal action
    expected = torch.stack([1.0 + 0.5 * next_q, torch.tensor(2.0)])
    torch.testing.assert_close(q - td, expected)


def test_smoke_run_learns_checkpoints_and_evaluates(tmp_path):
    config, run = make_run(tmp_path, *SMALL, "net.dueling=true", "dqn.n_step=3", "dqn.prioritized=true")
    with run:
        result = train(config, run)
    assert result["global_step"] == 600 and result["gradient_steps"] == 6 * 8  # rounds at steps 100, 200, ..., 600
    assert np.isfinite(result["eval/return_mean"])
    records = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]
    assert any("train/loss" in r for r in records) and any("train/episode_return" in r for r in records)
    checkpoint = load_checkpoint_file(resolve_checkpoint_path(run.path))
    assert checkpoint["replay"]["size"] > 500
    assert model_from_checkpoint(checkpoint)(torch.zeros(3, 4)).shape == (3, 2)


def test_resume_continues_counters_replay_and_weights(tmp_path):
    config, run = make_run(tmp_path, *SMALL, "eval.episodes=0")
    with run:
        train(config, run)
    first = load_checkpoint_file(resolve_checkpoint_path(run.path))
    resumed = Run.resume(run.path, DQNConfig, ["dqn.total_steps=1200"])
    with resumed:
        result = train(resumed.config, resumed)
    assert result["global_step"] == 1200 and result["gradient_steps"] == 12 * 8
    last = load_checkpoint_file(resolve_checkpoint_path(run.path))
    assert last["replay"]["size"] == 1200
    assert not torch.equal(first["model"]["head.advantage.weight"], last["model"]["head.advantage.weight"])


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_dqn_solves_cartpole_within_50k_steps(tmp_path, seed):
    config, run = make_run(tmp_path, f"run.seed={seed}")
    with run:
        result = train(config, run)
    assert result["eval/return_mean"] >= 475


def test_board_game_q_network_becomes_a_tournament_agent(tmp_path):
    from algorithms.registry import make_agent
    from envs import make_game

    config, run = make_run(
        tmp_path, "env.id=arena/ConnectFour-v0", "env.num_envs=2", "net.dueling=true", "dqn.n_step=3",
        *SMALL[:4], "eval.episodes=4",
    )  # fmt: skip
    with run:
        result = train(config, run)
    assert result["global_step"] == 600
    game = make_game("connect_four")
    agent = make_agent(f"dqn:{run.path}/latest", game)
    # the spec loads the trained Q-network itself: its moves are the checkpoint's net's legal argmax
    q_net = model_from_checkpoint(load_checkpoint_file(resolve_checkpoint_path(run.path)))
    for moves in ("", "4455", "3334"):
        position = game.state_from_moves(moves)
        obs, mask = torch.as_tensor(position.observation())[None], torch.as_tensor(position.legal_mask())[None]
        with torch.no_grad():
            expected = int(q_net(obs, mask).argmax(-1))
        assert agent.act(position) == expected
    state = game.state_from_moves("1111112")  # column 1 is full
    assert agent.act(state) != 0 and state.legal_mask()[agent.act(state)]


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parents[1] / "configs").glob("dqn_*.yaml")))
def test_every_dqn_config_loads(path):
    config = load_config(DQNConfig, path)
    assert config.algo == "dqn" and config.env.id
