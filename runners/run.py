"""A run dir and everything a training loop writes into it.

```
runs/<name>/
  config.yaml       the resolved config the run used
  metrics.jsonl     one JSON object per log call (always written)
  checkpoints/      ckpt-<step>.pt (last N) and `latest`
  wandb_id          the W&B run id, so a resumed run continues the same W&B run
  wandb/            everything W&B writes (offline runs, cache, artifacts)
```

Algorithms get a `Run` and use four things: `run.config`, `run.log(...)`, `run.save(...)` and `run.restore()`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import yaml

from runners.checkpoint import CheckpointManager
from runners.config import (
    ConfigError,
    TrackingConfig,
    apply_overrides,
    build_config,
    config_to_dict,
    save_config,
)
from runners.tracking import Tracker


class Run:
    """One training run: its folder, resolved config, Tracker and checkpoints."""

    def __init__(self, path: Path, config: Any, tracker: Tracker, checkpoints: CheckpointManager, resumed: bool):
        self.path = path
        self.config = config
        self.tracker = tracker
        self.checkpoints = checkpoints
        self.resumed = resumed

    @classmethod
    def create(cls, config: Any, *, name: str = "", comm: Any = None) -> Run:
        """Start a new run dir for `config` (which must have `run` and `tracking` sections)."""
        rank = comm.Get_rank() if comm is not None else 0
        name = name or config.run.name or default_run_name(config)
        if comm is not None:  # the default name holds the time: every rank takes rank 0's
            name = comm.bcast(name, root=0)
        path = Path(config.run.runs_dir) / name
        if rank == 0:
            if (path / "checkpoints").is_dir() and any((path / "checkpoints").iterdir()):
                raise ConfigError(f"run dir {path} already has checkpoints; continue it with --resume {path}")
            path.mkdir(parents=True, exist_ok=True)
            save_config(config, path / "config.yaml")
        if comm is not None:
            comm.Barrier()
        return cls._open(path, config, comm=comm, resumed=False)

    @classmethod
    def resume(cls, path: str | Path, config_type: type, overrides: list[str] = (), *, comm: Any = None) -> Run:
        """Reopen a run dir: its saved config (plus overrides), same W&B run, checkpoints to restore from."""
        path = Path(path)
        saved = path / "config.yaml"
        if not saved.is_file():
            raise ConfigError(f"cannot resume {path}: no config.yaml there (is it a run dir?)")
        config = build_config(config_type, yaml.safe_load(saved.read_text()), source=str(saved))
        config = apply_overrides(config, overrides)
        rank = comm.Get_rank() if comm is not None else 0
        if comm is not None:
            comm.Barrier()  # every rank has read config.yaml before rank 0 rewrites it
        if rank == 0 and overrides:
            save_config(config, saved)
        return cls._open(path, config, comm=comm, resumed=True)

    @classmethod
    def _open(cls, path: Path, config: Any, *, comm: Any, resumed: bool) -> Run:
        tracking: TrackingConfig = config.tracking
        id_file = path / "wandb_id"
        wandb_id = id_file.read_text().strip() if id_file.is_file() else None
        tracker = Tracker(
            path,
            tracking,
            run_name=path.name,
            config_dict=config_to_dict(config),
            wandb_id=wandb_id,
            comm=comm,
        )
        if tracker.is_writer and tracker.wandb_id and not id_file.is_file():
            id_file.write_text(tracker.wandb_id)
        checkpoints = CheckpointManager(path / "checkpoints", keep=config.run.keep_checkpoints)
        return cls(path, config, tracker, checkpoints, resumed)

    # -- what training loops call ------------------------------------------------------------------------------

    def log(self, metrics: Mapping[str, Any], step: int) -> None:
        """Record scalar figures at `step`."""
        self.tracker.log(metrics, step)

    def save(self, state: Mapping[str, Any], step: int, *, artifact: bool = False) -> Path:
        """Write a checkpoint atomically (and attach it to W&B as an artifact if asked)."""
        path = self.checkpoints.save(state, step)
        if artifact:
            self.tracker.artifact(path, name=f"{self.path.name}-model", aliases=["latest", f"step-{step}"])
        return path

    def restore(self) -> dict[str, Any] | None:
        """The newest good checkpoint of this run, or None for a fresh run."""
        return self.checkpoints.load_latest()

    def close(self) -> None:
        """Flush metrics and finish the W&B run."""
        self.tracker.close()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def resolve_device(name: str) -> torch.device:
    """`run.device` as a torch device: `auto` takes CUDA when present, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("run.device=cuda but no CUDA device is visible; use run.device=auto or cpu")
    return torch.device(name)


def default_run_name(config: Any) -> str:
    """`<algo>-<env or game>-s<seed>-<time>`, readable in a listing and unique enough."""
    parts = [getattr(config, "algo", "run")]
    for attr in ("env", "game"):
        value = getattr(config, attr, None)
        if dataclasses.is_dataclass(value):
            value = getattr(value, "id", None) or getattr(value, "name", None)
        if isinstance(value, str) and value:
            parts.append(value.replace("/", "_"))
            break
    parts.append(f"s{config.run.seed}")
    parts.append(time.strftime("%Y%m%d-%H%M%S"))
    return "-".join(parts)
