"""Static evaluations and move ordering for the alpha-beta player, one per game, on the games' bitboards.

Each `evaluate(state) -> float` scores a non-terminal position for the side to move (positive is good);
each `candidates(state) -> list[int]` lists the moves to search, best-looking first.
"""

from __future__ import annotations

from collections.abc import Callable

from envs.base import State
from envs.connect_four import BOARD as C4_BOARD
from envs.connect_four import BOTTOM_ROW, winning_cells
from envs.tictactoe import LINES

# --- Tic-tac-toe: lines still open for one side, weighted by how full they are ---------------------------------


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


# --- Connect Four: threats (cells that would complete four) and the centre ------------------------------------

CENTRE = 0b111111 << 21  # column 4
NEAR_CENTRE = (0b111111 << 14) | (0b111111 << 28)  # columns 3 and 5


def connect_four_eval(state) -> float:
    """Threats count most, a threat playable right now more; then central stones."""
    cur, mask = state.cur, state.mask
    opp = cur ^ mask
    playable = (mask + BOTTOM_ROW) & C4_BOARD
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


# --- Othello: corners, edges, dangerous squares next to empty corners, mobility --------------------------------


def _othello_masks(n: int) -> dict[str, int]:
    bit = lambda r, c: 1 << (r * n + c)  # noqa: E731
    corners = bit(0, 0) | bit(0, n - 1) | bit(n - 1, 0) | bit(n - 1, n - 1)
    x_squares = bit(1, 1) | bit(1, n - 2) | bit(n - 2, 1) | bit(n - 2, n - 2)
    c_squares = 0
    for r, c in ((0, 1), (1, 0), (0, n - 2), (1, n - 1), (n - 2, 0), (n - 1, 1), (n - 1, n - 2), (n - 2, n - 1)):
        c_squares |= bit(r, c)
    edges = 0
    for i in range(n):
        edges |= bit(0, i) | bit(n - 1, i) | bit(i, 0) | bit(i, n - 1)
    edges &= ~(corners | c_squares)
    return {"corners": corners, "x": x_squares, "c": c_squares, "edges": edges}


_OTHELLO_MASKS: dict[int, dict[str, int]] = {}


def othello_eval(state) -> float:
    """Corners 25, edges 3, X-squares -12 and C-squares -4 (while their corner is empty), mobility 2."""
    n = state.game.size
    masks = _OTHELLO_MASKS.setdefault(n, _othello_masks(n))
    own, opp = state.own, state.opp
    empty_corners = masks["corners"] & ~(own | opp)
    # X- and C-squares are only dangerous next to an empty corner: keep those next to empty corners.
    risky = 0
    for corner_bit in range(n * n):
        if empty_corners >> corner_bit & 1:
            r, c = divmod(corner_bit, n)
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    rr, cc = r + dr, c + dc
                    if (dr or dc) and 0 <= rr < n and 0 <= cc < n:
                        risky |= 1 << (rr * n + cc)
    x, c = masks["x"] & risky, masks["c"] & risky

    def material(b: int) -> int:
        return (
            25 * (b & masks["corners"]).bit_count()
            + 3 * (b & masks["edges"]).bit_count()
            - 12 * (b & x).bit_count()
            - 4 * (b & c).bit_count()
        )

    mobility = state.legal.bit_count() - state.game.geo.legal_moves(opp, own).bit_count()
    return float(material(own) - material(opp) + 2 * mobility)


def othello_candidates(state) -> list[int]:
    """Corners first, X-squares last (a cheap ordering that helps alpha-beta)."""
    n = state.game.size
    masks = _OTHELLO_MASKS.setdefault(n, _othello_masks(n))
    rank = lambda a: 0 if masks["corners"] >> a & 1 else (2 if masks["x"] >> a & 1 else 1)  # noqa: E731
    return sorted(state.legal_actions(), key=rank)


# --- Gomoku: open windows of five, counted with bit-sliced adders ---------------------------------------------

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


EVALUATORS: dict[str, Callable[[State], float]] = {
    "tictactoe": tictactoe_eval,
    "connect_four": connect_four_eval,
    "othello": othello_eval,
    "gomoku": gomoku_eval,
}
CANDIDATES: dict[str, Callable[[State], list[int]]] = {
    "connect_four": connect_four_candidates,
    "othello": othello_candidates,
    "gomoku": gomoku_candidates,
}
