"""The game registry: one row a game (its engine class) and the Gymnasium ids of the games.

>>> make_game("gomoku", size=9).num_actions
81
"""

from __future__ import annotations

from typing import Any

from core.errors import ArenaError
from envs.base import Game
from envs.connect_four import ConnectFour
from envs.gomoku import Gomoku
from envs.othello import Othello
from envs.tictactoe import TicTacToe

GAMES: dict[str, type[Game]] = {
    "tictactoe": TicTacToe,
    "connect_four": ConnectFour,
    "othello": Othello,
    "gomoku": Gomoku,
}

# Gymnasium ids -> game names; `import agents` registers them (an opponent is an Agent, which agents/ makes from
# a spec): `gymnasium.make("arena/ConnectFour-v0", opponent="greedy")`.
GYM_IDS: dict[str, str] = {
    "arena/TicTacToe-v0": "tictactoe",
    "arena/ConnectFour-v0": "connect_four",
    "arena/Othello-v0": "othello",
    "arena/Gomoku-v0": "gomoku",
}


def make_game(name: str, **options: Any) -> Game:
    """The game `name` (`tictactoe`, `connect_four`, `othello`, `gomoku`) with its options (e.g. size=6)."""
    if name not in GAMES:
        raise ArenaError(f"unknown game {name!r}; valid: {', '.join(GAMES)}")
    return GAMES[name](**options)


def make_aec(name: str, render_mode: str | None = None, **options: Any):
    """A PettingZoo AEC env for the game `name` (observation dict with `observation` and `action_mask`)."""
    from envs.pettingzoo_env import ArenaAECEnv  # why: pettingzoo takes 0.2 s to import; only this face needs it

    return ArenaAECEnv(make_game(name, **options), render_mode=render_mode)
