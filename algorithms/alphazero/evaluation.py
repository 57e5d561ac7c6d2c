"""Evaluation: the net's search against an Agent, many games in lockstep; Pons' Connect Four mistake rates."""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.base import Agent
from agents.matches import random_opening
from agents.mcts import BatchedMCTS, Evaluator, SearchConfig
from envs.base import Game
from envs.pons import SETS, load_pons, mistakes


def evaluate_against(
    game: Game,
    evaluator: Evaluator,
    opponent: Agent,
    games: int,
    search: SearchConfig,
    rng: np.random.Generator,
    opening_plies: int = 2,
) -> dict[str, float]:
    """Win/draw/loss rates of search+net against an Agent over `games` games, half with each colour.

    Each pair of games starts from the same `opening_plies` random moves, one game with each colour: two
    deterministic players would otherwise replay one game over and over and the rates would mean little.
    """
    mcts = BatchedMCTS(evaluator, game.num_actions, search, rng)
    openings = [random_opening(game, opening_plies, rng) for _ in range(0, games, 2)]
    states = [game.state_from_moves(list(openings[g // 2])) for g in range(games)]
    net_side = np.array([g % 2 for g in range(games)])  # net moves first in even games
    mcts.reset(states)
    results = np.zeros(games)
    done = np.zeros(games, bool)
    opponent.reset(int(rng.integers(2**31)))
    # the opponent's agent may hold per-game state; games run interleaved, so ask it about each state afresh
    while not done.all():
        net_turn = np.array([not done[g] and states[g].current_player() == net_side[g] for g in range(games)])
        if net_turn.any():
            chosen = mcts.search(games=np.flatnonzero(net_turn), noise=False).action
        for g in range(games):
            if done[g]:
                continue
            action = int(chosen[g]) if net_turn[g] else int(opponent.act(states[g]))
            states[g] = states[g].apply(action)
            if states[g].is_terminal():
                done[g] = True
                results[g] = states[g].returns()[net_side[g]]
            else:
                mcts.replace_root(g, states[g])
    return {
        "win": float(np.mean(results > 0)),
        "draw": float(np.mean(results == 0)),
        "loss": float(np.mean(results < 0)),
    }


def pons_mistake_rates(
    evaluator: Evaluator, game: Game, positions: int | None, search: SearchConfig | None, chunk: int = 256
) -> dict[str, float]:
    """Connect Four mistake rates on Pons' sets, searching `chunk` positions at once (search None: raw policy).

    A move is a mistake when its exact value is below the position's best (a win thrown to a draw, a draw to a
    loss); `positions` None takes every position of each set.
    """
    rates = {}
    for name, data in load_pons().items():
        moves, values = data["moves"][:positions], data["values"][:positions]  # values [N, 7]: win 1 ... full -2
        choices = np.concatenate(
            [pons_choices(evaluator, game, moves[i : i + chunk], search) for i in range(0, len(moves), chunk)]
        )
        rates[SETS[name]] = float(mistakes(values, choices).sum()) / len(moves)
    return rates


def pons_choices(evaluator: Evaluator, game: Game, move_lists: Any, search: SearchConfig | None) -> np.ndarray:
    """[N] the move chosen in each position given as a move list: searched in one batch, or the net's argmax."""
    states = [game.state_from_moves(str(m)) for m in move_lists]
    if search is None:
        priors = evaluator(np.stack([s.observation() for s in states]), np.stack([s.legal_mask() for s in states]))[0]
        return priors.argmax(axis=1)
    mcts = BatchedMCTS(evaluator, game.num_actions, search, np.random.default_rng(0))
    mcts.reset(states)
    return mcts.search(noise=False).action


def pons_figures(
    net: Evaluator, player: Evaluator, game: Game, positions: int, search: SearchConfig
) -> dict[str, float]:
    """Pons mistake rates for the training log: `net` alone (its raw policy) and `player` with search.

    They differ when the agent plays mirror-averaged (`eval.mirror`): the net-alone figures stay the raw
    net's, comparable across runs and with published net-alone rates.
    """
    figures = {f"eval/pons_policy/{k}": v for k, v in pons_mistake_rates(net, game, positions, None).items()}
    searched = pons_mistake_rates(player, game, positions, search)
    return figures | {f"eval/pons_search/{k}": v for k, v in searched.items()}
