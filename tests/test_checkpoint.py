"""Checkpoints restore exactly, survive a kill mid-write, and refuse foreign or truncated files by name."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from core.checkpoint import (
    CheckpointError,
    CheckpointManager,
    capture_rng,
    load_checkpoint_file,
    resolve_checkpoint_path,
    restore_rng,
)


def make_model(seed: int) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    return model, optimizer


def train_steps(model, optimizer, steps: int, batch: torch.Tensor | None = None) -> None:
    for _ in range(steps):
        inputs = torch.randn(8, 4) if batch is None else batch
        loss = model(inputs).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def test_round_trip_restores_weights_optimizer_and_random_draws(tmp_path):
    model, optimizer = make_model(0)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    rng = np.random.default_rng(3)
    train_steps(model, optimizer, 3)
    scheduler.step()
    manager = CheckpointManager(tmp_path / "checkpoints", keep=2)
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": capture_rng({"actions": rng}),
        "counters": {"updates": 3},
    }
    manager.save(state, step=300)
    expected_draws = (torch.rand(3), np.random.rand(2), rng.random(4))
    fixed_batch = torch.linspace(-1, 1, 32).reshape(8, 4)
    train_steps(model, optimizer, 2, fixed_batch)  # Adam's moments decide where these steps land

    restored_model, restored_optimizer = make_model(99)  # a different init, to be overwritten
    restored_scheduler = torch.optim.lr_scheduler.StepLR(restored_optimizer, step_size=2, gamma=0.5)
    other_rng = np.random.default_rng(12345)
    payload = manager.load_latest()
    restored_model.load_state_dict(payload["model"])
    restored_optimizer.load_state_dict(payload["optimizer"])
    restored_scheduler.load_state_dict(payload["scheduler"])
    restore_rng(payload["rng"], {"actions": other_rng})

    assert payload["step"] == 300 and payload["counters"] == {"updates": 3}
    assert restored_scheduler.get_last_lr() == scheduler.get_last_lr()
    assert torch.equal(torch.rand(3), expected_draws[0])
    np.testing.assert_array_equal(np.random.rand(2), expected_draws[1])
    np.testing.assert_array_equal(other_rng.random(4), expected_draws[2])
    train_steps(restored_model, restored_optimizer, 2, fixed_batch)
    for got, want in zip(restored_model.parameters(), model.parameters(), strict=True):
        assert torch.equal(got, want)


def test_only_the_last_n_are_kept_and_latest_points_to_the_newest(tmp_path):
    manager = CheckpointManager(tmp_path, keep=2)
    for step in (10, 20, 30):
        manager.save({"x": torch.tensor(step)}, step)
    assert sorted(p.name for p in tmp_path.glob("ckpt-*.pt")) == ["ckpt-000000000020.pt", "ckpt-000000000030.pt"]
    assert (tmp_path / "latest").read_text() == "ckpt-000000000030.pt"
    assert resolve_checkpoint_path(tmp_path).name == "ckpt-000000000030.pt"
    assert manager.load_latest()["x"].item() == 30


def test_a_truncated_newest_checkpoint_falls_back_to_the_previous_and_names_the_file(tmp_path):
    manager = CheckpointManager(tmp_path, keep=3)
    manager.save({"x": torch.arange(1000)}, 1)
    newest = manager.save({"x": torch.arange(1000) * 2}, 2)
    newest.write_bytes(newest.read_bytes()[:500])
    with pytest.warns(UserWarning, match=rf"checkpoint {newest} is unreadable"):
        payload = manager.load_latest()
    assert payload["step"] == 1
    with pytest.raises(CheckpointError, match=rf"checkpoint {newest} is unreadable \(truncated or corrupt\?\)"):
        load_checkpoint_file(newest)


def test_a_foreign_file_is_refused_by_name(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match=rf"{path} is not an arena checkpoint"):
        load_checkpoint_file(path)
    path.write_text("not a checkpoint at all")
    with pytest.raises(CheckpointError, match=rf"checkpoint {path} is unreadable"):
        load_checkpoint_file(path)


def test_no_good_checkpoint_names_every_file_tried(tmp_path):
    manager = CheckpointManager(tmp_path)
    for step in (1, 2):
        manager.save({"x": torch.zeros(10)}, step).write_bytes(b"\0" * 10)
    with pytest.warns(UserWarning), pytest.raises(CheckpointError) as error:
        manager.load_latest()
    assert "ckpt-000000000001.pt" in str(error.value) and "ckpt-000000000002.pt" in str(error.value)


KILLED_WRITER = textwrap.dedent(
    """
    import sys, time, torch
    from core.checkpoint import CheckpointManager

    manager = CheckpointManager(sys.argv[1])
    manager.save({"weights": torch.full((1000,), 1.0)}, step=1)
    real_save = torch.save

    def slow_save(obj, handle):
        # write half of a real checkpoint, then hang: the parent kills us here, mid-write
        import io
        buffer = io.BytesIO()
        real_save(obj, buffer)
        data = buffer.getvalue()
        handle.write(data[: len(data) // 2])
        handle.flush()
        print("mid-write", flush=True)
        time.sleep(60)

    torch.save = slow_save
    manager.save({"weights": torch.full((1000,), 2.0)}, step=2)
    """
)


def test_sigkill_while_writing_leaves_the_previous_checkpoint_loadable(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "mid-write"
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -9
    assert (tmp_path / "ckpt-000000000002.pt.tmp").exists()  # the half-written file is there...
    payload = CheckpointManager(tmp_path).load_latest()  # ...and ignored
    assert payload["step"] == 1
    assert torch.equal(payload["weights"], torch.full((1000,), 1.0))


def test_an_agent_from_a_run_dir_falls_back_past_a_truncated_newest_checkpoint(tmp_path):
    from core.checkpoint import load_newest_checkpoint

    manager = CheckpointManager(tmp_path / "run" / "checkpoints", keep=3)
    good = manager.save({"x": torch.arange(1000)}, 1)
    newest = manager.save({"x": torch.arange(1000) * 2}, 2)
    newest.write_bytes(newest.read_bytes()[:500])
    for named in (tmp_path / "run", tmp_path / "run" / "checkpoints", tmp_path / "run" / "latest"):
        with pytest.warns(UserWarning, match=rf"checkpoint {newest} is unreadable.*trying the previous checkpoint"):
            file, payload = load_newest_checkpoint(named)
        assert file == good and payload["step"] == 1
    with pytest.raises(CheckpointError, match=rf"checkpoint {newest} is unreadable"):  # a file named outright
        load_newest_checkpoint(newest)
    with pytest.raises(CheckpointError, match=r"no checkpoint in .*empty"):
        load_newest_checkpoint((tmp_path / "empty").mkdir() or tmp_path / "empty")
