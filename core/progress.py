"""Progress for long work: a rich bar on a terminal, plain lines every `PLAIN_EVERY` seconds anywhere else.

Off a terminal (nohup, Slurm, `mpirun` output files) a bar would be noise or nothing, so the same figures go to
stderr as one plain line at the start (`resumed from step N` when it continues a run), every 30 s, and at the
end:

```
ppo CartPole-v1: step 12,288 of 100,000 (12%), 1,532 steps/s, return=187.4 loss=0.0123
```
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

PLAIN_EVERY = 30.0
"""Seconds between plain progress lines when stderr is not a terminal."""


class ProgressBar:
    """`with ProgressBar(total, "ppo") as bar: bar.update(steps, return_=..., loss=...)`; adds steps/s itself."""

    def __init__(
        self,
        total: int,
        description: str,
        *,
        enabled: bool | None = None,
        completed: int = 0,
        plain_every: float | None = None,
        stream: TextIO | None = None,
    ) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.total = total
        self.description = description
        self.completed = completed
        self.figures: dict[str, Any] = {}
        self.plain_every = PLAIN_EVERY if plain_every is None else plain_every
        self.stream = stream
        self._start = time.perf_counter()
        self._start_completed = completed
        self._last_plain = self._start
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

    def rate(self) -> float:
        """Steps per second since this bar started."""
        return (self.completed - self._start_completed) / max(time.perf_counter() - self._start, 1e-9)

    def update(self, advance: int = 0, *, completed: int | None = None, **figures: Any) -> None:
        """Move the bar and show `name=value` figures (floats with 4 significant digits) with steps/s."""
        self.completed = completed if completed is not None else self.completed + advance
        self.figures = {name.rstrip("_"): value for name, value in figures.items() if value is not None}
        if self._progress is None:
            if time.perf_counter() - self._last_plain >= self.plain_every:
                self._plain()
            return
        shown = [f"{self.rate():,.0f} steps/s", *_show(self.figures)]
        self._progress.update(self._task, completed=self.completed, figures="  ".join(shown))

    def plain_line(self, state: str = "") -> str:
        """The progress as one line of text: step, share of the total, rate and the figures."""
        share = f" ({100 * self.completed / self.total:.0f}%)" if self.total else ""
        where = f"{self.description}: {state}step {self.completed:,} of {self.total:,}{share}"
        parts = [where, f"{self.rate():,.0f} steps/s"]
        figures = " ".join(_show(self.figures))
        return ", ".join(parts) + (f", {figures}" if figures else "")

    def _plain(self, state: str = "") -> None:
        self._last_plain = time.perf_counter()
        print(self.plain_line(state), file=self.stream or sys.stderr, flush=True)

    def __enter__(self) -> ProgressBar:
        if self._progress is not None:
            self._progress.start()
        else:
            start = f"resumed from step {self.completed:,}" if self.completed else "starting at step 0"
            print(f"{self.description}: {start} of {self.total:,}", file=self.stream or sys.stderr, flush=True)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
        else:
            self._plain("stopped at " if exc and exc[0] is not None else "done at ")


def _show(figures: dict[str, Any]) -> list[str]:
    return [f"{name}={value:.4g}" if isinstance(value, float) else f"{name}={value}" for name, value in figures.items()]
