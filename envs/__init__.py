"""Board games with exact rules (`make_game`), their PettingZoo AEC face (`make_aec`) and Gymnasium ids.

>>> game = make_game("connect_four")
>>> state = game.state_from_moves("4455")
>>> state.legal_actions()
[0, 1, 2, 3, 4, 5, 6]
>>> print(state.apply(5).apply(2).apply(2))  # columns 6, 3, 3
. . . . . . .
. . . . . . .
. . . . . . .
. . . . . . .
. . X O O . .
. . O X X X .
1 2 3 4 5 6 7
"""

from __future__ import annotations

from typing import Any

import gymnasium

from envs.base import Game, State
from envs.connect_four import ConnectFour
from envs.errors import ArenaError, IllegalActionError
from envs.gomoku import Gomoku
from envs.othello import Othello
from envs.tictactoe import TicTacToe

GAMES: dict[str, type[Game]] = {
    "tictactoe": TicTacToe,
    "connect_four": ConnectFour,
    "othello": Othello,
    "gomoku": Gomoku,
}

# Gymnasium ids -> game names; `gymnasium.make("arena/ConnectFour-v0", opponent="greedy")`.
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
    from envs.pettingzoo_env import ArenaAECEnv

    return ArenaAECEnv(make_game(name, **options), render_mode=render_mode)


def _gym_entry(game_name: str):
    def make(**kwargs: Any):
        from envs.gym_env import ArenaGymEnv

        return ArenaGymEnv(game=game_name, **kwargs)

    make.__name__ = f"make_{game_name}"
    return make


for _id, _name in GYM_IDS.items():
    if _id not in gymnasium.registry:
        gymnasium.register(_id, entry_point=_gym_entry(_name), kwargs={"opponent": "random"})

__all__ = ["GAMES", "GYM_IDS", "ArenaError", "Game", "IllegalActionError", "State", "make_aec", "make_game"]
