"""The web app: request bodies, the JSON API (play, watch, runs) and the static page."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import yaml
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from agents.solvers import SOLVERS
from core.errors import ArenaError
from envs import GAMES, GYM_IDS, make_game
from runners.plot import read_metrics
from runners.serve.board import geometry
from runners.serve.sessions import MAX_SESSIONS, Conflict, PlaySession, Refused, check_spec_paths
from runners.serve.tournaments import _NAME, TournamentJob, _finite, replay_frames, tournament_report
from runners.tournament import read_records, schedule

WEB_DIR = Path(__file__).resolve().parents[1] / "web"
"""The page: index.html, app.js, style.css (installed as package data)."""


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
                    if seen is not None or finished:  # a job that ended before the stream began: not `first`
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
