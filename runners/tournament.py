"""`arena tournament`: any agents play each other; results go to a ledger, then to Elo ratings with error bars.

```
arena tournament --game connect_four --agents random greedy minimax:depth=4 --games 100
arena tournament --game tictactoe --agents random greedy minimax:depth=2 --gauntlet minimax:depth=2
mpirun -n 4 arena tournament ...          # games spread over ranks; without MPI, --workers processes
```

Every pair plays `--games` games, half with each colour. Games come in colour-swapped pairs that share an
opening (a few random plies, or a line of `--openings FILE`), so deterministic agents do not replay one game
and neither side is favoured by the opening. Each finished game is appended to `ledger.jsonl` at once; running
the same command again continues where it stopped and never replays a finished game.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import multiprocessing
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from rich.console import Console
from rich.table import Table

from agents.base import Agent
from agents.matches import GameRecord, Pairing, play_lockstep, play_pairing, random_opening, read_openings
from agents.ratings import Ratings, fit_ratings, pair_elo
from core.config import TrackingConfig
from core.device import mpi_world
from core.errors import ArenaError
from core.progress import ProgressBar
from core.tracking import Tracker
from envs import make_game
from envs.base import Game

# ---------------------------------------------------------------------------------------------------------------
# Scheduling


def schedule(
    game: Any,
    agents: Sequence[str],
    games_per_pair: int,
    *,
    gauntlet: str | None = None,
    opening_plies: int = 2,
    openings: Sequence[tuple[int, ...]] | None = None,
    seed: int = 0,
) -> list[Pairing]:
    """Every game of a round robin (or a gauntlet of one candidate against the field), in a fixed order."""
    if len(set(agents)) != len(agents):
        raise ArenaError(f"an agent is listed twice: {' '.join(agents)}")
    if games_per_pair < 2 or games_per_pair % 2:
        raise ArenaError(
            f"--games must be even and at least 2 (each opening is played with both colours), got {games_per_pair}"
        )
    if gauntlet is not None and gauntlet not in agents:
        agents = [gauntlet, *agents]
    pairs = [(a, b) for i, a in enumerate(agents) for b in agents[i + 1 :]]
    if gauntlet is not None:
        pairs = [(a, b) for a, b in pairs if gauntlet in (a, b)]
    if not pairs:
        raise ArenaError("a tournament needs at least two agents")
    rng = np.random.default_rng(seed)
    openings_needed = games_per_pair // 2
    # one opening list for every pair: each pair meets the same positions, which keeps the crosstable fair
    chosen = (
        [openings[k % len(openings)] for k in range(openings_needed)]
        if openings
        else [random_opening(game, opening_plies, rng) for _ in range(openings_needed)]
    )
    out = []
    for a, b in pairs:
        for k, opening in enumerate(chosen):
            # the id names everything that decides the game, so a ledger resumed under another --seed (or other
            # openings) plays new games instead of counting the old ones
            where = f"s{seed}:{''.join(map(str, opening))}"
            for first, second, colour in ((a, b, "a"), (b, a, "b")):
                game_seed = int(np.random.default_rng([seed, k, _stable_hash(a, b)]).integers(2**31))
                out.append(Pairing(f"{a}|{b}|{k}{colour}|{where}", first, second, opening, game_seed))
    return out


def _stable_hash(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("\0".join(parts).encode()).digest()[:4], "little")


# ---------------------------------------------------------------------------------------------------------------
# Playing


class AgentCache(dict):
    """Agents built once per process from their spec strings (any kind `make_agent` knows)."""

    def __init__(self, game: Game) -> None:
        super().__init__()
        self.game = game

    def __missing__(self, spec: str) -> Agent:
        self[spec] = agent = make_agent(spec, self.game)
        return agent


def make_agent(spec: str, game: Game) -> Agent:
    """An agent of any kind, classic or trained (`algorithms.registry.make_agent`)."""
    from algorithms.registry import make_agent as make  # why: loads torch, which classic agents never need

    return make(spec, game)


# ---------------------------------------------------------------------------------------------------------------
# The ledger


def read_records(path: Path) -> list[GameRecord]:
    """The complete records of a ledger file, in the order played, without touching the file (a partial last
    line, which another process may be writing, is passed over)."""
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


class Ledger:
    """Append-only JSONL of finished games; a partial last line (a kill mid-write) is ignored on reading."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._repair_tail()

    def _repair_tail(self) -> None:
        """Cut a partial last line (a kill mid-write), so the next record starts on a line of its own."""
        if not self.path.is_file():
            return
        with open(self.path, "rb+") as handle:
            data = handle.read()
            if data and not data.endswith(b"\n"):
                handle.truncate(data.rfind(b"\n") + 1)

    def records(self) -> list[GameRecord]:
        """Every complete record, in the order played."""
        return read_records(self.path)

    def append(self, record: GameRecord) -> None:
        """Add one game, durably: it will not be replayed after a crash."""
        with open(self.path, "a") as handle:
            handle.write(json.dumps(asdict(record)) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def play_schedule(
    game_name: str,
    game_options: dict,
    pairings: list[Pairing],
    ledger: Ledger,
    workers: int,
    show_progress: bool = True,
) -> None:
    """Play every pairing not already in the ledger: over MPI ranks when launched by mpirun, else worker processes."""
    comm = mpi_world()
    done = {r.id for r in ledger.records()}
    todo = [p for p in pairings if p.id not in done]
    if comm is not None and comm.Get_size() > 1:
        _play_mpi(comm, game_name, game_options, todo, ledger)
        return
    with ProgressBar(
        len(pairings), "games", completed=len(pairings) - len(todo), enabled=None if show_progress else False
    ) as bar:
        for record in _play_local(game_name, game_options, todo, workers):
            ledger.append(record)
            bar.update(1)


LOCKSTEP_GAMES = 50
"""Games a process plays at once when an agent searches in batches (each chunk is written to the ledger)."""


def _batched(game: Any, cache: AgentCache, todo: Sequence[Pairing]) -> bool:
    return any(hasattr(cache[spec], "act_batch") for spec in {s for p in todo for s in (p.first, p.second)})


def _play_local(game_name: str, options: dict, todo: list[Pairing], workers: int) -> Iterable[GameRecord]:
    game = make_game(game_name, **options)
    cache = AgentCache(game)
    lockstep = bool(todo) and _batched(game, cache, todo)
    chunks = [todo[i : i + LOCKSTEP_GAMES] for i in range(0, len(todo), LOCKSTEP_GAMES)] if lockstep else []
    if workers <= 1 or len(todo) < 2:
        if lockstep:
            for chunk in chunks:
                yield from play_lockstep(game, cache, chunk)
            return
        for pairing in todo:
            yield play_pairing(game, cache, pairing)
        return
    # spawn, not fork: torch and threads in the parent do not survive a fork cleanly
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=_worker_init, initargs=(game_name, options)) as pool:
        if lockstep:
            for records in pool.imap_unordered(_worker_play_lockstep, chunks):
                yield from records
        else:
            yield from pool.imap_unordered(_worker_play, todo)


_WORKER: dict[str, Any] = {}


def _worker_init(game_name: str, options: dict) -> None:
    import torch  # why: a worker sets its torch threads; torch loads only in workers

    torch.set_num_threads(1)
    game = make_game(game_name, **options)
    _WORKER.update(game=game, cache=AgentCache(game))


def _worker_play(pairing: Pairing) -> GameRecord:
    return play_pairing(_WORKER["game"], _WORKER["cache"], pairing)


def _worker_play_lockstep(pairings: list[Pairing]) -> list[GameRecord]:
    return play_lockstep(_WORKER["game"], _WORKER["cache"], pairings)


def _play_mpi(comm: Any, game_name: str, options: dict, todo: list[Pairing], ledger: Ledger) -> None:
    """Rank r plays games r, r+size, ...; every rank sends each result to rank 0, which writes the ledger."""
    import torch  # why: a worker sets its torch threads; torch loads only in workers

    torch.set_num_threads(1)
    rank, size = comm.Get_rank(), comm.Get_size()
    game = make_game(game_name, **options)
    cache = AgentCache(game)
    mine = todo[rank::size]
    if rank != 0:
        for pairing in mine:
            comm.send(asdict(play_pairing(game, cache, pairing)), dest=0, tag=11)
        return
    expected = len(todo)
    written = 0
    for pairing in mine:
        ledger.append(play_pairing(game, cache, pairing))
        written += 1
        while comm.iprobe(tag=11):
            ledger.append(GameRecord(**comm.recv(tag=11)))
            written += 1
    while written < expected:
        ledger.append(GameRecord(**comm.recv(tag=11)))
        written += 1


# ---------------------------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Standings:
    """Per-pair results and the fitted ratings of one ledger."""

    players: tuple[str, ...]
    wins: np.ndarray  # [P, P] games i won against j
    draws: np.ndarray  # [P, P]
    ratings: Ratings

    def pair(self, a: str, b: str) -> tuple[int, int, int]:
        """(wins, losses, draws) of a against b."""
        i, j = self.players.index(a), self.players.index(b)
        return int(self.wins[i, j]), int(self.wins[j, i]), int(self.draws[i, j])


def standings(
    records: Sequence[GameRecord], players: Sequence[str], anchor: str | None, anchor_elo: float = 0.0
) -> Standings:
    """Count results per pair and fit ratings."""
    players = tuple(players)
    index = {p: i for i, p in enumerate(players)}
    n = len(players)
    wins, draws = np.zeros((n, n)), np.zeros((n, n))
    for record in records:
        if record.first not in index or record.second not in index:
            continue
        i, j = index[record.first], index[record.second]
        if record.score == 1.0:
            wins[i, j] += 1
        elif record.score == 0.0:
            wins[j, i] += 1
        else:
            draws[i, j] += 1
            draws[j, i] += 1
    scores = wins + draws / 2
    games = wins + wins.T + draws
    ratings = fit_ratings(players, scores, games, anchor=anchor, anchor_elo=anchor_elo)
    return Standings(players, wins, draws, ratings)


def ratings_rows(table: Standings) -> list[dict[str, Any]]:
    """One row per player, strongest first: rank, name, Elo, 95% interval, games, score, LOS over the next."""
    ratings = table.ratings
    order = ratings.order()
    rows = []
    for rank, i in enumerate(order, 1):
        games = int(table.wins[i].sum() + table.wins[:, i].sum() + table.draws[i].sum())
        points = table.wins[i].sum() + table.draws[i].sum() / 2
        below = order[rank] if rank < len(order) else None
        rows.append(
            {
                "rank": rank,
                "agent": ratings.players[i],
                "elo": round(float(ratings.elo[i]), 1),
                "ci95": round(float(ratings.ci95[i]), 1),
                "games": games,
                "score": round(float(points / games), 3) if games else math.nan,
                "los_next": round(ratings.los(ratings.players[i], ratings.players[below]), 4)
                if below is not None
                else None,
            }
        )
    return rows


def crosstable(table: Standings) -> list[list[str]]:
    """Rows of `agent | score against each opponent (W-L-D)`, strongest first; header row first."""
    order = table.ratings.order()
    names = [table.players[i] for i in order]
    rows = [["agent", *names]]
    for i in order:
        row = [table.players[i]]
        for j in order:
            if i == j:
                row.append("")
                continue
            w, l, d = table.pair(table.players[i], table.players[j])
            row.append(f"{w}-{l}-{d}" if w + l + d else "")
        rows.append(row)
    return rows


def pair_lines(table: Standings) -> list[str]:
    """cutechess-style lines for every pair that met."""
    lines = []
    for i, a in enumerate(table.players):
        for b in table.players[i + 1 :]:
            w, l, d = table.pair(a, b)
            if w + l + d:
                lines += pair_elo(w, l, d).lines(a, b)
    return lines


def write_reports(table: Standings, out: Path, title: str) -> list[Path]:
    """Markdown, CSV and JSON ratings, a Markdown crosstable and a PNG of ratings with error bars."""
    rows = ratings_rows(table)
    cross = crosstable(table)
    paths = []
    md = [
        f"# {title}",
        "",
        f"Anchor: {table.ratings.anchor} = {table.ratings.elo[table.players.index(table.ratings.anchor)]:.0f}",
        "",
    ]
    md += ["| rank | agent | Elo | 95% | games | score | LOS next |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        los = "" if r["los_next"] is None else f"{100 * r['los_next']:.1f}%"
        cells = [str(r["rank"]), f"`{r['agent']}`", f"{r['elo']:.1f}", f"±{r['ci95']:.1f}", str(r["games"])]
        md.append("| " + " | ".join([*cells, f"{r['score']:.3f}", los]) + " |")
    md += ["", "## Crosstable (W-L-D of the row against the column)", ""]
    md += ["| " + " | ".join(cross[0]) + " |", "|" + "---|" * len(cross[0])]
    md += ["| " + " | ".join(row) + " |" for row in cross[1:]]
    md += ["", "## Pairs", "", "```", *pair_lines(table), "```", ""]
    paths.append(out / "ratings.md")
    paths[-1].write_text("\n".join(md))
    paths.append(out / "ratings.csv")
    with open(paths[-1], "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    paths.append(out / "ratings.json")
    paths[-1].write_text(json.dumps({"anchor": table.ratings.anchor, "ratings": rows, "crosstable": cross}, indent=2))
    paths.append(plot_ratings(rows, out / "ratings.png", title))
    return paths


def plot_ratings(rows: list[dict[str, Any]], path: Path, title: str) -> Path:
    """Horizontal bars of Elo with 95% error bars, strongest on top."""
    import matplotlib  # why: half a second to import, only for the plot

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 0.5 * len(rows) + 1.5))
    names = [r["agent"] for r in rows][::-1]
    elos = [r["elo"] for r in rows][::-1]
    errors = [r["ci95"] for r in rows][::-1]
    ax.errorbar(elos, range(len(rows)), xerr=errors, fmt="o", capsize=4)
    ax.set_yticks(range(len(rows)), names)
    ax.set_xlabel("Elo (95% interval)")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def print_report(table: Standings, title: str) -> None:
    """Ratings table, crosstable and pair lines in the terminal."""
    console = Console(highlight=False)
    ratings = Table(title=title)
    for column in ("rank", "agent", "Elo", "95%", "games", "score", "LOS next"):
        ratings.add_column(column, justify="left" if column == "agent" else "right")
    for r in ratings_rows(table):
        los = "" if r["los_next"] is None else f"{100 * r['los_next']:.1f}%"
        ratings.add_row(
            str(r["rank"]),
            r["agent"],
            f"{r['elo']:.1f}",
            f"±{r['ci95']:.1f}",
            str(r["games"]),
            f"{r['score']:.3f}",
            los,
        )
    console.print(ratings)
    cross = crosstable(table)
    grid = Table(title="crosstable: W-L-D of the row against the column")
    for column in cross[0]:
        grid.add_column(column)
    for row in cross[1:]:
        grid.add_row(*row)
    console.print(grid)
    for line in pair_lines(table):
        console.print(line)


# ---------------------------------------------------------------------------------------------------------------
# CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `arena tournament`."""
    parser.add_argument("--game", required=True, help="tictactoe, connect_four, othello, gomoku")
    parser.add_argument(
        "--game-option", action="append", default=[], metavar="KEY=VALUE", help="e.g. size=6 for othello"
    )
    parser.add_argument(
        "--agents",
        nargs="+",
        required=True,
        metavar="SPEC",
        help="agent specs, e.g. random minimax:depth=4 az:connect_four,sims=200",
    )
    parser.add_argument(
        "--games", type=int, default=20, help="games per pair, half with each colour (even; default 20)"
    )
    parser.add_argument("--gauntlet", default=None, metavar="SPEC", help="play only this candidate against the field")
    parser.add_argument(
        "--opening-plies", type=int, default=2, help="random plies shared by each colour-swapped pair (default 2)"
    )
    parser.add_argument("--openings", type=Path, default=None, help="file of openings, one move list per line")
    parser.add_argument("--anchor", default="random=0", help="NAME=ELO fixed point of the scale (default random=0)")
    parser.add_argument("--seed", type=int, default=0, help="seed of openings and agents")
    parser.add_argument("--workers", type=int, default=1, help="worker processes without MPI (default 1)")
    parser.add_argument(
        "--out", type=Path, default=None, help="folder for ledger and reports (default runs/tournament-<game>)"
    )
    parser.add_argument("--export", type=Path, default=None, help="also write every game record as text to this file")
    parser.add_argument(
        "--tracking",
        choices=["offline", "online", "disabled"],
        default="offline",
        help="W&B mode for the ratings table and plot (default offline: files under --out, sync later)",
    )


def parse_anchor(text: str, players: Sequence[str]) -> tuple[str | None, float]:
    """`NAME=ELO` -> (name, elo); the default `random=0` falls back to the first player when random is absent."""
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise ArenaError(f"--anchor expects NAME=ELO, e.g. {name or 'random'}=0; got {text!r}")
    try:
        elo = float(value)
    except ValueError:
        raise ArenaError(f"--anchor expects NAME=ELO, got {text!r}") from None
    if name not in players:
        if text == "random=0":
            return players[0], 0.0
        raise ArenaError(f"--anchor {name} is not among the agents: {' '.join(players)}")
    return name, elo


def parse_game_options(items: Sequence[str]) -> dict[str, Any]:
    """`KEY=VALUE` strings -> options with numbers parsed."""
    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ArenaError(f"--game-option expects KEY=VALUE, got {item!r}")
        options[key] = yaml.safe_load(value)
    return options


def main(args: argparse.Namespace) -> int:
    """Schedule, play what is not in the ledger yet, rate, report."""
    for option, least in (("games", 1), ("workers", 1), ("opening_plies", 0)):
        if getattr(args, option) < least:
            raise ArenaError(f"--{option.replace('_', '-')} must be at least {least}, got {getattr(args, option)}")
    options = parse_game_options(args.game_option)
    game = make_game(args.game, **options)
    agents = list(args.agents)
    if args.gauntlet and args.gauntlet not in agents:
        agents.insert(0, args.gauntlet)
    for spec in agents:  # fail on a bad spec now, not in a worker minutes later
        make_agent(spec, game)
    anchor, anchor_elo = parse_anchor(args.anchor, agents)
    openings = read_openings(args.openings, game) if args.openings else None
    pairings = schedule(
        game,
        agents,
        args.games,
        gauntlet=args.gauntlet,
        opening_plies=args.opening_plies,
        openings=openings,
        seed=args.seed,
    )
    out = args.out or Path("runs") / f"tournament-{game.name}"
    ledger = Ledger(out / "ledger.jsonl")
    play_schedule(game.name, options, pairings, ledger, args.workers)
    comm = mpi_world()
    if comm is not None and comm.Get_rank() != 0:
        return 0
    wanted = {p.id for p in pairings}
    records = [r for r in ledger.records() if r.id in wanted]
    table = standings(records, agents, anchor, anchor_elo)
    title = f"{game.name}: {len(records)} games"
    print_report(table, title)
    paths = write_reports(table, out, title)
    if args.export:
        export_records(records, args.export)
        paths.append(args.export)
    if args.tracking != "disabled":
        _track(out, args.tracking, table, title)
    print("wrote " + " ".join(str(p) for p in paths), file=sys.stderr)
    return 0


def export_records(records: Sequence[GameRecord], path: Path) -> None:
    """Game records as text: `[first] [second] result | opening | moves`, one game a line."""
    path.write_text("".join(f"[{r.first}] [{r.second}] {r.result} | {r.opening} | {r.moves}\n" for r in records))


def _track(out: Path, mode: str, table: Standings, title: str) -> None:
    rows = ratings_rows(table)
    with Tracker(out, TrackingConfig(mode=mode), run_name=out.name, config_dict={"title": title}) as tracker:
        tracker.table("tournament/ratings", list(rows[0]), [list(r.values()) for r in rows], step=0)
        tracker.image("tournament/ratings_plot", out / "ratings.png", step=0)


if __name__ == "__main__":
    from runners.cli import run_module

    raise SystemExit(run_module("tournament"))
