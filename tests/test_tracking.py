"""Run dirs and tracking: metrics.jsonl always, W&B offline under the run dir only, resume continues the run."""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from core.config import ConfigError, RunConfig, TrackingConfig, load_config, section
from core.run import Run
from runners.plot import plot_run, read_metrics


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


def wandb_history(offline_dir: Path) -> list[dict]:
    """The history rows a W&B offline run dir holds, read from its `.wandb` log (what `wandb sync` uploads).

    The file is W&B's record log: a 7-byte header, then 32 KiB blocks of chunks (crc32, length, type), each
    record a protobuf `Record`, split over chunks when long (types: 1 whole, 2 first, 3 middle, 4 last).
    """
    import struct

    from wandb.proto import wandb_internal_pb2

    (log,) = offline_dir.glob("*.wandb")
    data = log.read_bytes()
    assert data[:4] == b":W&B"
    rows, pos, pending = [], 7, b""
    while pos + 7 <= len(data):
        left = 32768 - pos % 32768
        if left < 7:
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if kind == 0:  # padding to the block's end
            pos += left
            continue
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            if record.WhichOneof("record_type") == "history":
                rows.append(
                    {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in record.history.item}
                )
    return rows


KILLED_COUNTER = textwrap.dedent(
    """
    import sys, time
    from core.config import load_config
    from core.run import Run
    from tests.test_tracking import CounterConfig

    config = load_config(CounterConfig, None, [f"run.runs_dir={sys.argv[1]}", "run.name=c", "tracking.mode=offline"])
    run = Run.create(config)
    for step in range(1, 1000):
        run.log({"train/value": float(step) ** 0.5}, step=step)
        if step % 5 == 0:
            run.save({"counter": step}, step)
        print(step, flush=True)
        time.sleep(0.05 if step < 7 else 60)  # the parent kills it at step 7, two steps past its checkpoint
    """
)


def test_a_resumed_run_records_each_step_once_in_metrics_and_in_its_offline_wandb_run(tmp_path):
    # its own W&B service, as a real run has (an earlier test here may have started one that children would join)
    env = {k: v for k, v in os.environ.items() if k != "WANDB_SERVICE"} | {"PYTHONPATH": str(Path(__file__).parents[1])}
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_COUNTER, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # so the kill takes W&B's service process too, as a scheduler's kill would
    )
    try:
        while child.stdout.readline().strip() != "7":
            assert child.poll() is None, "the counter died before step 7"
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    first_id = (tmp_path / "c" / "wandb_id").read_text()
    assert [r["step"] for r in records(tmp_path / "c")] == list(range(1, 8))

    with Run.resume(tmp_path / "c", CounterConfig) as resumed:
        assert resumed.tracker.wandb_id == first_id and resumed.resumed_step == 5
        count(resumed, until=10)
    steps = [r["step"] for r in records(tmp_path / "c")]
    assert steps == list(range(1, 11))  # steps 6-7 were logged again after the resume, and are there once
    # W&B cannot resume offline: a second dir of the same id would replace the first one's history on sync.
    # The one dir left to sync holds the whole run; the first moved aside.
    offline_dirs = list((tmp_path / "c" / "wandb").glob("offline-run-*"))
    assert len(offline_dirs) == 1, offline_dirs
    offline = offline_dirs[0]
    assert first_id in offline.name
    assert [p.name for p in (tmp_path / "c" / "wandb" / "superseded").iterdir()] != []
    history = wandb_history(offline)
    deadline = time.monotonic() + 30
    while len(history) < 10 and time.monotonic() < deadline:  # W&B's service may still be writing its log
        time.sleep(0.2)
        history = wandb_history(offline)
    assert [row["step"] for row in history] == list(range(1, 11))
    assert [row["_step"] for row in history] == list(range(10))
    assert history[8]["train/value"] == pytest.approx(9**0.5)


def test_resume_of_a_run_killed_before_its_first_checkpoint_starts_clean(tmp_path):
    config = load_config(CounterConfig, None, [f"run.runs_dir={tmp_path}", "run.name=k", "tracking.mode=disabled"])
    with Run.create(config) as run:
        count(run, until=4)  # no checkpoint yet (every 5 steps)
    with pytest.warns(UserWarning, match=r"no checkpoint in .*k/checkpoints: starting .*k again from step 0"):
        resumed = Run.resume(tmp_path / "k", CounterConfig)
    with resumed:
        assert resumed.resumed_step is None and resumed.restore() is None
        count(resumed, until=6)
    assert [r["step"] for r in records(tmp_path / "k")] == [1, 2, 3, 4, 5, 6]


def test_an_online_resume_sends_w_and_b_only_the_steps_it_does_not_have(tmp_path):
    from core.tracking import Tracker

    class FakeWandb:
        def __init__(self) -> None:
            self.logged: list[int] = []

        def log(self, row: dict) -> None:
            self.logged.append(row["step"])

    tracker = Tracker(tmp_path, TrackingConfig(mode="disabled"), run_name="o")
    tracker._wandb, tracker._skip_until = FakeWandb(), 7  # what an online resume after step 7 sets up
    for step in range(6, 10):
        tracker.log({"x": 1.0}, step)
    assert tracker._wandb.logged == [8, 9]
    tracker._wandb = None
    tracker.close()
    assert [r["step"] for r in records(tmp_path)] == [6, 7, 8, 9]


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
    from core.config import load_config
    from core.run import Run
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
    from core.config import TrackingConfig
    from core.tracking import Tracker

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
