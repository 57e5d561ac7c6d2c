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

Resuming (`Run.resume`) loads the newest good checkpoint before anything else, checks that it was written by
the configured algorithm for the configured game or env, and cuts `metrics.jsonl` back to that checkpoint's
step: the steps a killed run logged after its last checkpoint are replayed by the resumed run, so each step
is recorded once. With no checkpoint at all, the run starts again from step 0 with a warning.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.checkpoint import CheckpointManager
from core.config import (
    ConfigError,
    TrackingConfig,
    apply_overrides,
    build_config,
    config_to_dict,
    read_yaml,
    save_config,
)
from core.tracking import Tracker, read_records


class Run:
    """One training run: its folder, resolved config, Tracker and checkpoints."""

    def __init__(self, path: Path, config: Any, tracker: Tracker, checkpoints: CheckpointManager, resumed: bool):
        self.path = path
        self.config = config
        self.tracker = tracker
        self.checkpoints = checkpoints
        self.resumed = resumed
        self.resumed_step: int | None = None
        """The step of the checkpoint a resumed run continues from (None: a new run, or no checkpoint)."""
        self._restored: dict[str, Any] | None = None  # loaded by `resume`, handed out by the first `restore`

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
        config = read_run_config(path, config_type)
        config = apply_overrides(config, overrides)
        rank = comm.Get_rank() if comm is not None else 0
        checkpoint, history, sent_until = None, None, None
        if rank == 0:  # only the rank that holds the run restores, checks and writes its records
            manager = CheckpointManager(path / "checkpoints", keep=config.run.keep_checkpoints)
            checkpoint = manager.load_latest()
            if checkpoint is None:
                warnings.warn(
                    f"no checkpoint in {manager.folder}: starting {path} again from step 0 (its old metrics dropped)",
                    stacklevel=2,
                )
            else:
                check_checkpoint_matches(checkpoint, config, path)
            history, sent_until = truncate_metrics(path / "metrics.jsonl", checkpoint["step"] if checkpoint else -1)
        if comm is not None:
            comm.Barrier()  # every rank has read config.yaml before rank 0 rewrites it
        if rank == 0 and overrides:
            save_config(config, path / "config.yaml")
        run = cls._open(path, config, comm=comm, resumed=True, history=history, sent_until=sent_until)
        run._restored = checkpoint
        run.resumed_step = None if checkpoint is None else int(checkpoint["step"])
        return run

    @classmethod
    def _open(
        cls, path: Path, config: Any, *, comm: Any, resumed: bool, history: list | None = None,
        sent_until: int | None = None,
    ) -> Run:  # fmt: skip
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
            history=history,
            sent_until=sent_until,
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
        if self._restored is not None:  # already loaded (and checked) by `resume`: hand it over once
            payload, self._restored = self._restored, None
            return payload
        if self.resumed and self.resumed_step is None:
            return None  # resumed without a checkpoint: starting again from step 0, as `resume` said
        return self.checkpoints.load_latest()

    def close(self) -> None:
        """Flush metrics and finish the W&B run."""
        self.tracker.close()

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_run_config(path: Path, config_type: type) -> Any:
    """The config saved in a run dir, checked as strictly as a config file: ConfigError if unusable."""
    saved = path / "config.yaml"
    if not saved.is_file():
        raise ConfigError(f"cannot resume {path}: no config.yaml there (is it a run dir?)")
    data = read_yaml(saved)
    if not isinstance(data, Mapping) or not data:
        raise ConfigError(f"cannot resume {path}: {saved} is {'empty' if not data else 'not a mapping of keys'}")
    return build_config(config_type, data, source=str(saved))


def checkpoint_origin(payload: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(algorithm, game or env id) a checkpoint was written by, from what its algorithm stored in it."""
    saved = payload.get("config") if isinstance(payload.get("config"), Mapping) else {}
    algo = payload.get("algo") or saved.get("algo") or ("az" if "az" in payload else None)
    if isinstance(payload.get("az"), Mapping):
        return algo, payload["az"].get("game")
    env = saved.get("env")
    target = env.get("id") if isinstance(env, Mapping) else saved.get("game")
    return algo, target


def check_checkpoint_matches(payload: Mapping[str, Any], config: Any, path: Path) -> None:
    """Refuse to resume a run from a checkpoint of another algorithm, game or env."""
    algo, target = checkpoint_origin(payload)
    where = f"the checkpoint of step {payload.get('step')} in {path / 'checkpoints'}"
    wanted_algo = getattr(config, "algo", None)
    if algo is not None and wanted_algo is not None and algo != wanted_algo:
        raise ConfigError(f"{where} was written by algo {algo}, but {path / 'config.yaml'} says algo {wanted_algo}")
    env = getattr(config, "env", None)
    wanted = getattr(env, "id", None) if env is not None else getattr(config, "game", None)
    if target is not None and isinstance(wanted, str) and target != wanted:
        kind = "env" if env is not None else "game"
        raise ConfigError(f"{where} was trained on {kind} {target}, but the config says {kind} {wanted}")


def truncate_metrics(path: Path, step: int) -> tuple[list[dict[str, Any]], int | None]:
    """Drop the records past `step` from metrics.jsonl (and the final summary); returns (kept, highest step seen).

    The dropped steps are the ones a resumed run logs again; a half-written last line (a kill mid-write) goes too.
    """
    if not path.is_file():
        return [], None
    kept, highest = [], None
    for record in read_records(path):
        if "summary" in record:
            continue
        if isinstance(record.get("step"), int):
            highest = record["step"] if highest is None else max(highest, record["step"])
            if record["step"] > step:
                continue
        kept.append(record)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(json.dumps(record) + "\n" for record in kept), encoding="utf-8")
    os.replace(tmp, path)
    return kept, highest


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
