"""Freestyle Gomoku: five or more in a row wins; 15x15 by default, any size from 5 to 19 as an option.

Actions are cells `row * N + col` (row 0 at the top). Moves are written as in renju records: a column letter
`a`.. and a row number counted from the BOTTOM, so `h8` is the centre of the 15x15 board.
Internally each player's stones are a Python int with one spare (always empty) bit after each row, so that
shifting a row never carries a stone into the next row: cell (r, c) is bit `r * (N + 1) + c`.
"""

from __future__ import annotations

import numpy as np

from core.errors import ArenaError
from envs.base import Game, StonesState, bits_to_plane, check_options, plane_to_bits

LETTERS = "abcdefghijklmnopqrs"


class GomokuState(StonesState):
    """A Gomoku position: stones of the side to move (`cur`) and of the opponent (`opp`)."""

    __slots__ = ()

    def is_terminal(self) -> bool:
        """Five or more in a row, or a full board."""
        return self.winner is not None or (self.cur | self.opp) == self.game.board

    def legal_mask(self) -> np.ndarray:
        """bool[N*N]: empty cells while the game is on."""
        if self.winner is not None:
            return np.zeros(self.game.num_actions, dtype=bool)
        return bits_to_plane(self.game.board ^ (self.cur | self.opp), self.game.index).reshape(-1) > 0

    def legal_actions(self) -> list[int]:
        """Empty cells while the game is on."""
        return np.flatnonzero(self.legal_mask()).tolist()

    def apply(self, action: int) -> GomokuState:
        """Put a stone on cell `action` (row * N + col)."""
        game = self.game
        if self.is_terminal():
            raise self.illegal(action, "the game is over")
        if not isinstance(action, (int, np.integer)) or not 0 <= action < game.num_actions:
            raise self.illegal(action, f"cells are 0-{game.num_actions - 1} (row * {game.size} + col)")
        action = int(action)
        bit = game.bits[action]
        if (self.cur | self.opp) & bit:
            raise self.illegal(action, "cell is taken")
        mover = self.cur | bit
        winner = self.current_player() if game.has_five(mover) else None
        return GomokuState(game, self.opp, mover, (*self.moves, action), winner)

    def observation(self) -> np.ndarray:
        """float32[2, N, N]: stones of the side to move, then the opponent's."""
        idx = self.game.index
        return np.stack([bits_to_plane(self.cur, idx), bits_to_plane(self.opp, idx)])

    def __str__(self) -> str:
        """The board with X for the first player and O for the second; rows numbered from the bottom."""
        n = self.game.size
        x, o = (self.cur, self.opp) if self.current_player() == 0 else (self.opp, self.cur)
        last = self.game.bits[self.moves[-1]] if self.moves else 0
        rows = []
        for r in range(n):
            cells = []
            for c in range(n):
                bit = self.game.bits[r * n + c]
                ch = "X" if x & bit else "O" if o & bit else "."
                cells.append(ch.lower() if bit == last else ch)  # the last move in lower case
            rows.append(f"{n - r:2d} " + " ".join(cells))
        rows.append("   " + " ".join(LETTERS[:n]))
        return "\n".join(rows)


class Gomoku(Game):
    """Freestyle Gomoku on an N x N board (15 by default): five or more in a row wins."""

    name = "gomoku"
    placement = True

    def __init__(self, **options):
        self.options = check_options(self.name, options, {"size": 15})
        n = self.options["size"]
        if not isinstance(n, int) or not 5 <= n <= 19:
            raise ArenaError(f"gomoku size must be a whole number from 5 to 19, not {n!r}")
        self.size = n
        stride = n + 1
        self.num_actions = n * n
        self.obs_shape = (2, n, n)
        self.board_shape = (n, n)
        self.index = np.array([[r * stride + c for c in range(n)] for r in range(n)])  # [N, N] cell -> bit
        self.bits = [1 << int(b) for b in self.index.reshape(-1)]  # action -> bit
        self.board = sum(self.bits)
        self.shifts = (1, stride, stride + 1, stride - 1)  # row, column, both diagonals
        self.move_pattern = rf"[a-{LETTERS[n - 1]}](?:1[0-9]|[1-9])"

    def has_five(self, stones: int) -> bool:
        """Whether `stones` hold five (or more) in a row in any direction."""
        for s in self.shifts:
            m = stones & (stones >> s)  # pairs
            m &= m >> (2 * s)  # fours
            if m & (stones >> (4 * s)):  # fives
                return True
        return False

    def initial_state(self) -> GomokuState:
        """The empty board, X (black) to move."""
        return GomokuState(self, 0, 0, (), None)

    def action_to_text(self, action: int) -> str:
        """Cell -> `h8` (column letter, row number from the bottom)."""
        n = self.size
        if not 0 <= action < n * n:
            raise ArenaError(f"no cell {action} in gomoku {n}x{n}: cells are 0-{n * n - 1}")
        return f"{LETTERS[action % n]}{n - action // n}"

    def text_to_action(self, text: str) -> int:
        """`h8` -> cell index (row 0 at the top, so row number 15 is row 0 on 15x15)."""
        t, n = text.strip().lower(), self.size
        if len(t) >= 2 and t[0] in LETTERS[:n] and t[1:].isdigit() and 1 <= int(t[1:]) <= n:
            return (n - int(t[1:])) * n + LETTERS.index(t[0])
        raise ArenaError(f"cannot read {text!r} as a gomoku move: write a1..{LETTERS[n - 1]}{n}")

    def state_from_observation(self, obs: np.ndarray) -> GomokuState:
        """The position shown by planes [2, N, N] from the side to move."""
        cur, opp = plane_to_bits(obs[0], self.index), plane_to_bits(obs[1], self.index)
        winner = 1 - ((cur | opp).bit_count() & 1) if self.has_five(opp) else None
        return GomokuState(self, cur, opp, (), winner)


# ---------------------------------------------------------------------------------------------------------------
# The heuristic of the alpha-beta player (a row of envs/registry.py): scores for the side to move, move order


WINDOW_WEIGHTS = (0, 1, 10, 100, 1000)  # a window of five holding k own stones and no opponent stone
_WINDOW_STARTS: dict[int, list[int]] = {}


def _window_counts(stones: int, other: int, valid: int, s: int) -> list[int]:
    """Bitboards of window starts (direction shift `s`) free of `other` holding exactly 1..4 of `stones`."""
    blocked = other | (other >> s) | (other >> 2 * s) | (other >> 3 * s) | (other >> 4 * s)
    free = valid & ~blocked
    # Bit-sliced sum of five one-bit boards: (b2 b1 b0) is the stone count of the window starting there.
    b0 = b1 = b2 = 0
    for k in range(5):
        x = stones >> (k * s)
        carry0 = b0 & x
        b0 ^= x
        carry1 = b1 & carry0
        b1 ^= carry0
        b2 |= carry1
    n0, n1, n2 = ~b0, ~b1, ~b2
    return [free & b0 & n1 & n2, free & n0 & b1 & n2, free & b0 & b1 & n2, free & n0 & n1 & b2]


def gomoku_eval(state) -> float:
    """Sum of weights of windows of five still open to one side, ours minus theirs (theirs move next)."""
    game = state.game
    valid = _WINDOW_STARTS.get(game.size)
    if valid is None:  # cells where a window of five fits, per direction
        b = game.board
        valid = _WINDOW_STARTS[game.size] = [
            b & (b >> s) & (b >> 2 * s) & (b >> 3 * s) & (b >> 4 * s) for s in game.shifts
        ]
    score = 0.0
    for s, v in zip(game.shifts, valid, strict=True):
        for k, w in enumerate(_window_counts(state.cur, state.opp, v, s), start=1):
            score += WINDOW_WEIGHTS[k] * w.bit_count()
        for k, w in enumerate(_window_counts(state.opp, state.cur, v, s), start=1):
            score -= 1.5 * WINDOW_WEIGHTS[k] * w.bit_count()  # the opponent moves next: its threats weigh more
    return float(score)


def gomoku_candidates(state) -> list[int]:
    """Empty cells next to a stone (the centre on an empty board), nearest the last move first."""
    game = state.game
    stones = state.cur | state.opp
    n = game.size
    if not stones:
        return [(n // 2) * n + n // 2]
    near = stones
    for s in game.shifts:
        near |= (stones << s) | (stones >> s)
    near &= game.board & ~stones
    cells = [a for a in range(n * n) if near & game.bits[a]]
    if state.moves:
        lr, lc = divmod(state.moves[-1], n)
        cells.sort(key=lambda a: max(abs(a // n - lr), abs(a % n - lc)))
    return cells
