"""Progress for long work: a rich bar with the figures that matter, silent when output is not a terminal."""

from __future__ import annotations

import sys
import time
from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class ProgressBar:
    """`with ProgressBar(total, "ppo") as bar: bar.update(steps, return_=..., loss=...)`; adds steps/s itself."""

    def __init__(self, total: int, description: str, *, enabled: bool | None = None, completed: int = 0) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.total = total
        self.completed = completed
        self._start = time.perf_counter()
        self._start_completed = completed
        self._progress: Progress | None = None
        if self.enabled:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[figures]}"),
                transient=False,
            )
            self._task = self._progress.add_task(description, total=total, completed=completed, figures="")

    def update(self, advance: int = 0, *, completed: int | None = None, **figures: Any) -> None:
        """Move the bar and show `name=value` figures (floats with 4 significant digits) with steps/s."""
        self.completed = completed if completed is not None else self.completed + advance
        if self._progress is None:
            return
        elapsed = max(time.perf_counter() - self._start, 1e-9)
        rate = (self.completed - self._start_completed) / elapsed
        shown = [f"{rate:,.0f} steps/s"]
        shown += [
            f"{name.rstrip('_')}={value:.4g}" if isinstance(value, float) else f"{name}={value}"
            for name, value in figures.items()
            if value is not None
        ]
        self._progress.update(self._task, completed=self.completed, figures="  ".join(shown))

    def __enter__(self) -> ProgressBar:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
