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

from core.errors import ArenaError, IllegalActionError
from envs.base import Game, State
from envs.registry import GAME_REGISTRY, GAMES, GYM_IDS, GameEntry, make_aec, make_game

__all__ = [
    "GAMES",
    "GAME_REGISTRY",
    "GYM_IDS",
    "ArenaError",
    "Game",
    "GameEntry",
    "IllegalActionError",
    "State",
    "make_aec",
    "make_game",
]
