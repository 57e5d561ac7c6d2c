"""The Game / State API shared by every board game, and helpers that several games use.

A `Game` describes the rules and sizes; a `State` is an immutable position: `apply` returns a new state and
leaves the old one alone, so search can branch from any node without copying by hand.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence

import numpy as np

from core.errors import ArenaError, IllegalActionError


class State:
    """A position of a two-player game; subclasses implement the rules, usually on bitboards."""

    game: Game
    moves: tuple[int, ...]
    winner: int | None  # the winning player, None while playing or after a draw

    def current_player(self) -> int:
        """The player to move: 0 moves first."""
        raise NotImplementedError

    def legal_mask(self) -> np.ndarray:
        """Legal actions as bool[num_actions] (all False when the game is over)."""
        mask = np.zeros(self.game.num_actions, dtype=bool)
        mask[self.legal_actions()] = True
        return mask

    def legal_actions(self) -> list[int]:
        """Legal actions in increasing order (empty when the game is over)."""
        raise NotImplementedError

    def apply(self, action: int) -> State:
        """The state after `action`; raises IllegalActionError when the rules forbid it."""
        raise NotImplementedError

    def with_game(self, game: Game) -> State:
        """This position under another instance of its game, e.g. one whose observations add feature planes."""
        if game is self.game:
            return self
        if type(game) is not type(self.game) or game.num_actions != self.game.num_actions:
            raise ArenaError(
                f"a {self.game.name} position {self.game.options} cannot be read as {game.name} {game.options}"
            )
        state = copy.copy(self)
        state.game = game
        return state

    def is_terminal(self) -> bool:
        """Whether the game is over."""
        raise NotImplementedError

    def returns(self) -> np.ndarray:
        """float32[num_players]: +1 for the winner, -1 for the loser, 0 for both on a draw or while playing."""
        out = np.zeros(2, dtype=np.float32)
        if self.winner is not None:
            out[self.winner] = 1.0
            out[1 - self.winner] = -1.0
        return out

    def observation(self) -> np.ndarray:
        """float32[2, H, W]: plane 0 holds the stones of the side to move, plane 1 the opponent's."""
        raise NotImplementedError

    def symmetries(self, obs: np.ndarray, policy: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """The board symmetries of this game applied to (obs [C,H,W], policy [num_actions]); identity first."""
        return dihedral_symmetries(obs, policy, has_pass=self.game.num_actions > obs.shape[1] * obs.shape[2])

    def illegal(self, action: object, why: str) -> IllegalActionError:
        """A clear error for an illegal action: which move, why, and which moves are legal."""
        try:
            text = f" ({self.game.describe_action(int(action))})"  # type: ignore[call-overload]
        except (ArenaError, TypeError, ValueError, IndexError):
            text = ""
        legal = " ".join(self.game.action_to_text(a) for a in self.legal_actions()) or "none (game over)"
        return IllegalActionError(f"illegal move {action}{text} in {self.game.name}: {why}; legal: {legal}", why)

    def __repr__(self) -> str:
        moves = self.game.moves_to_text(self.moves)
        return f"{type(self).__name__}({moves!r})"


class StonesState(State):
    """A position of a game where stones never move or flip: `cur` (side to move) and `opp` as bitboards.

    The stone count tells whose turn it is, so the state needs no player field.
    """

    __slots__ = ("cur", "game", "moves", "opp", "winner")

    def __init__(self, game: Game, cur: int, opp: int, moves: tuple[int, ...], winner: int | None):
        self.game = game
        self.cur = cur
        self.opp = opp
        self.moves = moves
        self.winner = winner

    def current_player(self) -> int:
        """Player 0 moves first; the parity of the stone count says who is to move."""
        return (self.cur | self.opp).bit_count() & 1


class Game:
    """The rules and sizes of a two-player board game; `initial_state()` starts a game."""

    name: str
    num_players: int = 2
    num_actions: int
    obs_shape: tuple[int, int, int]  # (C, H, W) planes
    board_shape: tuple[int, int]  # (H, W)
    options: dict
    placement: bool = False
    """A stone, once placed, never changes and never helps the opponent (no gravity, no flips): tic-tac-toe,
    gomoku. Players may then read the opponent's threats off the board as they stand."""

    def initial_state(self) -> State:
        """The position before the first move."""
        raise NotImplementedError

    def mirror_actions(self, per_action: np.ndarray) -> np.ndarray:
        """`per_action [..., num_actions]` (priors, masks) reordered as the left-right mirror of the board
        (`obs[..., ::-1]`, a symmetry of every game's rules) reorders the actions; its own inverse.

        One action per cell, row by row, and any actions past the cells (Othello's pass) unmoved.
        """
        height, width = self.board_shape
        cells = per_action[..., : height * width].reshape(*per_action.shape[:-1], height, width)[..., ::-1]
        return np.concatenate([cells.reshape(*per_action.shape[:-1], -1), per_action[..., height * width :]], -1)

    def action_to_text(self, action: int) -> str:
        """The usual notation of an action (`4` in Connect Four, `d3` in Othello, `h8` in Gomoku)."""
        raise NotImplementedError

    def text_to_action(self, text: str) -> int:
        """Parse one move in the usual notation; raises ArenaError on anything else."""
        raise NotImplementedError

    def describe_action(self, action: int) -> str:
        """An action in words for error messages (`column 5`, `d3`)."""
        return self.action_to_text(action)

    # A regex for one move token, so that move lists may be written with or without spaces ("f5d6c3").
    move_pattern: str = r"\S+"

    def parse_moves(self, moves: str | Sequence[int | str]) -> list[int]:
        """A move list as text (`"4453"`, `"f5 d6"`, `"h8,i9"`) or a sequence of actions/texts -> actions."""
        if isinstance(moves, str):
            tokens = re.findall(self.move_pattern, moves.strip().lower().replace(",", " "))
            rest = re.sub(self.move_pattern, "", moves.strip().lower().replace(",", " ")).strip()
            if rest:
                raise ArenaError(f"cannot parse {rest!r} in the {self.name} move list {moves!r}")
            return [self.text_to_action(t) for t in tokens]
        return [self.text_to_action(m) if isinstance(m, str) else int(m) for m in moves]

    def state_from_moves(self, moves: str | Sequence[int | str]) -> State:
        """The position after playing `moves` from the start (text in the usual notation, or actions)."""
        state = self.initial_state()
        for action in self.parse_moves(moves):
            state = state.apply(action)
        return state

    def moves_to_text(self, moves: Sequence[int]) -> str:
        """A move list in the usual notation, space separated."""
        return " ".join(self.action_to_text(a) for a in moves)

    def observations(self, states: Sequence[State]) -> np.ndarray:
        """float32[L, C, H, W]: the observations of many states at once (search evaluates leaves in batches)."""
        return np.stack([s.observation() for s in states])

    def state_from_observation(self, obs: np.ndarray) -> State:
        """The position whose observation is `obs` (planes from the side to move); move history is lost."""
        raise NotImplementedError

    def state_from_board(self, text: str) -> State:
        """The position drawn in `text` as `str(state)` draws it: `X` the first player's stones, `O` the second's,
        `.` (or `*`, a legal-move mark) empty, one line a row, top row first; coordinates and other lines are
        ignored, so a test can build its position from a board a reader sees (minigo's tests do).

        The side to move follows from the number of stones added since the start, as in `state_from_observation`
        (Othello: no passes; move history is lost).

        >>> from envs import make_game
        >>> game = make_game("tictactoe")
        >>> game.state_from_board('''
        ...     X X .
        ...     O O .
        ...     . . .
        ... ''').legal_actions()
        [2, 5, 6, 7, 8]
        """
        height, width = self.board_shape
        marks = {"X": 0, "x": 0, "O": 1, "o": 1, ".": None, "*": None}
        rows = []
        for line in text.splitlines():
            cells = [t for t in line.split() if t in marks]
            if len(cells) == width and len(cells) == len([t for t in line.split() if not t.isdigit()]):
                rows.append([marks[t] for t in cells])
        if len(rows) != height:
            raise ArenaError(f"a {self.name} board has {height} rows of {width} cells; found {len(rows)} in {text!r}")
        owner = np.array([[-1 if c is None else c for c in row] for row in rows])  # [H, W]: 0, 1 or -1 (empty)
        placed = int((owner >= 0).sum() - self.initial_state().observation().sum())  # stones added since the start
        mover = placed % 2
        planes = np.stack([owner == mover, owner == 1 - mover]).astype(np.float32)  # [2, H, W] from the mover
        return self.state_from_observation(planes)

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"{type(self).__name__}({opts})"


def dihedral_symmetries(
    obs: np.ndarray, policy: np.ndarray, has_pass: bool = False
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The 8 rotations/reflections of a square board, applied to obs [C,N,N] and policy [N*N (+1 pass)]."""
    n = obs.shape[-1]
    cells = policy[: n * n].reshape(n, n)
    out = []
    for flip in (False, True):
        o, p = (obs[..., ::-1], cells[:, ::-1]) if flip else (obs, cells)
        for k in range(4):
            ok = np.ascontiguousarray(np.rot90(o, k, axes=(-2, -1)))
            pk = np.rot90(p, k).reshape(-1)
            if has_pass:
                pk = np.concatenate([pk, policy[n * n :]])
            out.append((ok, np.ascontiguousarray(pk)))
    return out


def check_options(game: str, options: dict, valid: dict) -> dict:
    """Merge `options` into the defaults in `valid`; an unknown option is an ArenaError naming the valid ones."""
    unknown = sorted(set(options) - set(valid))
    if unknown:
        names = ", ".join(f"{k} (default {v!r})" for k, v in valid.items()) or "none"
        raise ArenaError(f"unknown option {', '.join(map(repr, unknown))} for game {game!r}; valid: {names}")
    return {**valid, **options}


def bits_to_plane(bits: int, index: np.ndarray) -> np.ndarray:
    """Scatter the bits of a Python int into a float32 plane: `index[r, c]` is the bit of cell (r, c)."""
    nbytes = (int(index.max()) >> 3) + 1
    flat = np.unpackbits(np.frombuffer(bits.to_bytes(nbytes, "little"), dtype=np.uint8), bitorder="little")
    return flat[index].astype(np.float32)


def bitboard_planes(boards: np.ndarray, index: np.ndarray) -> np.ndarray:
    """float32[L, K, H, W] from uint64 bitboards [L, K] (K planes of L positions), one vectorised shift for all."""
    bits = (boards[:, :, None] >> index.ravel().astype(np.uint64)) & np.uint64(1)  # [L, K, H*W]
    return bits.reshape(*boards.shape, *index.shape).astype(np.float32)


def plane_to_bits(plane: np.ndarray, index: np.ndarray) -> int:
    """Gather a 0/1 plane into a Python int bitboard: the inverse of `bits_to_plane`."""
    bits = 0
    for b in index[np.asarray(plane) > 0.5].tolist():
        bits |= 1 << b
    return bits
