"""Agents by spec string: `make_agent("minimax:depth=4", game)`.

A spec is `kind` or `kind:value,key=value,...`: values without a key are positional (e.g. the checkpoint path
of `az:runs/c4/latest,sims=200`), and values that look like numbers or booleans are parsed as such.
`AGENT_KINDS` maps each kind to a factory `factory(game, *positional, **keywords) -> Agent`.

>>> from envs import make_game
>>> make_agent("minimax:depth=2,seed=3", make_game("connect_four")).name
'minimax:depth=2'
>>> parse_spec("az:runs/c4/latest,sims=200,greedy=true")
('az', ['runs/c4/latest'], {'sims': 200, 'greedy': True})
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from agents.base import Agent
from agents.classic import GreedyAgent, MCTSAgent, MinimaxAgent, RandomAgent
from agents.solvers import make_solver
from envs.base import Game
from envs.errors import ArenaError


def alphazero_agent(
    game: Game, path: str, sims: int = 100, device: str = "cpu", c_puct: float = 1.5, fpu_reduction: float = 0.2
) -> Agent:
    """`az:<checkpoint | run dir | shipped model name>,sims=N`: a trained AlphaZero net with search."""
    from agents.alphazero import load_agent  # torch loads only when an az agent is asked for

    return load_agent(str(path), game, sims=sims, device=device, c_puct=c_puct, fpu_reduction=fpu_reduction)


def ppo_agent(game: Game, path: str, greedy: bool = True, seed: int | None = None) -> Agent:
    """`ppo:<checkpoint | run dir | run/latest>,greedy=false,seed=N`: a PPO policy trained on this game."""
    from agents.ppo import load_agent  # torch loads only when asked for

    return load_agent(game, str(path), greedy=greedy, seed=seed)


def dqn_agent(game: Game, path: str) -> Agent:
    """`dqn:<checkpoint | run dir | run/latest>`: a DQN policy trained on this game (greedy)."""
    from agents.dqn import load_agent

    return load_agent(game, str(path))


AGENT_KINDS: dict[str, Callable[..., Agent]] = {
    "random": RandomAgent,
    "greedy": GreedyAgent,
    "minimax": MinimaxAgent,
    "mcts": MCTSAgent,
    "solver": make_solver,
    "az": alphazero_agent,
    "ppo": ppo_agent,
    "dqn": dqn_agent,
}


def parse_value(text: str) -> Any:
    """`3` -> 3, `0.5` -> 0.5, `true`/`false` -> bool, anything else stays a string."""
    low = text.strip().lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text.strip()


def parse_spec(spec: str) -> tuple[str, list[Any], dict[str, Any]]:
    """`kind:pos,key=val` -> (kind, positional values, keyword values)."""
    kind, _, rest = spec.strip().partition(":")
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = item.partition("=")
        if eq:
            if key.strip() in kwargs:
                raise ArenaError(f"key {key.strip()!r} given twice in agent spec {spec!r}")
            kwargs[key.strip()] = parse_value(value)
        elif kwargs:
            raise ArenaError(f"positional value {item!r} after key=value items in agent spec {spec!r}")
        else:
            args.append(parse_value(item))
    return kind.strip(), args, kwargs


def make_agent(spec: str, game: Game) -> Agent:
    """The Agent for `spec` (e.g. `random`, `minimax:depth=4`, `mcts:sims=1000,seed=3`) playing `game`."""
    kind, args, kwargs = parse_spec(spec)
    if kind not in AGENT_KINDS:
        raise ArenaError(f"unknown agent kind {kind!r} in {spec!r}; valid: {', '.join(AGENT_KINDS)}")
    factory = AGENT_KINDS[kind]
    _check_arguments(spec, factory, args, kwargs)
    return factory(game, *args, **kwargs)


def _check_arguments(spec: str, factory: Callable[..., Agent], args: list, kwargs: dict) -> None:
    """Unknown keys or too many positional values -> ArenaError naming the valid keys."""
    try:
        params = list(inspect.signature(factory).parameters.values())[1:]  # after `game`
    except (TypeError, ValueError):
        return
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return
    keys = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    unknown = [k for k in kwargs if k not in keys]
    if unknown:
        raise ArenaError(f"unknown key {unknown[0]!r} in agent spec {spec!r}; valid: {', '.join(keys) or 'none'}")
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(args) > len(positional) and not any(p.kind is p.VAR_POSITIONAL for p in params):
        raise ArenaError(f"agent spec {spec!r} takes no positional value like {args[len(positional)]!r}")


__all__ = ["AGENT_KINDS", "Agent", "make_agent", "parse_spec"]
