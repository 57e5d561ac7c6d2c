"""`mpirun -n N arena selfplay`: samples flow to the learner, weights flow back, faults end the job and resume."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.mpi,
    pytest.mark.skipif(shutil.which("mpirun") is None, reason="mpirun not installed (pip install mpich)"),
]

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "selfplay.parallel_games=16",
    "selfplay.simulations=16",
    "learn.batch_size=64",
    "learn.min_replay=200",
    "eval.games=4",
    "eval.simulations=8",
    "eval.opponents=[random]",
    "distributed.publish_every=5",
    "run.checkpoint_every=10",
    "tracking.mode=disabled",
]


def selfplay(ranks: int, *args: str) -> list[str]:
    return ["mpirun", "-n", str(ranks), sys.executable, "-m", "runners.selfplay", *args]


def records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize(("ranks", "learners"), [(2, 1), (3, 1)])
def test_samples_reach_the_learner_and_new_weights_reach_every_actor(tmp_path, ranks, learners):
    args = [
        "configs/az_tictactoe.yaml",
        f"run.runs_dir={tmp_path}",
        "run.name=r",
        "learn.total_steps=30",
        "eval.every=30",
        f"distributed.learners={learners}",
        *TINY,
    ]
    done = subprocess.run(selfplay(ranks, *args), cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "steps=30" in done.stdout
    got = records(tmp_path / "r")
    assert max(r.get("selfplay/samples", 0) for r in got) >= 200
    for actor in range(learners, ranks):
        versions = [r[f"rank{actor}/actor/weights_version"] for r in got if f"rank{actor}/actor/weights_version" in r]
        assert versions[0] == 0 and max(versions) >= 3, f"actor {actor} saw versions {versions}"
    assert (tmp_path / "r" / "checkpoints" / "ckpt-000000000030.pt").is_file()


def test_a_killed_actor_ends_the_job_and_the_run_resumes_from_its_checkpoint(tmp_path):
    run_dir = tmp_path / "k"
    args = [
        "configs/az_tictactoe.yaml",
        f"run.runs_dir={tmp_path}",
        "run.name=k",
        "learn.total_steps=100000",
        "eval.every=100000",
        *TINY,
    ]
    job = subprocess.Popen(selfplay(3, *args), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 180
        while not list((run_dir / "checkpoints").glob("ckpt-*.pt")) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert list((run_dir / "checkpoints").glob("ckpt-*.pt")), "no checkpoint appeared"
        actor_pid = int((run_dir / "ranks" / "2").read_text().split()[1])
        os.kill(actor_pid, signal.SIGKILL)
        job.wait(timeout=30)  # the whole job ends within seconds, not a hang
    finally:
        if job.poll() is None:
            job.kill()
    assert job.returncode != 0
    saved = sorted(p.name for p in (run_dir / "checkpoints").glob("ckpt-*.pt"))
    last_step = int(saved[-1][5:-3])
    resumed = subprocess.run(
        selfplay(2, "--resume", str(run_dir), f"learn.total_steps={last_step + 20}"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"steps={last_step + 20}" in resumed.stdout
    steps = [r["step"] for r in records(run_dir) if "learn/loss" in r]
    assert steps[-1] == last_step + 20


def test_sigterm_checkpoints_and_exits_cleanly(tmp_path):
    args = [
        "configs/az_tictactoe.yaml",
        f"run.runs_dir={tmp_path}",
        "run.name=t",
        "learn.total_steps=100000",
        "eval.every=100000",
        "run.checkpoint_every=100000",
        *TINY,
    ]
    job = subprocess.Popen(
        selfplay(2, *args), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            metrics = tmp_path / "t" / "metrics.jsonl"
            if metrics.is_file() and "learn/loss" in metrics.read_text():
                break
            time.sleep(0.5)
        os.killpg(job.pid, signal.SIGTERM)
        _, err = job.communicate(timeout=60)
    finally:
        if job.poll() is None:
            job.kill()
    assert job.returncode == 130, err[-2000:]
    assert "continue with: arena selfplay --resume" in err
    assert list((tmp_path / "t" / "checkpoints").glob("ckpt-*.pt"))


def test_one_process_runs_learner_and_actor_together(tmp_path):
    args = [
        "configs/az_tictactoe.yaml",
        f"run.runs_dir={tmp_path}",
        "run.name=o",
        "learn.total_steps=10",
        "eval.every=10",
        *TINY,
    ]
    done = subprocess.run(
        [sys.executable, "-m", "runners.selfplay", *args], cwd=ROOT, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "o" / "checkpoints" / "ckpt-000000000010.pt").is_file()


def test_too_few_ranks_for_the_learners_is_a_clear_error(tmp_path):
    args = ["configs/az_tictactoe.yaml", f"run.runs_dir={tmp_path}", "distributed.learners=2", *TINY]
    done = subprocess.run(selfplay(3, *args), cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "3 ranks cannot give each of 2 learner(s) an actor; run with mpirun -n 4 or more" in done.stderr


# ---------------------------------------------------------------------------------------------------------------
# The same runner drives PPO (synchronous) and DQN (Ape-X)

PPO_TINY = [
    "configs/ppo_cartpole.yaml",
    "env.num_envs=4",
    "ppo.num_steps=16",
    "ppo.minibatch_size=64",
    "ppo.update_epochs=2",
    "eval.episodes=2",
    "tracking.mode=disabled",
]


def test_ppo_actors_each_send_one_rollout_per_update_and_take_every_new_version(tmp_path):
    args = [*PPO_TINY, f"run.runs_dir={tmp_path}", "run.name=p", "ppo.total_steps=1280", "run.checkpoint_every=640"]
    done = subprocess.run(selfplay(3, *args), cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    # two actors x 4 envs x 16 steps = 128 env steps per synchronous update: 10 updates
    assert "global_step=1280" in done.stdout
    got = records(tmp_path / "p")
    learner_steps = [r["step"] for r in got if "train/policy_loss" in r]
    assert learner_steps == [128 * k for k in range(1, 11)]
    for actor in (1, 2):
        versions = [r[f"rank{actor}/actor/weights_version"] for r in got if f"rank{actor}/actor/weights_version" in r]
        assert versions == list(range(len(versions))) and max(versions) >= 9, versions  # none skipped
    assert (tmp_path / "p" / "checkpoints" / "ckpt-000000000640.pt").is_file()


def test_dqn_actors_feed_one_replay_at_the_single_process_replay_ratio(tmp_path):
    args = [
        "configs/dqn_cartpole.yaml",
        f"run.runs_dir={tmp_path}",
        "run.name=d",
        "dqn.total_steps=2000",
        "dqn.learning_starts=400",
        "dqn.train_freq=200",
        "dqn.gradient_steps=4",
        "eval.episodes=2",
        "run.checkpoint_every=1000",
        "tracking.mode=disabled",
    ]
    done = subprocess.run(selfplay(3, *args), cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    # rounds owed by the first 2000 env steps: one per 200 past 400 (400 is the first) = 9 rounds of 4 steps
    assert "gradient_steps=36" in done.stdout
    got = records(tmp_path / "d")
    assert max(r.get("rank1/actor/weights_version", 0) for r in got) >= 3
    assert max(r.get("rank2/actor/weights_version", 0) for r in got) >= 3
    assert (tmp_path / "d" / "checkpoints").is_dir() and list((tmp_path / "d" / "checkpoints").glob("ckpt-*.pt"))


def test_several_learners_are_refused_for_ppo(tmp_path):
    args = [*PPO_TINY, f"run.runs_dir={tmp_path}", "distributed.learners=2"]
    done = subprocess.run(selfplay(4, *args), cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "distributed.learners: 2 is for AlphaZero" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_ppo_through_mpirun_solves_cartpole(tmp_path):
    args = ["configs/ppo_cartpole.yaml", f"run.runs_dir={tmp_path}", "run.name=s", "ppo.total_steps=60000",
            "eval.episodes=10", "tracking.mode=disabled"]  # fmt: skip
    done = subprocess.run(selfplay(3, *args), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert float(done.stdout.split("eval/return_mean=")[1].split()[0]) >= 475
