"""Matches between Agents: openings, one game, many games in lockstep, and the SPRT match loop.

Everything here plays Agents it is given; turning spec strings into agents, ledgers and reports belong to the
runners above (`arena tournament`, `arena sprt`), and AlphaZero's evaluation plays its matches with these too.
A game's `Pairing` says who moves first, from which opening, with which seed; its `GameRecord` is what a
tournament ledger stores.

>>> from envs import make_game
>>> from agents.classic import MinimaxAgent, RandomAgent
>>> game = make_game("tictactoe")
>>> final, moves = play_game(game, MinimaxAgent(game, depth=9), RandomAgent(game), seed=1)
>>> final.returns()[0] >= 0  # perfect play never loses
True
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agents.base import Agent
from agents.ratings import sprt_bounds, sprt_decision, sprt_llr
from core.errors import ArenaError
from envs.base import Game, State


@dataclass(frozen=True)
class Pairing:
    """One scheduled game: who moves first, from which opening, with which seed."""

    id: str
    first: str
    second: str
    opening: tuple[int, ...]
    seed: int


@dataclass(frozen=True)
class GameRecord:
    """A finished game as the ledger stores it."""

    id: str
    game: str
    first: str
    second: str
    opening: str
    moves: str
    result: str  # "1-0", "0-1" or "1/2-1/2" from the first player's side
    score: float  # points of the first player: 1, 0 or 0.5
    plies: int
    seed: int
    seconds: float


# ---------------------------------------------------------------------------------------------------------------
# Openings


def random_opening(game: Game, plies: int, rng: np.random.Generator) -> tuple[int, ...]:
    """`plies` random legal moves from the start that do not end the game (retried if they do)."""
    for _ in range(100):
        state = game.initial_state()
        moves = []
        for _ in range(plies):
            legal = state.legal_actions()
            action = int(rng.choice(legal))
            state = state.apply(action)
            moves.append(action)
            if state.is_terminal():
                break
        if not state.is_terminal():
            return tuple(moves)
    raise ArenaError(f"could not find a {plies}-ply opening of {game.name} that leaves the game open")


def read_openings(path: Path, game: Game) -> list[tuple[int, ...]]:
    """Openings from a file, one move list per line in the game's notation (`#` starts a comment)."""
    if not path.is_file():
        raise ArenaError(f"openings file not found: {path}")
    openings = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            state = game.state_from_moves(text)
        except ArenaError as error:
            raise ArenaError(f"{path}:{number}: {error}") from None
        if state.is_terminal():
            raise ArenaError(f"{path}:{number}: the opening {text!r} already ends the game")
        openings.append(tuple(game.parse_moves(text)))
    if not openings:
        raise ArenaError(f"{path} holds no openings")
    return openings


# ---------------------------------------------------------------------------------------------------------------
# Playing


def play_game(
    game: Game, first: Agent, second: Agent, opening: Sequence[int] = (), seed: int | None = None
) -> tuple[State, list[int]]:
    """Play one game between two Agents from an opening; returns the final state and the moves after it."""
    state = game.state_from_moves(list(opening))
    players = (first, second)
    for index, agent in enumerate(players):
        agent.reset(None if seed is None else seed + index)
    moves = []
    while not state.is_terminal():
        agent = players[state.current_player()]
        action = int(agent.act(state))
        try:
            state = state.apply(action)
        except ArenaError as error:
            raise ArenaError(f"agent {agent.name} played an illegal move: {error}") from None
        moves.append(action)
    return state, moves


def play_pairing(game: Game, cache: Mapping[str, Agent], pairing: Pairing) -> GameRecord:
    """Play one scheduled game (its agents looked up by spec in `cache`) and describe it for the ledger."""
    start = time.perf_counter()
    state, moves = play_game(game, cache[pairing.first], cache[pairing.second], pairing.opening, pairing.seed)
    return _record(game, pairing, state, moves, round(time.perf_counter() - start, 4))


def _record(game: Game, pairing: Pairing, final: State, moves: list[int], seconds: float) -> GameRecord:
    score = (float(final.returns()[0]) + 1) / 2
    result = {1.0: "1-0", 0.0: "0-1"}.get(score, "1/2-1/2")
    return GameRecord(
        id=pairing.id,
        game=game.name,
        first=pairing.first,
        second=pairing.second,
        opening=game.moves_to_text(pairing.opening),
        moves=game.moves_to_text(moves),
        result=result,
        score=score,
        plies=len(pairing.opening) + len(moves),
        seed=pairing.seed,
        seconds=seconds,
    )


def play_lockstep(game: Game, cache: Mapping[str, Agent], pairings: Sequence[Pairing]) -> list[GameRecord]:
    """Play many scheduled games at once: an agent that searches in batches (`act_batch`) moves in every game
    where it is to move with one call, so a net's search evaluates a leaf of each game per network call.

    Each agent is reset once, with the first pairing's seed, rather than before each game as `play_pairing`
    does: the games are interleaved. The results are deterministic for a given schedule all the same.
    """
    start = time.perf_counter()
    states = [game.state_from_moves(list(p.opening)) for p in pairings]
    moves: list[list[int]] = [[] for _ in pairings]
    for index, spec in enumerate(dict.fromkeys(s for p in pairings for s in (p.first, p.second))):
        cache[spec].reset(pairings[0].seed + index)
    active = [i for i, state in enumerate(states) if not state.is_terminal()]
    while active:
        to_move: dict[str, list[int]] = {}
        for i in active:
            pairing = pairings[i]
            to_move.setdefault(pairing.second if states[i].current_player() else pairing.first, []).append(i)
        for spec, games in to_move.items():
            agent = cache[spec]
            if hasattr(agent, "act_batch"):
                actions = [int(a) for a in agent.act_batch([states[i] for i in games])]
            else:
                actions = [int(agent.act(states[i])) for i in games]
            for i, action in zip(games, actions, strict=True):
                try:
                    states[i] = states[i].apply(action)
                except ArenaError as error:
                    raise ArenaError(f"agent {agent.name} played an illegal move: {error}") from None
                moves[i].append(action)
        active = [i for i in active if not states[i].is_terminal()]
    seconds = round((time.perf_counter() - start) / max(len(pairings), 1), 4)
    return [_record(game, p, s, m, seconds) for p, s, m in zip(pairings, states, moves, strict=True)]


# ---------------------------------------------------------------------------------------------------------------
# SPRT: colour-swapped pairs until the test decides


@dataclass(frozen=True)
class SprtResult:
    """The outcome of one SPRT: the counts, the final LLR, the bounds and the accepted hypothesis (or None)."""

    wins: int
    losses: int
    draws: int
    llr: float
    bounds: tuple[float, float]
    accepted: str | None


def run_sprt(
    game: Game,
    candidate: Agent,
    baseline: Agent,
    *,
    elo0: float = 0.0,
    elo1: float = 30.0,
    alpha: float = 0.05,
    beta: float = 0.05,
    max_games: int = 10_000,
    opening_plies: int = 2,
    seed: int = 0,
    on_pair: Callable[[int, int, int, float], None] | None = None,
) -> SprtResult:
    """Play colour-swapped pairs of games until the LLR crosses a bound or `max_games` are played."""
    if not elo1 > elo0:
        raise ArenaError(f"--elo1 must be above --elo0, got elo0={elo0} elo1={elo1}")
    rng = np.random.default_rng(seed)
    wins = losses = draws = 0
    llr, accepted = 0.0, None
    while accepted is None and wins + losses + draws < max_games:
        opening = random_opening(game, opening_plies, rng)
        game_seed = int(rng.integers(2**31))
        for candidate_moves_first in (True, False):
            first, second = (candidate, baseline) if candidate_moves_first else (baseline, candidate)
            state, _ = play_game(game, first, second, opening, game_seed)
            candidate_return = float(state.returns()[0 if candidate_moves_first else 1])
            wins += candidate_return > 0
            losses += candidate_return < 0
            draws += candidate_return == 0
        llr = sprt_llr(wins, losses, draws, elo0, elo1)
        accepted = sprt_decision(llr, alpha, beta)
        if on_pair is not None:
            on_pair(wins, losses, draws, llr)
    return SprtResult(wins, losses, draws, llr, sprt_bounds(alpha, beta), accepted)
