"""PPO: smoke runs through `Run` (feed-forward and recurrent), resume, GAE, config errors; slow learning tests."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from algorithms.ppo import PPOConfig, PPOParams, gae, masked_log_probs, model_from_checkpoint, train
from core.checkpoint import load_checkpoint_file, resolve_checkpoint_path
from core.config import ConfigError, load_config
from core.errors import ArenaError
from core.run import Run


def make_run(tmp_path, *overrides, name="r"):
    config = load_config(
        PPOConfig,
        None,
        [f"run.runs_dir={tmp_path}", "tracking.mode=disabled", "run.torch_threads=1", *overrides],
    )
    return config, Run.create(config, name=name)


def metrics(run):
    return [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]


def test_defaults_are_a_cartpole_run():
    config = PPOConfig()
    assert config.algo == "ppo" and config.env.id == "CartPole-v1" and config.ppo.total_steps == 100_000


def test_unknown_key_suggests_the_right_one(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("ppo:\n  lr: 0.001\n")
    with pytest.raises(ConfigError, match=r"unknown key 'lr' in .*c.yaml \[ppo\]; did you mean 'learning_rate'\?"):
        load_config(PPOConfig, path)


def test_smoke_run_logs_checkpoints_and_evaluates(tmp_path):
    config, run = make_run(tmp_path, "ppo.total_steps=512", "eval.episodes=2", "run.checkpoint_every=256")
    with run:
        result = train(config, run)
    assert result["global_step"] == 512
    assert np.isfinite(result["eval/return_mean"])
    records = metrics(run)
    assert any("train/policy_loss" in r for r in records)
    assert any("eval/return_mean" in r for r in records)
    checkpoint = load_checkpoint_file(resolve_checkpoint_path(run.path))
    assert checkpoint["global_step"] == 512 and checkpoint["update"] == 2
    # the checkpoint alone rebuilds the policy
    model = model_from_checkpoint(checkpoint)
    logits, value, _ = model(torch.zeros(3, 4))
    assert logits.shape == (3, 2) and value.shape == (3,)


def test_recurrent_smoke_on_masked_cartpole(tmp_path):
    config, run = make_run(
        tmp_path, "net.preset=lstm-64", "env.wrapper=mask-velocity", "ppo.total_steps=512",
        "ppo.num_steps=16", "ppo.minibatch_size=64", "ppo.update_epochs=2", "eval.episodes=2",
    )  # fmt: skip
    with run:
        result = train(config, run)
    assert result["global_step"] == 512
    checkpoint = load_checkpoint_file(resolve_checkpoint_path(run.path))
    assert checkpoint["net"]["obs_shape"] == [2]  # velocities hidden
    assert model_from_checkpoint(checkpoint).recurrent


def test_recurrent_minibatches_must_split_the_envs(tmp_path):
    config, run = make_run(tmp_path, "net.preset=lstm-64", "env.num_envs=3", "ppo.minibatch_size=64",
                           "ppo.num_steps=32", "ppo.total_steps=96")  # fmt: skip
    with run, pytest.raises(ArenaError, match="whole sequences"):
        train(config, run)


def test_resume_continues_counters_and_weights(tmp_path):
    config, run = make_run(tmp_path, "ppo.total_steps=1024", "eval.episodes=0", "run.checkpoint_every=512")
    with run:
        train(config, run)
    first = load_checkpoint_file(resolve_checkpoint_path(run.path))
    # resume with a larger budget: it starts from step 1024, not from 0
    resumed = Run.resume(run.path, PPOConfig, ["ppo.total_steps=2048"])
    with resumed:
        result = train(resumed.config, resumed)
    assert result["global_step"] == 2048
    steps = [r["step"] for r in metrics(resumed) if "train/policy_loss" in r]
    assert steps == sorted(steps) and steps[0] == 256 and steps[-1] == 2048 and len(steps) == 8
    last = load_checkpoint_file(resolve_checkpoint_path(run.path))
    assert last["update"] == 8
    assert not torch.equal(first["model"]["policy.linear.weight"], last["model"]["policy.linear.weight"])


def test_two_resumes_of_one_checkpoint_are_the_same_run(tmp_path, capsys):
    """What the README promises for a resume: weights, optimizer, counters and every RNG stream come back, so a
    resumed run is reproducible; the envs start new episodes (seeded from the restored stream)."""
    import shutil

    from runners.cli import main

    config, run = make_run(tmp_path, "ppo.total_steps=1024", "eval.episodes=2", "run.checkpoint_every=512")
    with run:
        train(config, run)
    runs = [Path(shutil.copytree(run.path, tmp_path / f"copy{i}")) for i in (1, 2)]
    for copy in runs:
        assert main(["train", "--resume", str(copy), "ppo.total_steps=2048"]) == 0
        err = capsys.readouterr().err
        assert "resumed from step 1024" in err.splitlines()  # stderr is no terminal here: plain progress lines
        assert "ppo CartPole-v1: resumed from step 1,024 of 2,048" in err

    def figures(folder: Path) -> list[dict]:
        rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
        timing = ("time", "charts/sps", "time_s", "charts/rollout_sps")
        return [{k: v for k, v in r.items() if k not in timing} for r in rows if r.get("step", 0) > 1024]

    assert figures(runs[0]) == figures(runs[1]) and len(figures(runs[0])) >= 4
    finals = [load_checkpoint_file(resolve_checkpoint_path(folder)) for folder in runs]
    assert finals[0]["global_step"] == 2048
    for name, weights in finals[0]["model"].items():
        assert torch.equal(weights, finals[1]["model"][name])


def test_resume_refuses_a_checkpoint_of_another_shape(tmp_path):
    config, run = make_run(tmp_path, "ppo.total_steps=256", "eval.episodes=0")
    with run:
        train(config, run)
    resumed = Run.resume(run.path, PPOConfig, ["env.wrapper=mask-velocity", "ppo.total_steps=512"])
    with resumed, pytest.raises(ArenaError, match=r"observations \(4,\).*gives \(2,\)"):
        train(resumed.config, resumed)


def test_gae_matches_hand_computation_and_stops_at_episode_ends():
    p = PPOParams(gamma=0.5, gae_lambda=0.5)
    rewards = np.array([[1.0], [1.0], [1.0]], dtype=np.float32)
    values = np.zeros((3, 1), dtype=np.float32)
    dones = np.array([[0.0], [0.0], [1.0]], dtype=np.float32)  # obs[2] starts a new episode
    adv = gae(rewards, values, dones, np.array([10.0]), np.array([0.0]), p)
    # step 2 bootstraps from next_value: 1 + 0.5 * 10; step 1 ends its episode: 1; step 0: 1 + 0.25 * 1
    np.testing.assert_allclose(adv[:, 0], [1.25, 1.0, 6.0])


def test_masked_entropy_is_finite_and_ignores_illegal_actions():
    logits = torch.tensor([[0.0, float("-inf"), 0.0]])
    logp, entropy = masked_log_probs(logits)
    assert torch.isclose(entropy, torch.tensor([np.log(2.0)], dtype=torch.float32)).all()
    assert logp[0, 1] == float("-inf")


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ppo_solves_cartpole_within_100k_steps(tmp_path, seed):
    config, run = make_run(tmp_path, f"run.seed={seed}", "ppo.target_return=475", "eval.episodes=0")  # defaults
    with run:
        result = train(config, run)
    assert result["train/return_mean20"] >= 475
    assert result["global_step"] <= 100_000


def test_board_game_policy_becomes_a_tournament_agent(tmp_path):
    from algorithms.registry import make_agent
    from envs import make_game

    config, run = make_run(
        tmp_path, "env.id=arena/ConnectFour-v0", "env.num_envs=4", "net.preset=mlp-64x2", "ppo.total_steps=256",
        "ppo.num_steps=32", "ppo.minibatch_size=64", "ppo.update_epochs=1", "eval.episodes=4",
    )  # fmt: skip
    with run:
        result = train(config, run)
    assert result["global_step"] == 256
    game = make_game("connect_four")
    agent = make_agent(f"ppo:{run.path}/latest", game)
    # the spec loads the trained policy itself: its greedy moves are the checkpoint's net's masked argmax
    model = model_from_checkpoint(load_checkpoint_file(resolve_checkpoint_path(run.path)))
    for moves in ("", "4455", "1111112", "3334"):
        position = game.state_from_moves(moves)
        obs, mask = torch.as_tensor(position.observation())[None], torch.as_tensor(position.legal_mask())[None]
        with torch.no_grad():
            expected = int(model(obs, None, None, mask)[0].argmax(-1))
        assert agent.act(position) == expected
    state = game.state_from_moves("1111112")  # column 1 is full: the policy must not pick it
    for _ in range(5):
        action = agent.act(state)
        assert state.legal_mask()[action] and action != 0
    sampler = make_agent(f"ppo:{run.path},greedy=false,seed=3", game)
    assert sampler.act(state) != 0


def test_agent_from_a_cartpole_checkpoint_is_refused_for_a_game(tmp_path):
    from algorithms.registry import make_agent
    from envs import make_game

    config, run = make_run(tmp_path, "ppo.total_steps=256", "eval.episodes=0")
    with run:
        train(config, run)
    with pytest.raises(ArenaError, match=r"observations \(4,\) with 2 actions; this env gives \(2, 6, 7\) with 7"):
        make_agent(f"ppo:{run.path}", make_game("connect_four"))


@pytest.mark.slow
def test_recurrent_ppo_solves_masked_cartpole_where_feed_forward_cannot(tmp_path):
    configs = Path(__file__).resolve().parents[1] / "configs"
    overrides = [f"run.runs_dir={tmp_path}", "tracking.mode=disabled", "ppo.target_return=400", "eval.episodes=0"]
    recurrent = load_config(PPOConfig, configs / "ppo_cartpole_novel.yaml", overrides)
    with Run.create(recurrent, name="lstm") as run:
        result = train(recurrent, run)
    assert result["train/return_mean20"] >= 400
    feed_forward = load_config(PPOConfig, configs / "ppo_cartpole_novel_ff.yaml", [*overrides, "ppo.total_steps=50000"])
    with Run.create(feed_forward, name="ff") as run:
        result = train(feed_forward, run)
    assert result["train/best_return_mean20"] < 150


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parents[1] / "configs").glob("ppo_*.yaml")))
def test_every_ppo_config_loads(path):
    config = load_config(PPOConfig, path)
    assert config.algo == "ppo" and config.env.id


def test_atari_pixels_train_through_nature_cnn(tmp_path):
    pytest.importorskip("ale_py")
    pytest.importorskip("cv2")
    config, run = make_run(
        tmp_path, "env.id=ALE/Breakout-v5", "env.wrapper=atari", "env.num_envs=2", "net.preset=nature-cnn",
        "net.shared=true", "ppo.total_steps=64", "ppo.num_steps=32", "ppo.minibatch_size=32", "ppo.update_epochs=1",
        "eval.episodes=0",
    )  # fmt: skip
    with run:
        result = train(config, run)
    assert result["global_step"] == 64
    checkpoint = load_checkpoint_file(resolve_checkpoint_path(run.path))
    assert checkpoint["net"]["obs_shape"] == [4, 84, 84]
