"""Tic-tac-toe on 9-bit bitboards: cell `row * 3 + col` is bit `row * 3 + col`, row 0 at the top."""

from __future__ import annotations

import numpy as np

from core.errors import ArenaError
from envs.base import Game, StonesState, bits_to_plane, check_options, plane_to_bits

FULL = 0x1FF
LINES = [
    0b000000111, 0b000111000, 0b111000000,  # rows
    0b001001001, 0b010010010, 0b100100100,  # columns
    0b100010001, 0b001010100,  # diagonals
]  # fmt: skip
BIT_INDEX = np.arange(9).reshape(3, 3)
COLS = "abc"


def has_line(stones: int) -> bool:
    """Whether `stones` fill a row, column or diagonal."""
    return any(stones & line == line for line in LINES)


class TicTacToeState(StonesState):
    """A tic-tac-toe position: `cur` = marks of the side to move, `opp` = the other side's."""

    __slots__ = ()

    def is_terminal(self) -> bool:
        """Three in a row, or a full board."""
        return self.winner is not None or (self.cur | self.opp) == FULL

    def legal_actions(self) -> list[int]:
        """Empty cells while the game is on."""
        if self.winner is not None:
            return []
        taken = self.cur | self.opp
        return [a for a in range(9) if not taken >> a & 1]

    def apply(self, action: int) -> TicTacToeState:
        """Mark cell `action` (row * 3 + col)."""
        if self.is_terminal():
            raise self.illegal(action, "the game is over")
        if not isinstance(action, (int, np.integer)) or not 0 <= action < 9:
            raise self.illegal(action, "cells are 0-8 (row * 3 + col)")
        bit = 1 << int(action)
        if (self.cur | self.opp) & bit:
            raise self.illegal(action, "cell is taken")
        mover = self.cur | bit
        winner = self.current_player() if has_line(mover) else None
        return TicTacToeState(self.game, self.opp, mover, (*self.moves, int(action)), winner)

    def observation(self) -> np.ndarray:
        """float32[2, 3, 3]: marks of the side to move, then the opponent's."""
        return np.stack([bits_to_plane(self.cur, BIT_INDEX), bits_to_plane(self.opp, BIT_INDEX)])

    def __str__(self) -> str:
        """The board with X (first player), O and dots."""
        x, o = (self.cur, self.opp) if self.current_player() == 0 else (self.opp, self.cur)
        cells = ["X" if x >> a & 1 else "O" if o >> a & 1 else "." for a in range(9)]
        return "\n".join(" ".join(cells[r * 3 : r * 3 + 3]) for r in range(3))


class TicTacToe(Game):
    """Tic-tac-toe: actions are cells 0-8 (`row * 3 + col`), written `a1`-`c3` (column letter, row from top)."""

    name = "tictactoe"
    placement = True
    num_actions = 9
    obs_shape = (2, 3, 3)
    board_shape = (3, 3)
    move_pattern = r"[a-c][1-3]|[0-8]"

    def __init__(self, **options):
        self.options = check_options(self.name, options, {})

    def initial_state(self) -> TicTacToeState:
        """The empty board, X to move."""
        return TicTacToeState(self, 0, 0, (), None)

    def action_to_text(self, action: int) -> str:
        """Cell index -> `a1`..`c3` (column letter, row number from the top)."""
        if not 0 <= action < 9:
            raise ArenaError(f"no cell {action} in tictactoe: cells are 0-8")
        return f"{COLS[action % 3]}{action // 3 + 1}"

    def text_to_action(self, text: str) -> int:
        """`b2` (or a bare cell index `4`) -> 4."""
        t = text.strip().lower()
        if len(t) == 1 and t.isdigit() and int(t) < 9:
            return int(t)
        if len(t) == 2 and t[0] in COLS and t[1] in "123":
            return (int(t[1]) - 1) * 3 + COLS.index(t[0])
        raise ArenaError(f"cannot read {text!r} as a tictactoe move: write a1..c3 or a cell 0-8")

    def state_from_observation(self, obs: np.ndarray) -> TicTacToeState:
        """The position shown by planes [2, 3, 3] from the side to move."""
        cur, opp = plane_to_bits(obs[0], BIT_INDEX), plane_to_bits(obs[1], BIT_INDEX)
        winner = 1 - ((cur | opp).bit_count() & 1) if has_line(opp) else None
        return TicTacToeState(self, cur, opp, (), winner)


# ---------------------------------------------------------------------------------------------------------------
# The heuristic of the alpha-beta player (a row of envs/registry.py): scores for the side to move, move order


def tictactoe_eval(state) -> float:
    """Sum over lines free of the opponent of (own marks)^2, minus the same for the opponent."""
    score = 0
    for line in LINES:
        mine, theirs = (state.cur & line).bit_count(), (state.opp & line).bit_count()
        if not theirs:
            score += mine * mine
        if not mine:
            score -= theirs * theirs
    return float(score)
