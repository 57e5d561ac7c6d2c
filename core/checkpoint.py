"""Checkpoints that survive a kill at any moment, and load only as plain tensors (`weights_only=True`).

A save writes `ckpt-<step>.pt.tmp`, fsyncs it, renames it over `ckpt-<step>.pt` (atomic on POSIX), fsyncs the
folder, then moves the `latest` pointer the same way. A process killed at any point leaves the previous
checkpoint and pointer intact. On load (`CheckpointManager.load_latest` for a resume, `load_newest_checkpoint`
for an agent from a run dir), a truncated or foreign file is named in a warning and the next older good
checkpoint is used; if none is good, the error names every file it tried.
"""

from __future__ import annotations

import logging
import os
import random
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.errors import ArenaError

log = logging.getLogger(__name__)

FORMAT = "arena-checkpoint-v1"
"""Stamped in every checkpoint, so a foreign `.pt` file is refused with a clear message."""

_NAME = re.compile(r"^ckpt-(\d+)\.pt$")


class CheckpointError(ArenaError):
    """A checkpoint that cannot be used: missing, truncated, or not written by arena."""


def atomic_write_bytes(path: Path, write: Any) -> None:
    """Write a file so that readers see the old content or the whole new one, never a part."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_checkpoint_file(path: str | Path) -> dict[str, Any]:
    """Load one checkpoint file with `weights_only=True`, or raise CheckpointError naming it and why."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a bad file: EOF, unpickling, zip errors
        # torch's own message runs on for lines; its first sentence says what broke
        reason = " ".join(str(error).split()).split(". ")[0][:200] or type(error).__name__
        raise CheckpointError(f"checkpoint {path} is unreadable (truncated or corrupt?): {reason}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an arena checkpoint (no '{FORMAT}' stamp)")
    return payload


def resolve_checkpoint_path(path: str | Path) -> Path:
    """A checkpoint file from a file path, a run dir, its `checkpoints/` folder, or a `latest` pointer."""
    path = Path(path)
    if path.is_dir():
        folder = path / "checkpoints" if (path / "checkpoints").is_dir() else path
        pointer = folder / "latest"
        if pointer.is_file():
            return folder / pointer.read_text().strip()
        found = sorted_checkpoints(folder)
        if not found:
            raise CheckpointError(f"no checkpoint in {folder}")
        return found[-1]
    if path.name == "latest":
        if not path.is_file():
            folder = path.parent / "checkpoints"
            if (folder / "latest").is_file():
                return folder / (folder / "latest").read_text().strip()
            raise CheckpointError(f"no checkpoint pointer at {path}")
        return path.parent / path.read_text().strip()
    return path


def sorted_checkpoints(folder: Path) -> list[Path]:
    """Checkpoint files in a folder, oldest step first."""
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


class CheckpointManager:
    """Saves numbered checkpoints atomically into one folder, keeps the last N, and finds the newest good one."""

    def __init__(self, folder: str | Path, keep: int = 3) -> None:
        self.folder = Path(folder)
        self.keep = keep
        self.folder.mkdir(parents=True, exist_ok=True)

    def save(self, state: Mapping[str, Any], step: int) -> Path:
        """Write `state` (tensors, numbers, strings, lists, dicts) as the checkpoint of `step`."""
        path = self.folder / f"ckpt-{step:012d}.pt"
        payload = {"format": FORMAT, "step": int(step), **state}
        atomic_write_bytes(path, lambda handle: torch.save(payload, handle))
        atomic_write_bytes(self.folder / "latest", lambda handle: handle.write(path.name.encode()))
        for old in sorted_checkpoints(self.folder)[: -self.keep]:
            old.unlink(missing_ok=True)
        return path

    def latest_path(self) -> Path | None:
        """The path the `latest` pointer names, or the newest file if the pointer is missing."""
        pointer = self.folder / "latest"
        if pointer.is_file():
            return self.folder / pointer.read_text().strip()
        found = sorted_checkpoints(self.folder)
        return found[-1] if found else None

    def load_latest(self) -> dict[str, Any] | None:
        """The newest loadable checkpoint (skipping, with a warning, any that is corrupt), or None if none exist."""
        candidates = _newest_first(self.folder)
        return _load_first_good(candidates, self.folder)[1] if candidates else None


def load_newest_checkpoint(path: str | Path) -> tuple[Path, dict[str, Any]]:
    """(file, payload) of the newest loadable checkpoint that `path` names; the loader of every trained agent.

    `path` is a checkpoint file (loaded as it is: you asked for that file), or a run dir, its `checkpoints/`
    folder or a `latest` pointer: then a truncated or foreign newest file is skipped with a warning naming it,
    and the previous good one is used. CheckpointError if there is none, naming every file tried.
    """
    path = Path(path)
    if path.is_dir():
        folder = path / "checkpoints" if (path / "checkpoints").is_dir() else path
    elif path.name == "latest":
        folder = path.parent if path.is_file() else path.parent / "checkpoints"
    else:
        return path, load_checkpoint_file(path)
    candidates = _newest_first(folder)
    if not candidates:
        raise CheckpointError(f"no checkpoint in {folder}")
    return _load_first_good(candidates, folder)


def _newest_first(folder: Path) -> list[Path]:
    """The folder's checkpoint files newest first, the one `latest` names leading."""
    candidates = sorted_checkpoints(folder)[::-1]
    pointer = folder / "latest"
    if pointer.is_file():
        pointed = folder / pointer.read_text().strip()
        if pointed in candidates:
            candidates.remove(pointed)
            candidates.insert(0, pointed)
    return candidates


def _load_first_good(candidates: list[Path], folder: Path) -> tuple[Path, dict[str, Any]]:
    failures = []
    for path in candidates:
        try:
            return path, load_checkpoint_file(path)
        except CheckpointError as error:
            failures.append(str(error))
            warnings.warn(f"{error}; trying the previous checkpoint", stacklevel=3)
    raise CheckpointError(f"no loadable checkpoint in {folder}: " + "; ".join(failures))


# ---------------------------------------------------------------------------------------------------------------
# RNG streams: everything a resumed run needs to draw the same numbers as an uninterrupted one.


def capture_rng(generators: Mapping[str, np.random.Generator] | None = None) -> dict[str, Any]:
    """The state of Python's, NumPy's global, torch's (CPU and CUDA) and the named generators' streams."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": _legacy_numpy_state(),
        "torch": torch.get_rng_state(),
        "generators": {name: gen.bit_generator.state for name, gen in (generators or {}).items()},
    }
    if torch.cuda.is_available():
        state["torch_cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: Mapping[str, Any], generators: Mapping[str, np.random.Generator] | None = None) -> None:
    """Put every stream captured by `capture_rng` back where it was."""
    random.setstate(_as_tuple(state["python"]))
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if "torch_cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["torch_cuda"])
    for name, gen in (generators or {}).items():
        if name not in state["generators"]:
            raise CheckpointError(f"checkpoint has no state for random stream '{name}'")
        gen.bit_generator.state = state["generators"][name]


def _legacy_numpy_state() -> tuple:
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    # weights_only loading refuses numpy arrays; a tensor carries the same key words
    return (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss)


def _as_tuple(value: Any) -> Any:
    """torch.save keeps tuples, but be lenient with lists (e.g. after a JSON round trip)."""
    if isinstance(value, list | tuple):
        return tuple(_as_tuple(v) for v in value)
    return value
