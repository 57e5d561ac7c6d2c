"""A perfect Connect Four solver: negamax with alpha-beta, a transposition table, move ordering and bitboards.

It follows Pascal Pons' solver (http://blog.gamesolver.org): bitboards in `envs.connect_four`'s layout,
"non-losing moves" pruning, moves ordered by how many winning cells they create (centre first on ties), a
transposition table of upper and lower bounds, and null-window searches that narrow the score.
Scores follow Pons' convention: 0 is a draw, a win for the side to move is 22 minus the number of stones
the winner plays (a faster win scores higher), a loss is the negative of the same.

The search is compiled with numba when it is installed (about C++ speed); without numba the same code runs
as plain Python, correct but 100x slower (fine for endgames, too slow for openings).
"""

from __future__ import annotations

import numpy as np

try:
    from numba import njit

    HAVE_NUMBA = True
except ImportError:  # the same functions run as plain Python
    HAVE_NUMBA = False

    def njit(*args, **kwargs):
        """Stand-in for numba.njit: returns the function unchanged."""
        if len(args) == 1 and callable(args[0]):
            return args[0]
        return lambda f: f


WIDTH, HEIGHT = 7, 6
CELLS = WIDTH * HEIGHT
MIN_SCORE = -(CELLS // 2) + 3  # -18: the fastest possible loss
MAX_SCORE = (CELLS + 1) // 2 - 3  # 18: the fastest possible win
BOTTOM_ROW = sum(1 << (c * (HEIGHT + 1)) for c in range(WIDTH))
BOARD = BOTTOM_ROW * ((1 << HEIGHT) - 1)
COLUMN_ORDER = np.array([3, 2, 4, 1, 5, 0, 6], dtype=np.int64)  # centre columns first
TT_SIZE = 8388593  # a prime near 2**23: 8.4M entries, 76 MB (a prime size spreads the keys evenly)


def _drop(mask: int, col: int) -> int | None:
    """The bit of the stone dropped into column `col`, or None when the column is full."""
    if mask & (1 << (col * 7 + HEIGHT - 1)):
        return None
    return (mask + (1 << (col * 7))) & (0x3F << (col * 7))


@njit(cache=True)
def _popcount(x):
    n = 0
    while x:
        x &= x - 1
        n += 1
    return n


@njit(cache=True)
def _winning_cells(stones, mask):
    """Empty cells that complete four in a row for `stones` (see envs.connect_four.winning_cells)."""
    r = (stones << 1) & (stones << 2) & (stones << 3)
    for shift in (7, 6, 8):
        p = (stones << shift) & (stones << (2 * shift))
        r |= p & (stones << (3 * shift))
        r |= p & (stones >> shift)
        p = (stones >> shift) & (stones >> (2 * shift))
        r |= p & (stones << shift)
        r |= p & (stones >> (3 * shift))
    return r & (BOARD ^ mask)


@njit(cache=True)
def _negamax(cur, mask, moves, alpha, beta, tt_keys, tt_vals, buf_moves, buf_scores, counter):
    """Score of (cur, mask) within [alpha, beta]; the side to move cannot win at once (checked by caller)."""
    counter[0] += 1
    possible = (mask + BOTTOM_ROW) & BOARD
    opp_win = _winning_cells(cur ^ mask, mask)
    forced = possible & opp_win
    if forced:
        if forced & (forced - 1):  # two threats to block: lost next move
            return -((CELLS - moves) // 2)
        possible = forced
    nxt = possible & ~(opp_win >> 1)  # never play under an opponent's winning cell
    if nxt == 0:
        return -((CELLS - moves) // 2)
    if moves >= CELLS - 2:  # no winner can come from the last two stones
        return 0

    lo = -((CELLS - 2 - moves) // 2)  # the opponent cannot win with his next stone
    if alpha < lo:
        alpha = lo
        if alpha >= beta:
            return alpha
    hi = (CELLS - 1 - moves) // 2  # we cannot win with our next stone
    key = cur + mask
    slot = key % tt_keys.shape[0]
    if tt_keys[slot] == key:
        v = np.int64(tt_vals[slot])
        if v > MAX_SCORE - MIN_SCORE + 1:  # a stored lower bound
            lb = v + 2 * MIN_SCORE - MAX_SCORE - 2
            if alpha < lb:
                alpha = lb
                if alpha >= beta:
                    return alpha
        else:  # a stored upper bound
            ub = v + MIN_SCORE - 1
            if hi > ub:
                hi = ub
    if beta > hi:
        beta = hi
        if alpha >= beta:
            return beta

    # Order moves by the number of winning cells they make; insertion sort, centre first on ties.
    n = 0
    for i in range(WIDTH - 1, -1, -1):
        col = COLUMN_ORDER[i]
        move = nxt & (np.int64(0x3F) << (col * 7))
        if move:
            score = _popcount(_winning_cells(cur | move, mask))
            j = n
            while j > 0 and buf_scores[moves, j - 1] > score:
                buf_moves[moves, j] = buf_moves[moves, j - 1]
                buf_scores[moves, j] = buf_scores[moves, j - 1]
                j -= 1
            buf_moves[moves, j] = move
            buf_scores[moves, j] = score
            n += 1

    for k in range(n - 1, -1, -1):
        move = buf_moves[moves, k]
        child_cur = cur ^ mask
        child_mask = mask | move
        score = -_negamax(
            child_cur, child_mask, moves + 1, -beta, -alpha, tt_keys, tt_vals, buf_moves, buf_scores, counter
        )
        if score >= beta:
            tt_keys[slot] = key
            tt_vals[slot] = score + MAX_SCORE - 2 * MIN_SCORE + 2
            return score
        if score > alpha:
            alpha = score
    tt_keys[slot] = key
    tt_vals[slot] = alpha - MIN_SCORE + 1
    return alpha


@njit(cache=True)
def _solve(cur, mask, moves, weak, tt_keys, tt_vals, buf_moves, buf_scores, counter):
    """Exact score (or only its sign when `weak`) by null-window searches that halve the score interval."""
    possible = (mask + BOTTOM_ROW) & BOARD
    if _winning_cells(cur, mask) & possible:
        return (CELLS + 1 - moves) // 2
    lo = -((CELLS - moves) // 2)
    hi = (CELLS + 1 - moves) // 2
    if weak:
        lo = -1
        hi = 1
    while lo < hi:
        med = lo + (hi - lo) // 2
        if med <= 0 and -(-lo // 2) < med:  # lo / 2 rounded toward zero, as in C
            med = -(-lo // 2)
        elif med >= 0 and hi // 2 > med:
            med = hi // 2
        r = _negamax(cur, mask, moves, med, med + 1, tt_keys, tt_vals, buf_moves, buf_scores, counter)
        if r <= med:
            hi = r
        else:
            lo = r
    return lo


class ConnectFourSolver:
    """Solves Connect Four positions given as (cur, mask) bitboards; keeps its table between calls."""

    def __init__(self, tt_size: int = TT_SIZE):
        # The table only stores bounds that are true for a position, so it stays valid across positions.
        self.tt_keys = np.zeros(tt_size, dtype=np.int64)  # [tt_size] full keys (cur + mask)
        self.tt_vals = np.zeros(tt_size, dtype=np.int8)  # [tt_size] encoded bound, 0 = empty
        self.buf_moves = np.zeros((CELLS + 1, WIDTH), dtype=np.int64)  # per-depth move lists
        self.buf_scores = np.zeros((CELLS + 1, WIDTH), dtype=np.int64)
        self.counter = np.zeros(1, dtype=np.int64)  # nodes searched

    def reset(self) -> None:
        """Forget the transposition table."""
        self.tt_keys[:] = 0
        self.tt_vals[:] = 0

    @property
    def nodes(self) -> int:
        """Nodes searched since creation."""
        return int(self.counter[0])

    def solve(self, cur: int, mask: int, weak: bool = False) -> int:
        """The score of a non-terminal position for the side to move (see module docstring); -1/0/1 if weak."""
        moves = mask.bit_count()
        if moves >= CELLS:
            return 0
        score = int(
            _solve(
                int(cur),
                int(mask),
                int(moves),
                bool(weak),
                self.tt_keys,
                self.tt_vals,
                self.buf_moves,
                self.buf_scores,
                self.counter,
            )
        )
        return (score > 0) - (score < 0) if weak else score

    def move_scores(self, cur: int, mask: int, weak: bool = False) -> list[int | None]:
        """Score of each column [7] for the side to move (None when full); `weak` gives only the sign."""
        moves = mask.bit_count()
        out: list[int | None] = []
        for col in range(WIDTH):
            move = _drop(mask, col)
            if move is None:
                out.append(None)
                continue
            mover = cur | move
            if _has_four(mover):
                score = (CELLS + 1 - moves) // 2
                out.append(1 if weak else score)
                continue
            child_mask = mask | move
            if child_mask == BOARD:
                out.append(0)
                continue
            child = self.solve(mover ^ child_mask, child_mask, weak=weak)
            out.append(-child)
        if weak:
            out = [None if s is None else (s > 0) - (s < 0) for s in out]
        return out

    def score_above(self, cur: int, mask: int, threshold: int) -> bool:
        """Whether the exact score of a non-terminal position is above `threshold` (one null-window search)."""
        moves = mask.bit_count()
        if moves >= CELLS:
            return threshold < 0
        possible = (mask + BOTTOM_ROW) & BOARD
        if _winning_cells(cur, mask) & possible:  # negamax assumes no immediate win
            return (CELLS + 1 - moves) // 2 > threshold
        args = (self.tt_keys, self.tt_vals, self.buf_moves, self.buf_scores, self.counter)
        return _negamax(int(cur), int(mask), int(moves), threshold, threshold + 1, *args) > threshold

    def move_values(self, cur: int, mask: int, value: int) -> list[int | None]:
        """Win (1) / draw (0) / loss (-1) of each column [7] (None when full), given the position's own value.

        Knowing the position's value saves searches: in a lost position every move loses; in a drawn one a
        move draws or loses (one search tells which); in a won one a move that does not win needs a second
        search to tell a draw from a loss.
        """
        out: list[int | None] = []
        for col in range(WIDTH):
            move = _drop(mask, col)
            if move is None:
                out.append(None)
                continue
            mover, child_mask = cur | move, mask | move
            if _has_four(mover):
                out.append(1)
            elif child_mask == BOARD:
                out.append(0)
            elif value < 0:
                out.append(-1)
            elif value == 0 or self.score_above(mover ^ child_mask, child_mask, -1):
                # The opponent scores at least 0 after this move: a draw or a loss for us.
                out.append(-1 if self.score_above(mover ^ child_mask, child_mask, 0) else 0)
            else:
                out.append(1)
        return out


def _has_four(stones: int) -> bool:
    for shift in (1, 7, 6, 8):
        m = stones & (stones >> shift)
        if m & (m >> (2 * shift)):
            return True
    return False
