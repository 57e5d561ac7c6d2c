"""Connect Four (6 rows x 7 columns) on Python int bitboards, in Pascal Pons' layout.

Two options add observation planes for learning agents' nets (AlphaZero's default, the `net_options` of its
registry row): `threats`, the empty cells that would complete four in a row for each side (`winning_cells`,
what minimax's heuristic counts), and `colour`, a plane of ones when the side to move moved first (AlphaZero's
colour plane: which side's threats the filling board will favour, a parity a small net cannot count).

Each column takes 7 bits, bottom cell first, with one spare bit on top so that shifts never carry from one
column into the next: bit `col * 7 + height` is the cell `height` rows above the bottom of column `col`.
A state keeps `cur` (stones of the side to move) and `mask` (all stones); the opponent's stones are
`cur ^ mask`. Actions are columns 0-6, written `1`-`7` as in Pons' test files.
"""

from __future__ import annotations

import numpy as np

from core.errors import ArenaError
from envs.base import Game, State, bitboard_planes, check_options, plane_to_bits

WIDTH, HEIGHT = 7, 6
H1 = HEIGHT + 1
BOTTOM = [1 << (c * H1) for c in range(WIDTH)]  # the lowest cell of each column
TOP = [1 << (c * H1 + HEIGHT - 1) for c in range(WIDTH)]  # the highest playable cell of each column
BOTTOM_ROW = sum(BOTTOM)
BOARD = BOTTOM_ROW * ((1 << HEIGHT) - 1)  # every playable cell
CELLS = WIDTH * HEIGHT

TOP_ROW = sum(TOP)
# the legal-move mask for each set of full columns, keyed by `mask & TOP_ROW` (search asks it for every new node)
LEGAL_MASKS = {
    sum(TOP[c] for c in range(WIDTH) if full >> c & 1): np.array([not full >> c & 1 for c in range(WIDTH)])
    for full in range(1 << WIDTH)
}

# BIT_INDEX[r, c] is the bit of the cell in display row r (0 at the top) and column c.
BIT_INDEX = np.array([[c * H1 + (HEIGHT - 1 - r) for c in range(WIDTH)] for r in range(HEIGHT)])


def has_four(stones: int) -> bool:
    """Whether a bitboard holds four in a row in any direction (vertical, horizontal, both diagonals)."""
    for shift in (1, H1, H1 - 1, H1 + 1):
        m = stones & (stones >> shift)
        if m & (m >> (2 * shift)):
            return True
    return False


def winning_cells(stones: int | np.ndarray, mask: int | np.ndarray) -> int | np.ndarray:
    """The empty cells (playable now or later) that would complete four in a row for `stones`.

    Python ints or numpy uint64 arrays of bitboards alike (numpy shifts each element; bits shifted past 63 drop).
    """
    # Vertical: three stacked stones and the cell above them.
    r = (stones << 1) & (stones << 2) & (stones << 3)
    for shift in (H1, H1 - 1, H1 + 1):  # horizontal and both diagonals
        p = (stones << shift) & (stones << (2 * shift))
        r |= p & (stones << (3 * shift))
        r |= p & (stones >> shift)
        p = (stones >> shift) & (stones >> (2 * shift))
        r |= p & (stones << shift)
        r |= p & (stones >> (3 * shift))
    return r & (BOARD ^ mask)


class ConnectFourState(State):
    """A Connect Four position: `cur` = stones of the side to move, `mask` = all stones."""

    __slots__ = ("cur", "game", "mask", "moves", "winner")

    def __init__(self, game: ConnectFour, cur: int, mask: int, moves: tuple[int, ...], winner: int | None):
        self.game = game
        self.cur = cur
        self.mask = mask
        self.moves = moves
        self.winner = winner

    @property
    def num_moves(self) -> int:
        """Stones on the board."""
        return self.mask.bit_count()

    def current_player(self) -> int:
        """Player 0 moves first, so the parity of the stone count says who is to move."""
        return self.mask.bit_count() & 1

    def is_terminal(self) -> bool:
        """Four in a row for the last mover, or a full board."""
        return self.winner is not None or self.mask == BOARD

    def legal_actions(self) -> list[int]:
        """Columns that are not full, while the game is on."""
        if self.winner is not None:
            return []
        mask = self.mask
        return [c for c in range(WIDTH) if not mask & TOP[c]]

    def legal_mask(self) -> np.ndarray:
        """Columns that are not full, as bool[7], while the game is on (a copy of a precomputed mask)."""
        if self.winner is not None:
            return np.zeros(WIDTH, dtype=bool)
        return LEGAL_MASKS[self.mask & TOP_ROW].copy()

    def apply(self, action: int) -> ConnectFourState:
        """Drop a stone in column `action` (0-6)."""
        mask = self.mask
        if self.winner is not None or mask == BOARD:
            raise self.illegal(action, "the game is over")
        if type(action) is not int:
            if not isinstance(action, (int, np.integer)):
                raise self.illegal(action, "an action is a column index 0-6")
            action = int(action)
        if not 0 <= action < WIDTH:
            raise self.illegal(action, "no such column")
        if mask & TOP[action]:
            raise self.illegal(action, "column is full")
        mover = self.cur
        new_mask = mask | (mask + BOTTOM[action])
        mover |= new_mask ^ mask
        winner = None
        # Only the mover can have made four; test the four directions inline for speed.
        for shift in (1, 7, 6, 8):
            m = mover & (mover >> shift)
            if m & (m >> (2 * shift)):
                winner = mask.bit_count() & 1
                break
        return ConnectFourState(self.game, mover ^ new_mask, new_mask, (*self.moves, action), winner)

    def can_win_now(self, action: int) -> bool:
        """Whether dropping in column `action` (assumed legal) makes four in a row for the side to move."""
        mover = self.cur | ((self.mask + BOTTOM[action]) & (BOTTOM[action] * 0x3F))
        return has_four(mover)

    def observation(self) -> np.ndarray:
        """float32[C, 6, 7]: stones of the side to move, then the opponent's; with the game's `threats` option the
        empty cells that would complete four for each (same order); with `colour` ones if the side to move moved
        first. Row 0 is the top."""
        return self.game.observations([self])[0]

    def symmetries(self, obs: np.ndarray, policy: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Identity and the left-right mirror (gravity rules out the other board symmetries)."""
        mirrored = np.ascontiguousarray(self.game.mirror_actions(policy))
        return [(obs, policy), (np.ascontiguousarray(obs[..., ::-1]), mirrored)]

    def __str__(self) -> str:
        """The board with X for the first player and O for the second, column numbers below."""
        first = self.cur if self.current_player() == 0 else self.cur ^ self.mask
        rows = []
        for r in range(HEIGHT):
            cells = []
            for c in range(WIDTH):
                bit = 1 << int(BIT_INDEX[r, c])
                cells.append("." if not self.mask & bit else ("X" if first & bit else "O"))
            rows.append(" ".join(cells))
        rows.append(" ".join(str(c + 1) for c in range(WIDTH)))
        return "\n".join(rows)


class ConnectFour(Game):
    """Connect Four: 6 rows, 7 columns, four in a row wins; actions are columns, `1`-`7` in text."""

    name = "connect_four"
    num_actions = WIDTH
    obs_shape: tuple[int, int, int] = (2, HEIGHT, WIDTH)
    board_shape = (HEIGHT, WIDTH)
    move_pattern = r"[1-7]"

    def __init__(self, **options):
        self.options = check_options(self.name, options, {"threats": False, "colour": False})
        self.obs_shape = (2 + 2 * self.options["threats"] + self.options["colour"], HEIGHT, WIDTH)

    def initial_state(self) -> ConnectFourState:
        """The empty board, first player to move."""
        return ConnectFourState(self, 0, 0, (), None)

    def action_to_text(self, action: int) -> str:
        """Column `action` (0-6) as `1`-`7`."""
        if not 0 <= action < WIDTH:
            raise ArenaError(f"no column {action} in connect_four: actions are 0-6")
        return str(action + 1)

    def describe_action(self, action: int) -> str:
        """`column 5` for action 4."""
        return f"column {self.action_to_text(action)}"

    def text_to_action(self, text: str) -> int:
        """`1`-`7` -> column 0-6."""
        t = text.strip()
        if t not in {"1", "2", "3", "4", "5", "6", "7"}:
            raise ArenaError(f"cannot read {text!r} as a connect_four move: write a column 1-7")
        return int(t) - 1

    def mirror_actions(self, per_action: np.ndarray) -> np.ndarray:
        """Columns reversed: the left-right mirror of the board (its own inverse)."""
        return per_action[..., ::-1]

    def observations(self, states) -> np.ndarray:
        """float32[L, C, 6, 7] for many positions at once (each like `state.observation()`)."""
        cur = np.array([s.cur for s in states], dtype=np.uint64)
        mask = np.array([s.mask for s in states], dtype=np.uint64)
        boards = np.stack([cur, cur ^ mask], axis=1)  # [L, 2]: the side to move, the opponent
        if self.options["threats"]:
            boards = np.concatenate([boards, winning_cells(boards, mask[:, None])], axis=1)
        if self.options["colour"]:
            first_to_move = np.array([s.current_player() == 0 for s in states])
            boards = np.concatenate([boards, np.where(first_to_move, BOARD, 0).astype(np.uint64)[:, None]], axis=1)
        return bitboard_planes(boards, BIT_INDEX)

    def state_from_observation(self, obs: np.ndarray) -> ConnectFourState:
        """The position shown by planes [C, 6, 7] from the side to move (the stones; feature planes are implied)."""
        cur = plane_to_bits(obs[0], BIT_INDEX)
        opp = plane_to_bits(obs[1], BIT_INDEX)
        mask = cur | opp
        winner = None
        if has_four(opp):
            winner = 1 - (mask.bit_count() & 1)
        return ConnectFourState(self, cur, mask, (), winner)


# ---------------------------------------------------------------------------------------------------------------
# The heuristic of the alpha-beta player (a row of envs/registry.py): scores for the side to move, move order


CENTRE = 0b111111 << 21  # column 4
NEAR_CENTRE = (0b111111 << 14) | (0b111111 << 28)  # columns 3 and 5


def connect_four_eval(state) -> float:
    """Threats count most, a threat playable right now more; then central stones."""
    cur, mask = state.cur, state.mask
    opp = cur ^ mask
    playable = (mask + BOTTOM_ROW) & BOARD
    mine, theirs = winning_cells(cur, mask), winning_cells(opp, mask)
    # Our playable threat would have been played by the search already; the opponent's wins next move.
    score = 10 * (mine.bit_count() - theirs.bit_count()) - 50 * (theirs & playable).bit_count()
    score += 3 * ((cur & CENTRE).bit_count() - (opp & CENTRE).bit_count())
    score += (cur & NEAR_CENTRE).bit_count() - (opp & NEAR_CENTRE).bit_count()
    return float(score)


def connect_four_candidates(state) -> list[int]:
    """Centre columns first: they take part in the most lines."""
    legal = state.legal_actions()
    return [c for c in (3, 2, 4, 1, 5, 0, 6) if c in legal]
