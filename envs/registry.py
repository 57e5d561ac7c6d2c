"""The game registry: one row a game (engine, Gymnasium id, heuristic), and the tables read from it.

>>> make_game("gomoku", size=9).num_actions
81
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.errors import ArenaError
from envs.base import Game, State
from envs.connect_four import ConnectFour, connect_four_candidates, connect_four_eval
from envs.gomoku import Gomoku, gomoku_candidates, gomoku_eval
from envs.othello import Othello, othello_candidates, othello_eval
from envs.tictactoe import TicTacToe, tictactoe_eval


@dataclass(frozen=True)
class GameEntry:
    """One game: its engine, its Gymnasium id, and the heuristic the alpha-beta player searches with."""

    engine: type[Game]
    """The rules (a `Game` subclass; options such as `size` go to its constructor)."""
    gym_id: str
    """Its single-agent Gymnasium id, registered by `import agents` (an opponent is an Agent)."""
    heuristic: Callable[[State], float]
    """The score of a non-terminal position for the side to move (positive is good), at minimax's leaves."""
    move_order: Callable[[State], list[int]] | None = None
    """The moves worth searching, best-looking first; None: every legal move in index order."""
    net_options: dict[str, Any] = field(default_factory=dict)
    """Game options a learning agent's net sees the game with unless its config says otherwise: observation
    planes that a small net learns faster from (AlphaZero's `game_options: null`)."""


GAME_REGISTRY: dict[str, GameEntry] = {
    "tictactoe": GameEntry(TicTacToe, "arena/TicTacToe-v0", tictactoe_eval),
    "connect_four": GameEntry(
        ConnectFour,
        "arena/ConnectFour-v0",
        connect_four_eval,
        connect_four_candidates,
        net_options={"threats": True, "colour": True},
    ),
    "othello": GameEntry(Othello, "arena/Othello-v0", othello_eval, othello_candidates),
    "gomoku": GameEntry(Gomoku, "arena/Gomoku-v0", gomoku_eval, gomoku_candidates),
}
"""One row a game: a new game is its module in envs/ (rules and heuristic) and a row here."""

GAMES: dict[str, type[Game]] = {name: entry.engine for name, entry in GAME_REGISTRY.items()}
"""Game names -> engines, read from the registry."""

GYM_IDS: dict[str, str] = {entry.gym_id: name for name, entry in GAME_REGISTRY.items()}
"""Gymnasium ids -> game names: `gymnasium.make("arena/ConnectFour-v0", opponent="greedy")` once `agents` is
imported (it turns the opponent's spec into an Agent)."""


def make_game(name: str, **options: Any) -> Game:
    """The game `name` (`tictactoe`, `connect_four`, `othello`, `gomoku`) with its options (e.g. size=6)."""
    if name not in GAMES:
        raise ArenaError(f"unknown game {name!r}; valid: {', '.join(GAMES)}")
    return GAMES[name](**options)


def make_aec(name: str, render_mode: str | None = None, **options: Any):
    """A PettingZoo AEC env for the game `name` (observation dict with `observation` and `action_mask`)."""
    from envs.pettingzoo_env import ArenaAECEnv  # why: pettingzoo takes 0.2 s to import; only this face needs it

    return ArenaAECEnv(make_game(name, **options), render_mode=render_mode)
