"""Pascal Pons' Connect Four benchmark positions, with the exact value of every legal move.

The values ship in `envs/data/connect4_pons.npz` (made by `benchmarks/gen_pons_values.py`), so no solver is
needed to score a move: `arena bench pons` and AlphaZero's evaluation both read them from here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.errors import ArenaError

DATA = Path(__file__).resolve().parent / "data" / "connect4_pons.npz"
# Pons' sets in order of difficulty for a solver, with the stage names of his blog and of AlphaZero.jl.
SETS = {
    "Test_L3_R1": "End-Easy",
    "Test_L2_R1": "Middle-Easy",
    "Test_L2_R2": "Middle-Medium",
    "Test_L1_R1": "Begin-Easy",
    "Test_L1_R2": "Begin-Medium",
    "Test_L1_R3": "Begin-Hard",
}


def load_pons(path: Path = DATA) -> dict[str, dict[str, np.ndarray]]:
    """{set: {"moves": str[N], "score": int8[N], "values": int8[N, 7]}} for the sets in the data file."""
    if not path.exists():
        raise ArenaError(f"no Pons data at {path}: run `python -m benchmarks.gen_pons_values` to make it")
    out: dict[str, dict[str, np.ndarray]] = {}
    with np.load(path) as f:
        for name in SETS:
            if f"{name}.values" in f.files:
                out[name] = {k: f[f"{name}.{k}"] for k in ("moves", "score", "values")}
    return out


def mistakes(values: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """bool[N]: whether each position's chosen action has a perfect-play value below its best move's.

    `values` int8[N, 7] as `load_pons` gives them (+1 win, 0 draw, -1 loss, -2 full column), `actions` int[N].
    """
    return values[np.arange(len(actions)), actions] < values[: len(actions)].max(axis=1)
