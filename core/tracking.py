"""One Tracker per run: figures go to `metrics.jsonl` always, and to Weights & Biases unless disabled.

W&B is offline by default (no account, no network) and writes only under the run dir. Under MPI only one
rank (the designated one, rank 0 unless told) talks to W&B and writes the file; the other ranks send their
figures to it without blocking, and they arrive under `rank<r>/<key>`.

Every record carries `step`; W&B plots against it (`define_metric`), so a resumed run appends to the same
W&B run without tripping W&B's own monotonic step counter.

Resuming: W&B cannot resume an offline run. A second `wandb.init` with the same id writes a new
`offline-run-*` dir whose history starts again at `_step` 0, and syncing it replaces what the first one
uploaded. So a resumed offline run replays the kept history (`metrics.jsonl` up to the checkpoint, see
`Run.resume`) into its new dir first, and the dirs it supersedes move to `wandb/superseded/`: the one
`offline-run-*` dir left holds the whole run, each step once. An online run resumes on W&B's side (its
history is on the server), so only the steps W&B already has are not sent again.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.config import TrackingConfig

_TAG = 7701
"""MPI message tag for figures sent to the designated rank."""


class Tracker:
    """Logs scalars, histograms, tables, images and artifacts for one run."""

    def __init__(
        self,
        run_dir: str | Path,
        config: TrackingConfig,
        *,
        run_name: str,
        config_dict: Mapping[str, Any] | None = None,
        wandb_id: str | None = None,
        comm: Any = None,
        designated_rank: int = 0,
        history: Sequence[Mapping[str, Any]] | None = None,
        sent_until: int | None = None,
    ) -> None:
        """`history`: records of an earlier part of this run (from metrics.jsonl) that a resumed offline W&B run
        must hold too; `sent_until`: the highest step the earlier part sent to W&B (online runs skip up to it)."""
        self.run_dir = Path(run_dir)
        self.config = config
        self.comm = comm
        self.rank = comm.Get_rank() if comm is not None else 0
        self.designated_rank = designated_rank
        self.is_writer = self.rank == designated_rank
        self._calls = 0
        self._pending: list[Any] = []  # outstanding MPI send requests (non-writer ranks)
        self._closed_ranks: set[int] = set()
        self._wandb = None
        self.wandb_id = wandb_id
        if not self.is_writer:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._metrics = open(self.run_dir / "metrics.jsonl", "a", buffering=1)  # noqa: SIM115 (lives with self)
        self._skip_until = -1  # W&B already holds the steps up to this one (an online resume)
        if config.mode != "disabled":
            if config.mode == "offline" and history is not None:
                supersede_offline_runs(self.run_dir)
            self._wandb = _start_wandb(self.run_dir, config, run_name, config_dict or {}, wandb_id)
            self.wandb_id = self._wandb.id
            if config.mode == "offline" and history is not None:
                self._replay(history)
            elif config.mode == "online" and sent_until is not None:
                self._skip_until = sent_until

    # -- logging ------------------------------------------------------------------------------------------------

    def log(self, metrics: Mapping[str, Any], step: int) -> None:
        """Record scalar figures at `step` (numbers; NaN/inf are written as null in the JSON file)."""
        self._calls += 1
        if self._calls % self.config.log_every and self.config.log_every > 1:
            return
        scalars = {key: _scalar(value) for key, value in metrics.items()}
        if not self.is_writer:
            self._send({"kind": "scalars", "rank": self.rank, "step": int(step), "metrics": scalars})
            return
        self.poll()
        self._write(scalars, int(step))

    def histogram(self, key: str, values: Sequence[float] | np.ndarray, step: int) -> None:
        """Record a distribution: summary figures in metrics.jsonl, the full histogram in W&B."""
        values = np.asarray(values, dtype=np.float64).ravel()
        summary = {f"{key}/mean": float(values.mean()), f"{key}/std": float(values.std())}
        summary |= {f"{key}/min": float(values.min()), f"{key}/max": float(values.max())}
        if not self.is_writer:
            self._send({"kind": "scalars", "rank": self.rank, "step": int(step), "metrics": summary})
            return
        self._write(summary, int(step), extra={key: self._wandb_module().Histogram(values)} if self._wandb else None)

    def table(self, key: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], step: int) -> None:
        """Record a table: one JSON record with its rows, and a W&B Table."""
        if not self.is_writer:
            return
        record = {"step": int(step), "time": time.time(), "table": key, "columns": list(columns)}
        self._metrics.write(json.dumps({**record, "rows": [list(r) for r in rows]}, default=str) + "\n")
        if self._wandb:
            table = self._wandb_module().Table(columns=list(columns), data=[list(r) for r in rows])
            self._wandb.log({key: table, "step": int(step)})

    def image(self, key: str, path: str | Path, step: int, caption: str = "") -> None:
        """Record an image file already saved under the run dir."""
        if not self.is_writer:
            return
        record = {"step": int(step), "time": time.time(), "image": key, "path": str(path)}
        self._metrics.write(json.dumps(record) + "\n")
        if self._wandb:
            self._wandb.log({key: self._wandb_module().Image(str(path), caption=caption), "step": int(step)})

    def artifact(self, path: str | Path, name: str, kind: str = "model", aliases: Sequence[str] = ()) -> None:
        """Attach a file (a checkpoint, say) to the W&B run as a versioned artifact."""
        if not self.is_writer or not self._wandb:
            return
        artifact = self._wandb_module().Artifact(name=name, type=kind)
        artifact.add_file(str(path))
        self._wandb.log_artifact(artifact, aliases=list(aliases))

    def summary(self, values: Mapping[str, Any]) -> None:
        """Final figures of the run (W&B summary, and a `summary` record in metrics.jsonl)."""
        if not self.is_writer:
            return
        self._metrics.write(json.dumps({"summary": {k: _scalar(v) for k, v in values.items()}}) + "\n")
        if self._wandb:
            self._wandb.summary.update(dict(values))

    # -- MPI ----------------------------------------------------------------------------------------------------

    def poll(self) -> int:
        """Write the figures other ranks have sent so far (writer rank only); returns how many arrived."""
        if not self.is_writer or self.comm is None:
            return 0
        from mpi4py import MPI  # why: an optional extra, only on MPI ranks

        arrived = 0
        status = MPI.Status()
        while self.comm.iprobe(source=MPI.ANY_SOURCE, tag=_TAG, status=status):
            message = self.comm.recv(source=status.Get_source(), tag=_TAG)
            arrived += 1
            if message["kind"] == "closed":
                self._closed_ranks.add(message["rank"])
                continue
            prefixed = {f"rank{message['rank']}/{k}": v for k, v in message["metrics"].items()}
            self._write(prefixed, message["step"])
        return arrived

    def _send(self, message: dict[str, Any]) -> None:
        if self.comm is None:
            return
        self._pending = [r for r in self._pending if not r.Test()]
        self._pending.append(self.comm.isend(message, dest=self.designated_rank, tag=_TAG))

    # -- output -------------------------------------------------------------------------------------------------

    def _write(self, scalars: Mapping[str, Any], step: int, extra: Mapping[str, Any] | None = None) -> None:
        record = {"step": step, "time": round(time.time(), 3), **scalars}
        self._metrics.write(json.dumps(record) + "\n")
        if self._wandb and step > self._skip_until:
            self._wandb.log({**scalars, **(extra or {}), "step": step})

    def _replay(self, history: Sequence[Mapping[str, Any]]) -> None:
        """Log an earlier part of the run into W&B again (scalars; tables; images whose file is still there)."""
        wandb = self._wandb_module()
        for record in history:
            if "step" not in record:
                continue
            step = int(record["step"])
            if "table" in record:
                table = wandb.Table(columns=list(record["columns"]), data=[list(r) for r in record["rows"]])
                self._wandb.log({record["table"]: table, "step": step})
            elif "image" in record:
                if Path(record["path"]).is_file():
                    self._wandb.log({record["image"]: wandb.Image(str(record["path"])), "step": step})
            else:
                scalars = {k: v for k, v in record.items() if k not in ("step", "time")}
                self._wandb.log({**scalars, "step": step})

    def _wandb_module(self) -> Any:
        import wandb  # why: a second to import, not needed when tracking is disabled

        return wandb

    def close(self, timeout: float = 10.0) -> None:
        """Flush everything; non-writer ranks tell the writer they are done, the writer waits for them a while."""
        if not self.is_writer:
            if self.comm is not None:
                self._send({"kind": "closed", "rank": self.rank})
                for request in self._pending:
                    request.wait()
                self._pending = []
            return
        if self.comm is not None:
            others = self.comm.Get_size() - 1
            deadline = time.monotonic() + timeout
            while len(self._closed_ranks) < others and time.monotonic() < deadline:
                if not self.poll():
                    time.sleep(0.01)
        self._metrics.close()
        if self._wandb:
            self._wandb.finish()
            self._wandb = None

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_records(path: Path) -> list[dict[str, Any]]:
    """The records of a metrics.jsonl file (a half-written last line, from a kill mid-write, is left out)."""
    if not Path(path).is_file():
        return []
    records = []
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def supersede_offline_runs(run_dir: Path) -> list[Path]:
    """Move the run's earlier `wandb/offline-run-*` dirs to `wandb/superseded/` (a new one will hold it all)."""
    folder = Path(run_dir) / "wandb"
    moved = []
    for old in sorted(folder.glob("offline-run-*")):
        target = folder / "superseded" / old.name
        target.parent.mkdir(parents=True, exist_ok=True)
        old.replace(target)
        moved.append(target)
    return moved


def wandb_environment(run_dir: Path) -> dict[str, str]:
    """Environment that keeps every file W&B writes (runs, cache, artifacts, settings) under the run dir."""
    base = Path(run_dir).resolve()
    return {
        "WANDB_DIR": str(base),
        "WANDB_CACHE_DIR": str(base / "wandb" / "cache"),
        "WANDB_DATA_DIR": str(base / "wandb" / "data"),
        "WANDB_CONFIG_DIR": str(base / "wandb" / "config"),
        "WANDB_ARTIFACT_DIR": str(base / "wandb" / "artifacts"),
    }


def _start_wandb(run_dir: Path, config: TrackingConfig, name: str, config_dict: Mapping[str, Any], run_id: str | None):
    env = wandb_environment(run_dir)
    for key, value in env.items():
        Path(value).mkdir(parents=True, exist_ok=True)
        os.environ[key] = value
    os.environ.setdefault("WANDB_SILENT", "true")
    import wandb  # why: a second to import, not needed when tracking is disabled

    run = wandb.init(
        project=config.project,
        entity=config.entity or None,
        group=config.group or None,
        tags=list(config.tags) or None,
        name=name,
        id=run_id,
        resume="allow",
        dir=env["WANDB_DIR"],
        mode=config.mode,
        config=dict(config_dict),
        settings=wandb.Settings(quiet=True, console="off"),
    )
    run.define_metric("step")
    run.define_metric("*", step_metric="step")
    return run


def _scalar(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
