"""Tournaments on the page: ledgers on disk, ratings and reports from runners.tournament, live jobs, replays."""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envs import make_game
from runners.serve.board import board_cells, geometry, outcome, placed_cell
from runners.tournament import AgentCache, Ledger, crosstable, play_pairing, ratings_rows, standings

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")  # a run dir or tournament name: one path component


_log = logging.getLogger("arena.serve")


def connected_players(records: Sequence[Any], players: Sequence[str]) -> list[str]:
    """The largest group of `players` linked by games (ratings exist only within one), in the given order."""
    parent = {p: p for p in players}

    def root(p: str) -> str:
        while parent[p] != p:
            parent[p] = parent[parent[p]]
            p = parent[p]
        return p

    played = set()
    for r in records:
        if r.first in parent and r.second in parent:
            parent[root(r.first)] = root(r.second)
            played.update((r.first, r.second))
    groups: dict[str, list[str]] = {}
    for p in players:
        if p in played:
            groups.setdefault(root(p), []).append(p)
    return max(groups.values(), key=len, default=[])


def tournament_report(records: Sequence[Any], players: Sequence[str] | None = None, points: int = 24) -> dict:
    """Elo rows with 95% intervals, the crosstable, and Elo after each of about `points` prefixes of the games."""
    if players is None:
        players = list(dict.fromkeys(p for r in records for p in (r.first, r.second)))
    field_players = connected_players(records, players)
    report: dict[str, Any] = {
        "game": records[0].game if records else None,
        "games": len(records),
        "players": list(players),
        "unrated": [p for p in players if p not in field_players],
        "anchor": None,
        "ratings": [],
        "crosstable": [],
        "history": {"games": [], "elo": {}},
    }
    if len(field_players) < 2:
        return report
    anchor = "random" if "random" in field_players else field_players[0]
    table = standings(records, field_players, anchor)
    report.update(anchor=anchor, ratings=ratings_rows(table), crosstable=crosstable(table))
    # Elo as the games came in: one fit per prefix (a few dozen small fits)
    counts = sorted({max(1, math.ceil(len(records) * k / points)) for k in range(1, points + 1)})
    elo: dict[str, list[float | None]] = {p: [] for p in field_players}
    for n in counts:
        prefix = records[:n]
        group = connected_players(prefix, field_players)
        fitted: dict[str, float] = {}
        if len(group) >= 2:
            base = anchor if anchor in group else group[0]
            ratings = standings(prefix, group, base).ratings
            fitted = {p: round(float(e), 1) for p, e in zip(ratings.players, ratings.elo, strict=True)}
        for p in field_players:
            elo[p].append(fitted.get(p))
    report["history"] = {"games": counts, "elo": elo}
    return _finite(report)


def _finite(value: Any) -> Any:
    """NaN and inf become None: JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def replay_frames(record: Any) -> dict[str, Any]:
    """Every position of a finished game, for replay: cells, the cell each move filled, and who moves next."""
    game = make_game(record.game)
    opening = game.parse_moves(record.opening)
    moves = game.parse_moves(record.moves)
    state = game.initial_state()
    cells = board_cells(state)
    frames = [{"cells": cells, "last": None, "text": "start", "to_move": state.current_player()}]
    for ply, action in enumerate([*opening, *moves]):
        mover = state.current_player()
        state = state.apply(action)
        after = board_cells(state)
        frames.append(
            {
                "cells": after,
                "last": placed_cell(cells, after),
                "text": f"{ply + 1}. {game.action_to_text(action)}" + (" (opening)" if ply < len(opening) else ""),
                "by": mover,
                "to_move": None if state.is_terminal() else state.current_player(),
            }
        )
        cells = after
    return {**geometry(game), "game": game.name, "frames": frames, "outcome": outcome(state)}


@dataclass
class TournamentJob:
    """A small tournament the page started, played in a background thread into `runs/<name>/ledger.jsonl`."""

    name: str
    folder: Path
    game_name: str
    options: dict[str, Any]
    agents: list[str]
    pairings: list[Any]
    played: int = 0
    error: str | None = None
    done: bool = False
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        """Play every pairing not yet in the ledger, one game at a time, until done or stopped."""
        try:
            game = make_game(self.game_name, **self.options)
            cache = AgentCache(game)
            ledger = Ledger(self.folder / "ledger.jsonl")
            finished = {r.id for r in ledger.records()}
            self.played = sum(p.id in finished for p in self.pairings)
            for pairing in self.pairings:
                if self.stop.is_set():
                    break
                if pairing.id in finished:
                    continue
                ledger.append(play_pairing(game, cache, pairing))
                self.played += 1
        except Exception as error:  # a failing agent ends the job with its message on the page
            _log.exception("tournament %s failed", self.name)
            self.error = str(error) or type(error).__name__
        finally:
            self.done = True

    def status(self) -> dict[str, Any]:
        """Progress for the page."""
        return {
            "running": not self.done,
            "played": self.played,
            "total": len(self.pairings),
            "error": self.error,
            "stopped": self.stop.is_set(),
            "agents": self.agents,
        }
