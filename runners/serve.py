"""`arena serve`: a local web page to play the agents, watch them compete and look at training runs.

```
arena serve                          # http://127.0.0.1:8000/
arena serve --port 0 --runs runs     # any free port; run dirs and tournament ledgers from runs/
```

- **Play**: a game, an opponent by agent spec (anything `make_agent` takes) and a side; click the board. Undo,
  new game, swap sides, copy or load the move list. After each move of a searching agent the page shows the
  visit share of every move and each side's chance (draws count half) from the search's value.
- **Watch**: a tournament ledger (`runs/<name>/ledger.jsonl`, from `arena tournament` or started on the page),
  its Elo table with 95% intervals, crosstable and rating plots, pushed to the page as games finish
  (server-sent events); any finished game replays move by move.
- **Runs**: every run dir under `runs/` with its curves from `metrics.jsonl`.

The page is plain HTML/JS in `runners/web/` (no build step, nothing from the internet). Every rule stays on the
server: the page draws the cells, legal moves and results the game engine reports. Agents think in a worker
thread, so a long search leaves the page responsive. User errors (an illegal move, an unknown spec, a malformed
request) come back as `{"error": message}` with a 4xx status; agent specs may name checkpoints only under the
runs folder and `models/`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import math
import re
import socket
import threading
import time
import uuid
import webbrowser
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import uvicorn
import yaml
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from agents import parse_spec
from agents.matches import GameRecord
from agents.solvers import SOLVERS
from core.errors import ArenaError
from envs import GAMES, GYM_IDS, make_game
from runners.play import agent_value
from runners.plot import read_metrics
from runners.tournament import AgentCache, Ledger, crosstable, play_pairing, ratings_rows, schedule, standings

WEB_DIR = Path(__file__).with_name("web")
"""The page: index.html, app.js, style.css (installed as package data)."""

MAX_SESSIONS = 32
"""Play sessions kept at once; the oldest is dropped beyond this (each may hold a net)."""

GRACE_SECONDS = 5
"""On Ctrl-C, requests still running (a long search) get this long before they are cut."""

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")  # a run dir or tournament name: one path component
_log = logging.getLogger("arena.serve")


# ---------------------------------------------------------------------------------------------------------------
# What the page needs to draw a game (no rules: the engine says what is legal and who won)


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


# ---------------------------------------------------------------------------------------------------------------
# What a searching agent thought


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


# ---------------------------------------------------------------------------------------------------------------
# Agent specs: only checkpoints under the runs folder and models/


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


# ---------------------------------------------------------------------------------------------------------------
# Play sessions


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


# ---------------------------------------------------------------------------------------------------------------
# Tournaments: ledgers on disk, ratings from runners.tournament


def read_records(path: Path) -> list[Any]:
    """The complete records of a ledger file, without touching it.

    `Ledger(path)` repairs a partial last line by truncating the file, which a reader must not do while
    `arena tournament` in another process is writing that line.
    """
    if not path.is_file():
        return []
    out = []
    with open(path) as handle:
        for line in handle:
            try:
                out.append(GameRecord(**json.loads(line)))
            except (json.JSONDecodeError, TypeError):
                continue
    return out


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


# ---------------------------------------------------------------------------------------------------------------
# Requests


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is an error, not silently ignored


class NewGame(_Body):
    """Start a game: `human` 0 moves first; `moves` (optional) is a move list to start from."""

    game: str
    opponent: str = ""
    human: int = Field(0, ge=0, le=1)
    options: dict[str, int | float | str | bool] = {}
    moves: str = ""


class Move(_Body):
    """A move by action index (`action`) or in the game's notation (`move`, e.g. `4`, `d3`, `h8`)."""

    action: int | None = None
    move: str | None = None


class LoadMoves(_Body):
    """A move list in the game's notation, played from the start."""

    moves: str


class Restart(_Body):
    """A new game with the same opponent; `human` switches sides if given."""

    human: int | None = Field(None, ge=0, le=1)


class StartTournament(_Body):
    """A small round robin started from the page."""

    game: str
    agents: list[str] = Field(min_length=2, max_length=8)
    games: int = Field(4, ge=2, le=200)
    name: str | None = None
    opening_plies: int = Field(2, ge=0, le=8)
    options: dict[str, int | float | str | bool] = {}


# ---------------------------------------------------------------------------------------------------------------
# The app


DEFAULT_OPPONENTS = {
    "tictactoe": "solver",
    "connect_four": "az:connect_four,sims=200",
    "othello": "minimax:depth=3",
    "gomoku": "mcts:sims=300",
}
"""What the page offers first for each game (a strong, quick opponent)."""


def run_game(config: dict[str, Any]) -> str | None:
    """The board game a run's config trained on (`game:` for AlphaZero, a Gymnasium id for PPO/DQN), if any."""
    env = config.get("env")
    name = config.get("game") or GYM_IDS.get(env.get("id") if isinstance(env, dict) else None)
    return name if name in GAMES else None


def suggested_opponents(game_name: str, models_dir: Path, runs_dir: Path) -> list[str]:
    """Specs worth offering for a game: classic players, its solver, shipped nets and trained runs."""
    specs = [DEFAULT_OPPONENTS.get(game_name, "random"), "random", "greedy", "minimax:depth=4", "mcts:sims=500"]
    if game_name in SOLVERS:
        specs.append("solver")
    if (models_dir / f"{game_name}.pt").is_file():
        specs += [f"az:{game_name},sims=50", f"az:{game_name},sims=400"]
    for run in sorted(runs_dir.glob("*/config.yaml")) if runs_dir.is_dir() else []:
        try:
            config = yaml.safe_load(run.read_text()) or {}
        except (OSError, yaml.YAMLError):
            continue
        if run_game(config) == game_name and config.get("algo") in ("az", "ppo", "dqn"):
            specs.append(f"{config['algo']}:{run.parent.as_posix()}")
    return list(dict.fromkeys(specs))


def create_app(runs_dir: Path = Path("runs"), models_dir: Path | None = None) -> FastAPI:
    """The web app; checkpoints may come only from `runs_dir` and `models_dir` (default: the shipped `models/`)."""
    if models_dir is None:
        from algorithms.alphazero import MODELS_DIR  # why: loads torch; the URL prints before it

        models_dir = MODELS_DIR
    runs_dir, models_dir = Path(runs_dir), Path(models_dir)
    roots = [runs_dir, models_dir]
    sessions: OrderedDict[str, PlaySession] = OrderedDict()
    jobs: dict[str, TournamentJob] = {}
    app = FastAPI(title="arena", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.sessions, app.state.jobs = sessions, jobs
    app.state.closing = threading.Event()  # set on shutdown: live feeds end instead of holding the server up

    # -- errors: one message, a 4xx status, never a traceback -----------------------------------------------

    @app.exception_handler(ArenaError)
    async def _arena_error(request: Request, error: ArenaError) -> JSONResponse:
        return JSONResponse({"error": str(error)}, status_code=400)

    @app.exception_handler(Refused)
    async def _refused(request: Request, error: Refused) -> JSONResponse:
        return JSONResponse({"error": str(error)}, status_code=403)

    @app.exception_handler(Conflict)
    async def _conflict(request: Request, error: Conflict) -> JSONResponse:
        return JSONResponse({"error": str(error)}, status_code=409)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(error.detail)}, status_code=error.status_code)

    @app.exception_handler(Exception)
    async def _bug(request: Request, error: Exception) -> JSONResponse:
        # a bug, not the user's doing: the page still gets one line (the server's log has the traceback)
        return JSONResponse({"error": f"internal error: {type(error).__name__}: {error}"}, status_code=500)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = []
        for item in error.errors():
            where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
            kind, message = item.get("type", ""), str(item.get("msg", "invalid"))
            if kind == "json_invalid":
                where, message = "", "the body is not valid JSON"  # its loc is a character offset
            elif kind == "extra_forbidden":
                message = "no such field"
            elif not where and kind in ("model_attributes_type", "dict_type"):
                message = "the body must be a JSON object"
            problems.append(f"{where}: {message}" if where else message)
        return JSONResponse({"error": "malformed request: " + "; ".join(problems)}, status_code=422)

    # -- helpers ------------------------------------------------------------------------------------------------

    def build_agent(spec: str, game: Any) -> Any:
        from algorithms.registry import make_agent  # why: loads torch; the URL prints before it

        spec = spec.strip()
        if not spec:
            raise ArenaError("no agent spec given (e.g. random, minimax:depth=4, az:connect_four,sims=200)")
        check_spec_paths(spec, roots, models_dir)
        return make_agent(spec, game)

    def build_game(name: str, options: dict[str, Any]) -> Any:
        try:
            return make_game(name, **options)
        except TypeError as error:  # an option the game's constructor does not take
            raise ArenaError(f"bad options for {name}: {error}") from None

    def session(session_id: str) -> PlaySession:
        if session_id not in sessions:
            raise HTTPException(404, f"no game {session_id!r} (the server may have restarted): start a new game")
        sessions.move_to_end(session_id)
        return sessions[session_id]

    async def locked(play: PlaySession, work: Any, *, thread: bool = False) -> dict[str, Any]:
        """Run `work()` holding the session's lock (409 if a search holds it), in a worker thread if asked."""
        if not play.lock.acquire(blocking=False):
            raise Conflict(f"{play.agent.name} is still thinking; wait for its move")
        try:
            if thread:
                await anyio.to_thread.run_sync(work)
            else:
                work()
            return play.view()
        finally:
            play.lock.release()

    def run_folder(name: str) -> Path:
        if not _NAME.match(name):
            raise ArenaError(f"bad name {name!r}: use letters, digits, '_', '-' and '.' (one folder, no '/')")
        return runs_dir / name

    # -- pages ----------------------------------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html")

    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")

    # -- play -----------------------------------------------------------------------------------------------

    @app.get("/api/games")
    async def games() -> dict[str, Any]:
        out = []
        for name in GAMES:
            game = make_game(name)
            out.append(
                {
                    "name": name,
                    **geometry(game),
                    "options": dict(game.options),
                    "default": DEFAULT_OPPONENTS.get(name, "random"),
                    "opponents": suggested_opponents(name, models_dir, runs_dir),
                }
            )
        return {"games": out}

    @app.post("/api/play")
    async def new_game(body: NewGame) -> dict[str, Any]:
        game = build_game(body.game, body.options)
        spec = body.opponent.strip() or DEFAULT_OPPONENTS.get(game.name, "random")
        moves = game.parse_moves(body.moves) if body.moves.strip() else []
        # building an agent may load a checkpoint (and torch): not on the event loop
        agent = await anyio.to_thread.run_sync(build_agent, spec, game)
        play = PlaySession(uuid.uuid4().hex[:12], game, spec, agent, body.human, [game.initial_state()])
        play.restart(moves)
        sessions[play.id] = play
        while len(sessions) > MAX_SESSIONS:
            sessions.popitem(last=False)
        return play.view()

    @app.get("/api/play/{session_id}")
    async def show_game(session_id: str) -> dict[str, Any]:
        return session(session_id).view()

    @app.post("/api/play/{session_id}/move")
    async def human_move(session_id: str, body: Move) -> dict[str, Any]:
        play = session(session_id)
        if (body.action is None) == (body.move is None):
            raise ArenaError("give one of `action` (an index) or `move` (in the game's notation)")
        if body.move is not None:
            actions = play.game.parse_moves(body.move)
            if len(actions) != 1:
                raise ArenaError(f"give one move, not {len(actions)}: {body.move!r}")
            action = actions[0]
        else:
            action = int(body.action)  # type: ignore[arg-type]
        return await locked(play, lambda: play.play(action))

    @app.post("/api/play/{session_id}/agent")
    async def agent_move(session_id: str) -> dict[str, Any]:
        play = session(session_id)
        return await locked(play, play.agent_move, thread=True)

    @app.post("/api/play/{session_id}/undo")
    async def undo(session_id: str) -> dict[str, Any]:
        play = session(session_id)
        return await locked(play, play.undo)

    @app.post("/api/play/{session_id}/swap")
    async def swap(session_id: str) -> dict[str, Any]:
        play = session(session_id)

        def change() -> None:
            play.human = 1 - play.human

        return await locked(play, change)

    @app.post("/api/play/{session_id}/new")
    async def restart(session_id: str, body: Restart | None = None) -> dict[str, Any]:
        play = session(session_id)

        def change() -> None:
            if body is not None and body.human is not None:
                play.human = body.human
            play.restart()

        return await locked(play, change)

    @app.post("/api/play/{session_id}/load")
    async def load(session_id: str, body: LoadMoves) -> dict[str, Any]:
        play = session(session_id)
        # parse and check the whole list before changing anything
        moves = play.game.parse_moves(body.moves)
        play.game.state_from_moves(moves)
        return await locked(play, lambda: play.restart(moves))

    # -- watch ----------------------------------------------------------------------------------------------

    @app.get("/api/tournaments")
    async def tournaments() -> dict[str, Any]:
        found = []
        for path in sorted(runs_dir.glob("*/ledger.jsonl"), key=lambda p: p.stat().st_mtime, reverse=True):
            name = path.parent.name
            job = jobs.get(name)
            found.append({"name": name, "modified": path.stat().st_mtime, "running": bool(job and not job.done)})
        for name, job in jobs.items():  # started but no game finished yet
            if not (runs_dir / name / "ledger.jsonl").is_file():
                found.insert(0, {"name": name, "modified": time.time(), "running": not job.done})
        return {"tournaments": found}

    def report(name: str) -> dict[str, Any]:
        folder = run_folder(name)
        job = jobs.get(name)
        if job is None and not (folder / "ledger.jsonl").is_file():
            raise HTTPException(404, f"no tournament ledger at {folder / 'ledger.jsonl'}")
        records = read_records(folder / "ledger.jsonl")
        if job is not None:
            wanted = {p.id for p in job.pairings}
            records = [r for r in records if r.id in wanted]
        out = tournament_report(records, job.agents if job else None)
        out.update(name=name, job=job.status() if job else None)
        return out

    @app.get("/api/tournaments/{name}")
    async def show_tournament(name: str) -> dict[str, Any]:
        return await anyio.to_thread.run_sync(report, name)

    @app.get("/api/tournaments/{name}/games")
    async def tournament_games(name: str, since: int = 0) -> dict[str, Any]:
        folder = run_folder(name)
        if not (folder / "ledger.jsonl").is_file():
            return {"games": []}
        records = read_records(folder / "ledger.jsonl")
        rows = [
            {"index": i, "first": r.first, "second": r.second, "result": r.result, "plies": r.plies}
            for i, r in enumerate(records)
        ]
        return {"games": rows[max(0, since) :]}

    @app.get("/api/tournaments/{name}/games/{index}")
    async def replay(name: str, index: int) -> dict[str, Any]:
        records = read_records(run_folder(name) / "ledger.jsonl")
        if not 0 <= index < len(records):
            raise HTTPException(404, f"no game {index} in {name} ({len(records)} games)")
        record = records[index]
        return {"record": record.__dict__, **replay_frames(record)}

    @app.get("/api/tournaments/{name}/events")
    async def tournament_events(name: str, request: Request, poll: float = 0.5) -> StreamingResponse:
        first = await anyio.to_thread.run_sync(report, name)  # a 404 or 400 before the stream starts
        ledger = run_folder(name) / "ledger.jsonl"
        poll = min(max(poll, 0.05), 10.0)

        async def stream() -> AsyncIterator[str]:
            payload, quiet = first, 0.0
            seen: Any = None
            while True:
                job = jobs.get(name)
                finished = job is not None and job.done  # read before the ledger, so its last game is in the stamp
                stamp = (_stamp(ledger), job.status() if job else None)
                if stamp != seen:
                    if seen is not None:
                        payload = await anyio.to_thread.run_sync(report, name)
                    seen, quiet = stamp, 0.0
                    yield f"event: standings\ndata: {json.dumps(payload)}\n\n"
                if finished:
                    yield "event: done\ndata: {}\n\n"  # the page's own tournament ended: nothing more will come
                    return
                if app.state.closing.is_set() or await request.is_disconnected():
                    return
                await asyncio.sleep(poll)
                quiet += poll
                if quiet >= 15:  # a comment now and then keeps proxies and browsers from closing the stream
                    quiet = 0.0
                    yield ": still watching\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @app.post("/api/tournaments")
    async def start_tournament(body: StartTournament) -> dict[str, Any]:
        game = build_game(body.game, body.options)
        agents = [a.strip() for a in body.agents if a.strip()]
        for spec in agents:  # a bad spec fails now, with its message, not in the thread later
            await anyio.to_thread.run_sync(build_agent, spec, game)
        name = body.name or f"web-{game.name}-{time.strftime('%Y%m%d-%H%M%S')}"
        folder = run_folder(name)
        if name in jobs and not jobs[name].done:
            raise Conflict(f"tournament {name} is still running")
        pairings = schedule(game, agents, body.games, opening_plies=body.opening_plies, seed=0)
        job = TournamentJob(name, folder, game.name, dict(body.options), agents, pairings)
        jobs[name] = job
        threading.Thread(target=job.run, name=f"tournament-{name}", daemon=True).start()
        return {"name": name, **job.status()}

    @app.post("/api/tournaments/{name}/stop")
    async def stop_tournament(name: str) -> dict[str, Any]:
        if name not in jobs:
            raise HTTPException(404, f"no tournament {name!r} was started here")
        jobs[name].stop.set()
        return {"name": name, **jobs[name].status()}

    # -- runs -----------------------------------------------------------------------------------------------

    @app.get("/api/runs")
    async def runs() -> dict[str, Any]:
        found = []
        for metrics in runs_dir.glob("*/metrics.jsonl") if runs_dir.is_dir() else []:
            folder = metrics.parent
            config: dict[str, Any] = {}
            with contextlib.suppress(OSError, yaml.YAMLError):  # a run without a readable config is still listed
                config = yaml.safe_load((folder / "config.yaml").read_text()) or {}
            checkpoints = sorted((folder / "checkpoints").glob("*.pt")) if (folder / "checkpoints").is_dir() else []
            algo, game = config.get("algo"), run_game(config)
            playable = algo in ("az", "ppo", "dqn") and bool(checkpoints) and game is not None
            found.append(
                {
                    "name": folder.name,
                    "algo": algo,
                    "game": game,
                    "modified": metrics.stat().st_mtime,
                    "checkpoints": len(checkpoints),
                    "spec": f"{algo}:{folder.as_posix()}" if playable else None,  # as make_agent finds it from here
                }
            )
        found.sort(key=lambda r: r["modified"], reverse=True)
        return {"runs": found, "folder": str(runs_dir)}

    @app.get("/api/runs/{name}")
    async def run_metrics(name: str, points: int = 400) -> dict[str, Any]:
        metrics = run_folder(name) / "metrics.jsonl"
        if not metrics.is_file():
            raise HTTPException(404, f"no metrics.jsonl in {run_folder(name)}")
        series = await anyio.to_thread.run_sync(read_metrics, metrics)
        out = {}
        for key, (steps, values) in sorted(series.items()):
            keep = _thin(len(steps), max(points, 10))
            out[key] = {"steps": [steps[i] for i in keep], "values": [values[i] for i in keep]}
        return {"name": name, "series": _finite(out)}

    return app


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


def _thin(n: int, points: int) -> list[int]:
    """At most `points` indices of `n`, evenly spread, first and last kept."""
    if n <= points:
        return list(range(n))
    return sorted({round(i * (n - 1) / (points - 1)) for i in range(points)})


# ---------------------------------------------------------------------------------------------------------------
# Serving


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0 picks a free one); a taken port is a one-line ArenaError."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise ArenaError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    """`http://host:port/` of a bound socket."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def make_server(app: FastAPI, **config: Any) -> uvicorn.Server:
    """A uvicorn server that, on Ctrl-C, first tells the live feeds to end (they never end by themselves)."""

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            app.state.closing.set()
            super().handle_exit(sig, frame)

    options = {"log_level": "warning", "timeout_graceful_shutdown": GRACE_SECONDS, **config}
    return Server(uvicorn.Config(app, **options))


class ServerThread:
    """The app served from a background thread (for tests and notebooks): `with ServerThread(app) as url: ...`."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sock = bind(host, port)
        self.url = url_of(self.sock)
        self.app = app
        self.server = make_server(app, lifespan="off")
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        for _ in itertools.repeat(None, 200):
            if self.server.started:
                break
            time.sleep(0.05)
        return self.url

    def __exit__(self, *exc: object) -> None:
        self.app.state.closing.set()
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `arena serve`."""
    parser.description = (
        "Serve a local web page to play any agent by clicking the board (with what its search thought), "
        "watch tournaments fill in live (Elo with 95% intervals, crosstable, replays), and see runs' curves."
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 opens it to the network)",
    )
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    parser.add_argument(
        "--runs",
        type=Path,
        default=Path("runs"),
        metavar="DIR",
        help="folder of run dirs and tournament ledgers (default runs/); agent specs may name checkpoints only "
        "here and under the shipped models/",
    )
    parser.add_argument("--open", action="store_true", help="open the page in the default web browser")


def main(args: argparse.Namespace) -> int:
    """Bind, print the URL, serve until Ctrl-C."""
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"arena serve: warning: listening on {args.host}: anyone who can reach it can run agents here")
    sock = bind(args.host, args.port)
    url = url_of(sock)
    # the URL first: the socket already queues connections while the app (and torch) load
    print(f"arena serve: {url}  (runs from {args.runs}/; Ctrl-C stops)", flush=True)
    app = create_app(args.runs)
    if args.open:
        webbrowser.open(url)
    make_server(app).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    from runners.cli import run_module

    raise SystemExit(run_module("serve"))
