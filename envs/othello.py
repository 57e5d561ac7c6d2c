"""Othello (Reversi) on Python int bitboards, 8x8 by default, any even size from 4 to 16 as an option.

Cell `row * N + col` is bit `row * N + col` (row 0 at the top, written `a1`..`h8`: column letter, row number
from the top, as in the usual records such as `f5d6c3`). Black (player 0) moves first from the standard
centre: white on d4 and e5, black on d5 and e4. A player with no move must pass (the action `N * N`, written
`pass`) and may only pass then; the game ends when neither player can move, and the player with more discs
wins (equal counts draw).
"""

from __future__ import annotations

import numpy as np

from core.errors import ArenaError
from envs.base import Game, State, bits_to_plane, check_options, plane_to_bits

LETTERS = "abcdefghijklmnop"


class Geometry:
    """Precomputed masks and shift directions of an N x N board."""

    def __init__(self, n: int):
        self.n = n
        self.full = (1 << (n * n)) - 1
        col0 = sum(1 << (r * n) for r in range(n))
        not_first = self.full ^ col0  # a shift towards higher columns must not land in column 0
        not_last = self.full ^ (col0 << (n - 1))
        # (shift, mask) pairs: left shifts move towards higher bits, right shifts towards lower bits.
        self.left = [(1, not_first), (n, self.full), (n + 1, not_first), (n - 1, not_last)]
        self.right = [(1, not_last), (n, self.full), (n + 1, not_last), (n - 1, not_first)]
        self.index = np.arange(n * n).reshape(n, n)

    def legal_moves(self, own: int, opp: int) -> int:
        """Bitboard of the empty cells where `own` would flip at least one of `opp`'s discs."""
        empty = self.full ^ (own | opp)
        moves = 0
        steps = self.n - 3  # a line can hold at most n - 2 opponent discs
        for s, m in self.left:
            o = opp & m
            x = (own << s) & o
            for _ in range(steps):
                x |= (x << s) & o
            moves |= (x << s) & m & empty
        for s, m in self.right:
            o = opp & m
            x = (own >> s) & o
            for _ in range(steps):
                x |= (x >> s) & o
            moves |= (x >> s) & m & empty
        return moves

    def flips(self, own: int, opp: int, bit: int) -> int:
        """The opponent discs flipped by `own` playing on `bit`."""
        flips = 0
        for s, m in self.left:
            line = 0
            x = (bit << s) & m
            while x & opp:
                line |= x
                x = (x << s) & m
            if x & own:
                flips |= line
        for s, m in self.right:
            line = 0
            x = (bit >> s) & m
            while x & opp:
                line |= x
                x = (x >> s) & m
            if x & own:
                flips |= line
        return flips


class OthelloState(State):
    """An Othello position: discs of the side to move and of the opponent, and the moves now legal."""

    __slots__ = ("game", "legal", "moves", "opp", "own", "player", "terminal", "winner")

    def __init__(self, game: Othello, own: int, opp: int, player: int, moves: tuple[int, ...]):
        self.game = game
        self.own = own
        self.opp = opp
        self.player = player
        self.moves = moves
        geo = game.geo
        self.legal = geo.legal_moves(own, opp)  # 0 means: pass, or the game is over
        self.terminal = self.legal == 0 and geo.legal_moves(opp, own) == 0
        self.winner: int | None = None
        if self.terminal:
            mine, theirs = own.bit_count(), opp.bit_count()
            if mine != theirs:
                self.winner = player if mine > theirs else 1 - player

    @property
    def must_pass(self) -> bool:
        """The side to move has no move but the game goes on: its only legal action is the pass."""
        return self.legal == 0 and not self.terminal

    def current_player(self) -> int:
        """Black (0) moves first; passes keep this exact."""
        return self.player

    def is_terminal(self) -> bool:
        """Neither player can move."""
        return self.terminal

    def legal_actions(self) -> list[int]:
        """Cells that flip something, or just the pass when there are none."""
        if self.terminal:
            return []
        if self.legal == 0:
            return [self.game.pass_action]
        out = []
        x = self.legal
        while x:
            low = x & -x
            out.append(low.bit_length() - 1)
            x ^= low
        return out

    def apply(self, action: int) -> OthelloState:
        """Place a disc on cell `action` and flip, or pass (`action == N * N`) when there is no move."""
        game = self.game
        if self.terminal:
            raise self.illegal(action, "the game is over")
        if not isinstance(action, (int, np.integer)) or not 0 <= action <= game.pass_action:
            raise self.illegal(action, f"actions are cells 0-{game.pass_action - 1} and the pass {game.pass_action}")
        action = int(action)
        if action == game.pass_action:
            if self.legal:
                raise self.illegal(action, "a pass is only allowed without any move")
            return OthelloState(game, self.opp, self.own, 1 - self.player, (*self.moves, action))
        bit = 1 << action
        if not self.legal & bit:
            why = "cell is taken" if (self.own | self.opp) & bit else "it flips no disc"
            if self.legal == 0:
                why = "no move flips a disc, so the side to move must pass"
            raise self.illegal(action, why)
        flips = game.geo.flips(self.own, self.opp, bit)
        return OthelloState(game, self.opp ^ flips, self.own | bit | flips, 1 - self.player, (*self.moves, action))

    def disc_counts(self) -> tuple[int, int]:
        """Discs of (black, white)."""
        mine, theirs = self.own.bit_count(), self.opp.bit_count()
        return (mine, theirs) if self.player == 0 else (theirs, mine)

    def observation(self) -> np.ndarray:
        """float32[2, N, N]: discs of the side to move, then the opponent's."""
        idx = self.game.geo.index
        return np.stack([bits_to_plane(self.own, idx), bits_to_plane(self.opp, idx)])

    def __str__(self) -> str:
        """The board with X for black, O for white and * on the legal moves."""
        n = self.game.size
        black, white = (self.own, self.opp) if self.player == 0 else (self.opp, self.own)
        rows = ["   " + " ".join(LETTERS[:n])]
        for r in range(n):
            cells = []
            for c in range(n):
                bit = 1 << (r * n + c)
                cells.append("X" if black & bit else "O" if white & bit else "*" if self.legal & bit else ".")
            rows.append(f"{r + 1:2d} " + " ".join(cells))
        b, w = self.disc_counts()
        side = "black (X)" if self.player == 0 else "white (O)"
        rows.append(f"X {b} O {w}; " + ("game over" if self.terminal else f"{side} to move"))
        return "\n".join(rows)


class Othello(Game):
    """Othello: N x N (8 by default), actions are cells `row * N + col` plus the pass `N * N`."""

    name = "othello"

    def __init__(self, **options):
        self.options = check_options(self.name, options, {"size": 8})
        n = self.options["size"]
        if not isinstance(n, int) or n % 2 or not 4 <= n <= 16:
            raise ArenaError(f"othello size must be an even number from 4 to 16, not {n!r}")
        self.size = n
        self.geo = Geometry(n)
        self.num_actions = n * n + 1
        self.pass_action = n * n
        self.obs_shape = (2, n, n)
        self.board_shape = (n, n)
        self.move_pattern = rf"pass|ps|--|[a-{LETTERS[n - 1]}](?:1[0-6]|[1-9])"

    def initial_state(self) -> OthelloState:
        """Four discs in the centre, black to move."""
        n, h = self.size, self.size // 2
        cell = lambda r, c: 1 << (r * n + c)  # noqa: E731
        white = cell(h - 1, h - 1) | cell(h, h)
        black = cell(h, h - 1) | cell(h - 1, h)
        return OthelloState(self, black, white, 0, ())

    def action_to_text(self, action: int) -> str:
        """Cell -> `d3` (column letter, row from the top); the pass -> `pass`."""
        if action == self.pass_action:
            return "pass"
        if not 0 <= action < self.pass_action:
            raise ArenaError(f"no action {action} in othello {self.size}x{self.size}: 0-{self.pass_action}")
        return f"{LETTERS[action % self.size]}{action // self.size + 1}"

    def text_to_action(self, text: str) -> int:
        """`d3` -> cell index; `pass` (or `ps`, `--`) -> the pass."""
        t = text.strip().lower()
        if t in ("pass", "ps", "--"):
            return self.pass_action
        n = self.size
        if len(t) >= 2 and t[0] in LETTERS[:n] and t[1:].isdigit() and 1 <= int(t[1:]) <= n:
            return (int(t[1:]) - 1) * n + LETTERS.index(t[0])
        raise ArenaError(f"cannot read {text!r} as an othello move: write a1..{LETTERS[n - 1]}{n} or pass")

    def state_from_observation(self, obs: np.ndarray) -> OthelloState:
        """The position shown by planes [2, N, N]; the colour to move is guessed from the disc parity."""
        idx = self.geo.index
        own, opp = plane_to_bits(obs[0], idx), plane_to_bits(obs[1], idx)
        return OthelloState(self, own, opp, (own | opp).bit_count() & 1, ())


# ---------------------------------------------------------------------------------------------------------------
# The heuristic of the alpha-beta player (a row of envs/registry.py): scores for the side to move, move order


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
