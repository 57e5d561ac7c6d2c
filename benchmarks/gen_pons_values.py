"""Regenerate envs/data/connect4_pons.npz: the win/draw/loss value of every legal move of Pons' test positions.

Usage (from the repo root; takes about 10 minutes for the five sets with numba, Begin-Hard takes hours):

    nice python -m benchmarks.gen_pons_values --src ../shared/data/connect4
    nice python -m benchmarks.gen_pons_values --src ../shared/data/connect4 --sets Test_L1_R3 --limit 200
    python -m benchmarks.gen_pons_values --src ../shared/data/connect4 --sets Test_L1_R3 --workers 2

For each set the file holds `<set>.moves` (str[N], Pons' move strings), `<set>.score` (int8[N], the exact
score from Pons' file) and `<set>.values` (int8[N, 7]: +1 win, 0 draw, -1 loss for the side to move after
playing that column, -2 where the column is full). A set already in the file is kept unless listed in
--sets; a partly solved set is resumed. `--workers N` solves N positions at a time in N processes (each with
its own table) and stores them in order, so the file always holds a solved prefix of each set.
Every set is checked: the best move value must have the sign of Pons' score.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from agents.c4_solver import ConnectFourSolver
from envs.connect_four import ConnectFour
from envs.pons import SETS as STAGES  # set file name -> stage name

# easiest first, so a run stopped early has the cheap sets
SETS = ["Test_L3_R1", "Test_L2_R1", "Test_L1_R1", "Test_L2_R2", "Test_L1_R2", "Test_L1_R3"]
DATA = Path(__file__).resolve().parent.parent / "envs" / "data" / "connect4_pons.npz"
ILLEGAL = -2
TT_SIZE = 33554393  # a prime near 2**25: 300 MB a solver, fewer overwrites on hard sets
_solver: ConnectFourSolver | None = None  # one per process, kept between positions (its table stays valid)


def read_set(path: Path) -> tuple[list[str], list[int]]:
    """Pons' file: lines `<moves> <score>`."""
    moves, scores = [], []
    for line in path.read_text().splitlines():
        if line.strip():
            m, s = line.split()
            moves.append(m)
            scores.append(int(s))
    return moves, scores


def load(path: Path = DATA) -> dict[str, np.ndarray]:
    """All arrays of the data file, or an empty dict when it does not exist."""
    if not path.exists():
        return {}
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def save(arrays: dict[str, np.ndarray], path: Path = DATA) -> None:
    """Write atomically so an interrupted run never leaves a broken file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    """Solve every legal move of each position and store the values."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--src", type=Path, default=Path("../shared/data/connect4"), help="Pons' test files")
    p.add_argument("--sets", nargs="*", default=SETS[:5], help="sets to (re)generate")
    p.add_argument("--limit", type=int, default=None, help="first N positions of each set only")
    p.add_argument("--out", type=Path, default=DATA)
    p.add_argument("--restart", action="store_true", help="solve a set again from its first position")
    p.add_argument("--workers", type=int, default=1, help="processes solving positions side by side")
    args = p.parse_args(argv)
    if args.workers < 1:
        p.error(f"--workers must be at least 1, got {args.workers}")

    arrays = load(args.out)
    for name in args.sets:
        moves, scores = read_set(args.src / name)
        if args.limit:
            moves, scores = moves[: args.limit], scores[: args.limit]
        values = np.full((len(moves), 7), ILLEGAL, dtype=np.int8)
        done = 0
        old = arrays.get(f"{name}.moves")
        if old is not None and not args.restart and list(old) == moves[: len(old)]:
            done = len(old)  # resume an interrupted run
            values[:done] = arrays[f"{name}.values"]
        t0 = last_save = time.time()
        start = done
        for i, row in _solved(moves[start:], scores[start:], args.workers):
            i += start
            values[i] = row
            best = row.max()
            score = scores[i]
            if best != (score > 0) - (score < 0):
                raise SystemExit(f"{name} line {i + 1} {moves[i]}: best move value {best} but Pons' score {score}")
            done = i + 1
            if time.time() - last_save > 120:  # long sets: save progress every two minutes
                _store(arrays, name, moves[:done], scores[:done], values[:done])
                save(arrays, args.out)
                last_save = time.time()
                print(f"{name}: {done}/{len(moves)} in {last_save - t0:.0f}s", flush=True)
        _store(arrays, name, moves[:done], scores[:done], values[:done])
        save(arrays, args.out)
        mean = (time.time() - t0) / max(done - start, 1) * 1000
        print(f"{name} ({STAGES[name]}): {done} positions ({done - start} solved now, {mean:.1f} ms each)")
    return 0


def _solve_position(task: tuple[str, int]) -> np.ndarray:
    """int8[7] values of every column of one position (ILLEGAL where full), given Pons' score."""
    global _solver
    if _solver is None:
        _solver = ConnectFourSolver(tt_size=TT_SIZE)
    moves, score = task
    state = ConnectFour().state_from_moves(moves)
    row = np.full(7, ILLEGAL, dtype=np.int8)
    for col, v in enumerate(_solver.move_values(state.cur, state.mask, (score > 0) - (score < 0))):
        if v is not None:
            row[col] = v
    return row


def _solved(moves: list[str], scores: list[int], workers: int) -> Iterator[tuple[int, np.ndarray]]:
    """(index, values) of each position in order, solved in this process or in a pool of `workers`."""
    tasks = list(zip(moves, scores, strict=True))
    if workers == 1:
        yield from enumerate(map(_solve_position, tasks))
        return
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        yield from enumerate(pool.imap(_solve_position, tasks))


def _store(arrays: dict, name: str, moves: list[str], scores: list[int], values: np.ndarray) -> None:
    arrays[f"{name}.moves"] = np.array(moves)
    arrays[f"{name}.score"] = np.array(scores, dtype=np.int8)
    arrays[f"{name}.values"] = values


if __name__ == "__main__":
    sys.exit(main())
