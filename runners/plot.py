"""`arena plot runs/<name>`: draw a run's curves from metrics.jsonl to PNG, no W&B needed."""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from core.errors import ArenaError


def read_metrics(path: Path) -> dict[str, tuple[list[int], list[float]]]:
    """Scalar series from a metrics.jsonl file: key -> (steps, values). Non-scalar records are skipped."""
    series: dict[str, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
    with open(path) as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                # a run killed mid-write leaves at most a partial last line; the rest is still good
                continue
            if "step" not in record or "table" in record or "image" in record:
                continue
            for key, value in record.items():
                if key in ("step", "time") or isinstance(value, bool) or not isinstance(value, int | float):
                    continue
                steps, values = series[key]
                steps.append(record["step"])
                values.append(value)
    return dict(series)


def plot_run(run_dir: Path, out_dir: Path | None = None, keys: list[str] | None = None) -> list[Path]:
    """One PNG per metric group (the part of the key before '/'), one panel per key; returns the files."""
    import matplotlib  # why: half a second to import, only when plotting

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics_file = run_dir / "metrics.jsonl"
    if not metrics_file.is_file():
        raise ArenaError(f"no metrics.jsonl in {run_dir} (is it a run dir?)")
    series = read_metrics(metrics_file)
    if keys:
        unknown = [k for k in keys if k not in series]
        if unknown:
            raise ArenaError(f"no metric {', '.join(unknown)} in {metrics_file}; known: {', '.join(sorted(series))}")
        series = {k: series[k] for k in keys}
    if not series:
        raise ArenaError(f"{metrics_file} holds no scalar figures yet")
    groups: dict[str, list[str]] = defaultdict(list)
    for key in sorted(series):
        groups[key.split("/")[0] if "/" in key else "misc"].append(key)
    out_dir = out_dir or run_dir / "plots"
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for group, group_keys in groups.items():
        cols = min(3, len(group_keys))
        rows = -(-len(group_keys) // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 3.2 * rows), squeeze=False)
        for ax, key in zip(axes.flat, group_keys, strict=False):
            steps, values = series[key]
            ax.plot(steps, values, linewidth=1.2)
            ax.set_title(key, fontsize=9)
            ax.set_xlabel("step", fontsize=8)
            ax.grid(alpha=0.3)
        for ax in list(axes.flat)[len(group_keys) :]:
            ax.axis("off")
        fig.suptitle(f"{run_dir.name}: {group}", fontsize=10)
        fig.tight_layout()
        path = out_dir / f"{group.replace('/', '_')}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `arena plot`."""
    parser.add_argument("run_dir", type=Path, help="run dir holding metrics.jsonl, e.g. runs/ppo-CartPole-v1-s1-...")
    parser.add_argument("--out", type=Path, default=None, help="folder for the PNGs (default: <run_dir>/plots)")
    parser.add_argument("--keys", nargs="+", default=None, help="only these metrics, e.g. train/loss eval/return")


def main(args: argparse.Namespace) -> int:
    """Draw the PNGs and list them."""
    for path in plot_run(args.run_dir, args.out, args.keys):
        print(path)
    return 0


if __name__ == "__main__":
    from runners.cli import run_module

    raise SystemExit(run_module("plot"))
