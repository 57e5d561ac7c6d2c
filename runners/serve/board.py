"""What the page needs to draw a game (no rules: the engine says what is legal and who won), and what a searching
agent thought before its move."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from core.errors import ArenaError
from runners.play import agent_value


def geometry(game: Any) -> dict[str, Any]:
    """How actions map to the board: `cells` (row * width + col, maybe a pass last) or `columns` (Connect Four)."""
    height, width = game.board_shape
    cells = height * width
    if game.num_actions in (cells, cells + 1):
        kind, pass_action = "cells", cells if game.num_actions == cells + 1 else None
    elif game.num_actions == width:
        kind, pass_action = "columns", None
    else:
        raise ArenaError(f"{game.name}: {game.num_actions} actions fit neither the cells nor the columns of the board")
    return {
        "board": [height, width],
        "actions": kind,
        "pass": pass_action,
        "labels": [game.action_to_text(a) for a in range(game.num_actions)],
    }


def board_cells(state: Any) -> list[list[int]]:
    """The owner of each cell, [H][W]: 0 or 1 for the players, -1 for empty (from the observation planes)."""
    obs = state.observation()  # [2, H, W]: the side to move, then the opponent
    mover = state.current_player()
    cells = np.full(obs.shape[1:], -1, dtype=np.int64)
    cells[obs[0] > 0.5] = mover
    cells[obs[1] > 0.5] = 1 - mover
    return cells.tolist()


def placed_cell(before: list[list[int]], after: list[list[int]]) -> list[int] | None:
    """The cell a move filled (empty before, taken after), or None for a pass."""
    for r, (row_before, row_after) in enumerate(zip(before, after, strict=True)):
        for c, (a, b) in enumerate(zip(row_before, row_after, strict=True)):
            if a == -1 and b != -1:
                return [r, c]
    return None


def outcome(state: Any) -> dict[str, Any]:
    """`over` and `winner` (0, 1, or None for a draw or a game still going)."""
    if not state.is_terminal():
        return {"over": False, "winner": None}
    returns = state.returns()
    winner = None if returns[0] == returns[1] else int(np.argmax(returns))
    return {"over": True, "winner": winner}


def search_info(agent: Any, state: Any, num_actions: int) -> dict[str, Any] | None:
    """What the agent's search thought before its move in `state`: visit shares [A], value, each side's chance.

    Searching agents publish `agent.last_search` after each `act(state)`: a dict with `visits` (per action,
    shares or counts) and `value` (the mover's expected outcome in [-1, 1]), optionally `proven` (that value
    when the search proved it). An agent with only `value(state)` gives its value; others give None.
    """
    info = getattr(agent, "last_search", None)
    info = info if isinstance(info, dict) else {}
    value = info.get("value")
    if value is None:
        value = agent_value(agent, state)
    shares = None
    if info.get("visits") is not None:
        counts = np.asarray(info["visits"], dtype=np.float64).reshape(-1)
        if counts.shape == (num_actions,) and np.all(np.isfinite(counts)) and counts.sum() > 0:
            shares = [round(float(x), 4) for x in counts / counts.sum()]
    if shares is None and value is None:
        return None
    out: dict[str, Any] = {"visits": shares, "value": None, "win": None, "proven": info.get("proven") is not None}
    if value is not None and math.isfinite(float(value)):
        v = float(np.clip(value, -1.0, 1.0))
        mover = state.current_player()
        win = [0.0, 0.0]
        win[mover], win[1 - mover] = (1 + v) / 2, (1 - v) / 2  # expected score: a draw counts half
        out.update(value=round(v, 4), win=[round(w, 4) for w in win])
    return out
