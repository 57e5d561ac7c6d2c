"""The CUDA paths: the learners on a GPU (AlphaZero's under bf16 autocast), batched inference there, checkpoints
that move between GPU and CPU, and `mpirun` self-play with a GPU learner and CPU or GPU actors.

Skipped where torch sees no CUDA device (CI here has none); run them on a GPU machine with
`pytest tests/test_cuda.py`.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from agents.matches import play_game
from algorithms.alphazero import AZConfig, Samples
from algorithms.alphazero.agent import load_agent
from algorithms.alphazero.learner import Learner
from algorithms.dqn import DQNConfig
from algorithms.dqn import model_from_checkpoint as dqn_model
from algorithms.dqn import train as dqn_train
from algorithms.evaluators import TorchEvaluator, make_evaluator
from algorithms.nets import PolicyValueNet
from algorithms.ppo import PPOConfig
from algorithms.ppo import model_from_checkpoint as ppo_model
from algorithms.ppo import train as ppo_train
from algorithms.registry import make_agent
from core.checkpoint import load_checkpoint_file, resolve_checkpoint_path
from core.config import load_config
from core.run import Run
from envs import make_game
from tests.test_evaluators import positions

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device visible to torch")

ROOT = Path(__file__).resolve().parents[1]
CUDA = torch.device("cuda")
TINY_AZ = [
    "game=tictactoe",
    "selfplay.parallel_games=16",
    "selfplay.simulations=16",
    "learn.batch_size=64",
    "learn.min_replay=200",
    "eval.every=30",
    "eval.games=4",
    "eval.simulations=8",
    "eval.opponents=[random]",
    "run.checkpoint_every=10",
    "tracking.mode=disabled",
]


def test_the_alphazero_learner_trains_on_cuda_under_bf16_with_float_weights():
    game = make_game("connect_four")
    rng = np.random.default_rng(0)
    obs = rng.integers(0, 2, (256, *game.obs_shape)).astype(np.float32)
    policy = rng.dirichlet(np.ones(game.num_actions), 256).astype(np.float32)
    batch = Samples(obs, policy, rng.choice([-1.0, 1.0], 256).astype(np.float32))
    config = load_config(AZConfig, None, ["learn.learning_rate=0.003"])  # precision: auto
    first_losses = []
    for device, precision in ((torch.device("cpu"), "float32"), (CUDA, "auto")):
        torch.manual_seed(0)
        net = PolicyValueNet("resnet-4x48", game.obs_shape, game.num_actions).to(device)
        learner = Learner(net, load_config(AZConfig, None, [f"learn.precision={precision}"]).learn, device)
        first_losses.append(learner.update(batch)["learn/loss"])
    assert learner.bf16  # auto takes bf16 autocast on CUDA
    # the same weights and batch give the same first loss within bf16's rounding
    assert first_losses[1] == pytest.approx(first_losses[0], rel=0.02)
    torch.manual_seed(0)
    learner = Learner(PolicyValueNet("resnet-4x48", game.obs_shape, game.num_actions).to(CUDA), config.learn, CUDA)
    first = learner.update(batch)["learn/value_loss"]
    for _ in range(60):
        last = learner.update(batch)["learn/value_loss"]
    assert last < 0.5 * first  # it memorises 256 outcomes
    assert all(p.is_cuda and p.dtype == torch.float32 for p in learner.net.parameters())


def test_batched_inference_on_cuda_agrees_with_the_cpu_on_the_shipped_net():
    game = make_game("connect_four")
    net = load_agent(game, "connect_four", mirror=False).evaluator.net
    obs, mask = positions(1024)  # Connect Four positions 0-11 random plies in
    cpu = TorchEvaluator(net, torch.device("cpu"))
    gpu = make_evaluator(net, CUDA)  # auto on CUDA: torch, bf16 autocast
    assert isinstance(gpu, TorchEvaluator)
    (p, v), (q, w) = cpu(obs, mask), gpu(obs, mask)
    assert q.dtype == np.float32 and w.shape == (1024,)
    assert np.all(q[~mask] == 0) and np.allclose(q.sum(1), 1, atol=1e-5)
    assert np.mean(p.argmax(1) == q.argmax(1)) >= 0.97  # bf16 flips only near-ties
    assert np.abs(v - w).mean() < 0.02


def test_an_az_agent_searches_on_cuda_takes_wins_and_beats_minimax():
    game = make_game("connect_four")
    agent = make_agent("az:connect_four,sims=200,device=cuda", game)
    assert agent.act(game.state_from_moves("445566")) in (2, 6)  # X completes four on the bottom row
    assert agent.act(game.state_from_moves("12131")) == 0  # O must block X's three in column 1
    final, _ = play_game(game, agent, make_agent("minimax:depth=2", game), seed=0)
    assert final.returns()[0] == 1.0  # the first player wins Connect Four, and the shipped net knows how


def test_one_process_az_training_on_cuda_checkpoints_resumes_and_plays_on_cpu(tmp_path):
    command = [sys.executable, "-m", "runners.train", "configs/az_tictactoe.yaml", f"run.runs_dir={tmp_path}"]
    command += ["run.name=g", "run.device=cuda", "learn.total_steps=20", *TINY_AZ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "learner on cuda:" in done.stderr
    checkpoint = load_checkpoint_file(resolve_checkpoint_path(tmp_path / "g"))
    assert all(t.device.type == "cpu" for t in checkpoint["net"].values())  # loaded with map_location=cpu
    resumed = subprocess.run(
        [sys.executable, "-m", "runners.train", "--resume", str(tmp_path / "g"), "learn.total_steps=40"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resumed from step 20" in resumed.stderr and "steps=40" in resumed.stdout
    game = make_game("tictactoe")
    agent = make_agent(f"az:{tmp_path / 'g'},sims=16,device=cpu", game)
    state = game.state_from_board("""
        . X X
        . O O
        . . .
    """)
    assert agent.act(state) == 0  # the GPU-trained net plays on a CPU, and its search takes the win


@pytest.mark.skipif(shutil.which("mpirun") is None, reason="mpirun not installed (pip install mpich)")
@pytest.mark.parametrize("actor_device", ["cpu", "cuda"])
def test_mpirun_selfplay_learns_on_cuda_with_actors_on_either_device(tmp_path, actor_device):
    command = ["mpirun", "-n", "3", sys.executable, "-m", "runners.selfplay", "configs/az_tictactoe.yaml"]
    command += [f"run.runs_dir={tmp_path}", "run.name=m", "run.device=auto", "learn.total_steps=30"]
    command += [f"distributed.actor_device={actor_device}", "distributed.publish_every=5", *TINY_AZ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "learner(s) on cuda:" in done.stderr and f"2 actor(s) on {actor_device}" in done.stderr
    assert "steps=30" in done.stdout
    records = [json.loads(line) for line in (tmp_path / "m" / "metrics.jsonl").read_text().splitlines()]
    for actor in (1, 2):
        versions = [
            r[f"rank{actor}/actor/weights_version"] for r in records if f"rank{actor}/actor/weights_version" in r
        ]
        assert max(versions) >= 3, f"actor {actor} saw versions {versions}"


def test_ppo_and_dqn_train_on_cuda_and_their_checkpoints_load_on_cpu(tmp_path):
    common = [f"run.runs_dir={tmp_path}", "run.device=cuda", "tracking.mode=disabled", "eval.episodes=2"]
    config = load_config(PPOConfig, None, [*common, "ppo.total_steps=1024"])
    with Run.create(config, name="ppo") as run:
        assert ppo_train(config, run)["global_step"] == 1024
    model = ppo_model(load_checkpoint_file(resolve_checkpoint_path(tmp_path / "ppo")))
    logits, value, _ = model(torch.zeros(3, 4))
    assert logits.shape == (3, 2) and torch.isfinite(value).all()

    small = ["dqn.total_steps=600", "dqn.learning_starts=100", "dqn.train_freq=100", "dqn.gradient_steps=8"]
    config = load_config(DQNConfig, None, [*common, *small, "net.preset=mlp-64x2"])
    with Run.create(config, name="dqn") as run:
        assert dqn_train(config, run)["gradient_steps"] == 48
    assert dqn_model(load_checkpoint_file(resolve_checkpoint_path(tmp_path / "dqn")))(torch.zeros(3, 4)).shape == (3, 2)
