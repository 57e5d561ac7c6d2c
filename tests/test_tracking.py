"""Run dirs and tracking: metrics.jsonl always, W&B offline under the run dir only, resume continues the run."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from runners.config import ConfigError, RunConfig, TrackingConfig, load_config, section
from runners.plot import plot_run, read_metrics
from runners.run import Run


@dataclass(frozen=True)
class CounterConfig:
    algo: str = "counter"
    """Name of the loop."""
    run: RunConfig = section(RunConfig)
    tracking: TrackingConfig = section(TrackingConfig)


def count(run: Run, until: int) -> None:
    """A minimal training loop: restore the counter, log each step, checkpoint every 5."""
    payload = run.restore()
    step = payload["counter"] if payload else 0
    while step < until:
        step += 1
        run.log({"train/value": float(step) ** 0.5}, step=step)
        if step % 5 == 0:
            run.save({"counter": step}, step)


def records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_resumed_run_continues_its_counter_and_the_same_offline_wandb_run(tmp_path):
    config = load_config(CounterConfig, None, [f"run.runs_dir={tmp_path}", "run.name=c", "tracking.mode=offline"])
    with Run.create(config) as run:
        first_id = run.tracker.wandb_id
        count(run, until=7)  # "killed" after step 7: the last checkpoint is step 5
    assert first_id and (tmp_path / "c" / "wandb_id").read_text() == first_id

    with Run.resume(tmp_path / "c", CounterConfig) as resumed:
        assert resumed.tracker.wandb_id == first_id
        count(resumed, until=10)
    steps = [r["step"] for r in records(tmp_path / "c")]
    assert steps == [1, 2, 3, 4, 5, 6, 7, 6, 7, 8, 9, 10]  # steps 6-7 replayed from the checkpoint at 5
    offline_runs = list((tmp_path / "c" / "wandb").glob("offline-run-*"))
    # wandb names a second dir of the same second `...-<id>-1`: the id is what marks the same run
    assert len(offline_runs) == 2 and all(first_id in p.name for p in offline_runs)


def test_a_new_run_refuses_to_overwrite_one_with_checkpoints(tmp_path):
    config = load_config(CounterConfig, None, [f"run.runs_dir={tmp_path}", "run.name=c", "tracking.mode=disabled"])
    with Run.create(config) as run:
        count(run, until=5)
    with pytest.raises(ConfigError, match=rf"run dir {tmp_path / 'c'} already has checkpoints; continue it with"):
        Run.create(config)


def test_resume_of_a_folder_that_is_no_run_dir_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match=r"no config.yaml there"):
        Run.resume(tmp_path, CounterConfig)


def test_run_dir_holds_config_metrics_and_checkpoints_and_plots(tmp_path):
    config = load_config(CounterConfig, None, [f"run.runs_dir={tmp_path}", "run.name=p", "tracking.mode=disabled"])
    with Run.create(config) as run:
        count(run, until=10)
        run.tracker.histogram("train/weights", torch.randn(100), step=10)
        run.tracker.table("eval/games", ["opponent", "score"], [["random", 1.0]], step=10)
    folder = tmp_path / "p"
    assert "tracking:\n  mode: disabled" in (folder / "config.yaml").read_text()
    assert sorted(p.name for p in (folder / "checkpoints").iterdir())[-1] == "latest"
    series = read_metrics(folder / "metrics.jsonl")
    assert series["train/value"][0] == list(range(1, 11))
    assert {"train/weights/mean", "train/weights/std"} <= set(series)
    pngs = plot_run(folder)
    assert [p.name for p in pngs] == ["train.png"] and pngs[0].stat().st_size > 5_000


W_AND_B_HOME = textwrap.dedent(
    """
    import sys
    from runners.config import load_config
    from runners.run import Run
    from tests.test_tracking import CounterConfig, count

    config = load_config(CounterConfig, None, [f"run.runs_dir={sys.argv[1]}", "run.name=h"])
    with Run.create(config) as run:
        count(run, until=3)
        run.save({"counter": 3}, 3, artifact=True)
    """
)


def test_wandb_writes_under_the_run_dir_only(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_") and k != "XDG_CACHE_HOME"}
    env |= {"HOME": str(home), "WANDB_MODE": "offline", "PYTHONPATH": str(Path(__file__).parents[1])}
    subprocess.run([sys.executable, "-c", W_AND_B_HOME, str(tmp_path / "runs")], env=env, check=True, cwd=tmp_path)
    assert not any(home.rglob("*")), f"W&B wrote outside the run dir: {list(home.rglob('*'))}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "runs"]
    assert list((tmp_path / "runs" / "h" / "wandb").glob("offline-run-*"))


MPI_TRACKER = textwrap.dedent(
    """
    import sys
    from mpi4py import MPI
    from runners.config import TrackingConfig
    from runners.tracking import Tracker

    comm = MPI.COMM_WORLD
    tracker = Tracker(sys.argv[1], TrackingConfig(mode="disabled"), run_name="mpi", comm=comm)
    for step in range(3):
        tracker.log({"games_per_s": 10.0 * (comm.Get_rank() + 1) + step}, step=step)
    tracker.close()
    """
)


@pytest.mark.mpi
@pytest.mark.skipif(shutil.which("mpirun") is None, reason="mpirun not installed (pip install mpich)")
def test_under_mpi_only_the_designated_rank_writes_and_others_send_their_figures(tmp_path):
    env = os.environ | {"PYTHONPATH": str(Path(__file__).parents[1])}
    subprocess.run(
        ["mpirun", "-n", "3", sys.executable, "-c", MPI_TRACKER, str(tmp_path)], env=env, check=True, timeout=120
    )
    got = records(tmp_path)
    own = [r["games_per_s"] for r in got if "games_per_s" in r]
    sent = sorted((k, r[k]) for r in got for k in r if k.startswith("rank"))
    assert own == [10.0, 11.0, 12.0]
    assert sent == [("rank1/games_per_s", v) for v in (20.0, 21.0, 22.0)] + [
        ("rank2/games_per_s", v) for v in (30.0, 31.0, 32.0)
    ]
