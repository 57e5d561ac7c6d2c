"""Play sessions: one game of a person against an agent, thought in a worker thread; agent specs that may name
checkpoints only under the runs folder and models/."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents import parse_spec
from core.errors import ArenaError
from runners.serve.board import board_cells, geometry, outcome, placed_cell, search_info

MAX_SESSIONS = 32
"""Play sessions kept at once; the oldest is dropped beyond this (each may hold a net)."""


GRACE_SECONDS = 5
"""On Ctrl-C, requests still running (a long search) get this long before they are cut."""


def check_spec_paths(spec: str, roots: Sequence[Path], models_dir: Path) -> None:
    """Raise `Refused` when a path in the agent spec leads outside `roots`; a malformed spec raises ArenaError."""
    from core.checkpoint import resolve_checkpoint_path  # why: loads torch; the URL prints before it

    _, args, kwargs = parse_spec(spec)
    values = [a for a in args if isinstance(a, str)]
    values += [v for k, v in kwargs.items() if isinstance(v, str) and (k == "path" or _looks_like_path(v))]
    allowed = [root.resolve() for root in roots]

    def check(path: Path, value: str) -> None:
        if not any(path.is_relative_to(root) for root in allowed):
            where = " or ".join(f"{root}/" for root in roots)
            raise Refused(f"agent specs may name checkpoints only under {where}: {value!r} is outside")

    for value in values:
        path = Path(value).expanduser()
        if re.fullmatch(r"[A-Za-z0-9_\-]+", value) and (models_dir / f"{value}.pt").is_file() and not path.exists():
            continue  # a shipped model by name (`az:connect_four`), not a file or folder of that name here
        check(path.resolve(), value)
        # the file finally loaded counts too: a `latest` pointer could name a file elsewhere
        with contextlib.suppress(ArenaError):
            check(resolve_checkpoint_path(path.resolve()).resolve(), value)


def _looks_like_path(value: str) -> bool:
    return "/" in value or "\\" in value or ".." in value or value.startswith("~") or value.endswith(".pt")


@dataclass
class PlaySession:
    """One human-against-agent game: positions from the start, and what the agent's search saw at each ply."""

    id: str
    game: Any
    spec: str
    agent: Any
    human: int
    history: list[Any]
    searches: dict[int, dict[str, Any]] = field(default_factory=dict)  # ply -> search before move `ply`
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def state(self) -> Any:
        """The current position."""
        return self.history[-1]

    def restart(self, moves: Sequence[int] = ()) -> None:
        """Back to the start (then play `moves`): the agent forgets the old game."""
        history = [self.game.initial_state()]
        for action in moves:
            history.append(history[-1].apply(action))
        self.history, self.searches = history, {}
        self.agent.reset()

    def play(self, action: int) -> None:
        """The human's move; refused when it is the agent's turn, and by the rules when illegal."""
        if self.state.is_terminal():
            raise ArenaError(f"the game is over ({self.result_text()}); start a new game or undo")
        if self.state.current_player() != self.human:
            raise Conflict(f"it is {self.agent.name}'s turn, not yours")
        self.history.append(self.state.apply(int(action)))

    def agent_move(self) -> None:
        """The agent thinks and moves (call from a worker thread: a search may take seconds)."""
        state = self.state
        if state.is_terminal():
            raise Conflict("the game is over")
        if state.current_player() == self.human:
            raise Conflict("it is your turn, not the agent's")
        action = int(self.agent.act(state))
        info = search_info(self.agent, state, self.game.num_actions)
        try:
            after = state.apply(action)
        except ArenaError as error:
            raise ArenaError(f"agent {self.agent.name} played an illegal move: {error}") from None
        if info is not None:
            self.searches[len(self.history) - 1] = {**info, "by": state.current_player(), "played": action}
        self.history.append(after)

    def undo(self) -> None:
        """Back to the previous position where the human was to move (the agent's reply goes too)."""
        for ply in range(len(self.history) - 2, -1, -1):
            if self.history[ply].current_player() == self.human:
                del self.history[ply + 1 :]
                self.searches = {p: s for p, s in self.searches.items() if p < ply}
                return
        raise ArenaError("nothing to undo: you have not moved yet")

    def result_text(self) -> str:
        """`draw`, `you win`, `<agent> wins`, or `playing`."""
        result = outcome(self.state)
        if not result["over"]:
            return "playing"
        if result["winner"] is None:
            return "draw"
        return "you win" if result["winner"] == self.human else f"{self.agent.name} wins"

    def view(self) -> dict[str, Any]:
        """Everything the page draws: board, turn, last move, result, the latest search, the move list."""
        state = self.state
        cells = board_cells(state)
        last = None
        if state.moves:
            action = int(state.moves[-1])
            previous = board_cells(self.history[-2]) if len(self.history) > 1 else None
            last = {
                "action": action,
                "text": self.game.action_to_text(action),
                "cell": placed_cell(previous, cells) if previous is not None else None,
                "by": self.history[-2].current_player() if len(self.history) > 1 else None,
            }
        # the newest search still on the board (after an undo, an older one)
        ply = max(self.searches, default=None)
        search = {**self.searches[ply], "ply": ply} if ply is not None else None
        return {
            "id": self.id,
            "game": self.game.name,
            "options": dict(self.game.options),
            **geometry(self.game),
            "opponent": self.spec,
            "agent": self.agent.name,
            "human": self.human,
            "to_move": None if state.is_terminal() else state.current_player(),
            **outcome(state),
            "result": self.result_text(),
            "cells": cells,
            "legal": [int(a) for a in state.legal_actions()],
            "last": last,
            "search": search,
            "moves": self.game.moves_to_text(state.moves),
            "plies": len(state.moves),
            "text": str(state),
        }


class Conflict(Exception):
    """A request that is fine in itself but not now (the agent's turn, a search still running): HTTP 409."""


class Refused(ArenaError):
    """A request for something the server does not hand out (a checkpoint outside the allowed folders): HTTP 403."""
