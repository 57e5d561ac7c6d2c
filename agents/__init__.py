"""Agents by spec string: `make_agent("minimax:depth=4", game)`.

A spec is `kind` or `kind:value,key=value,...`: values without a key are positional (e.g. the checkpoint path
of `az:runs/c4/latest,sims=200`), and values that look like numbers or booleans are parsed as such.
`AGENT_KINDS` maps each kind to a factory `factory(game, *positional, **keywords) -> Agent`.

Every value is checked here, before the factory runs, against the factory's type hints (`int`, `float`,
`bool`, `str`, `Literal[...]`, `X | None`) and the bounds in `LIMITS`, so each command that takes a spec
refuses `minimax:depth=abc`, `mcts:sims=0` or `az:connect_four,device=tpu` with one line naming the spec.

>>> from envs import make_game
>>> make_agent("minimax:depth=2,seed=3", make_game("connect_four")).name
'minimax:depth=2'
>>> parse_spec("az:runs/c4/latest,sims=200,greedy=true")
('az', ['runs/c4/latest'], {'sims': 200, 'greedy': True})
"""

from __future__ import annotations

import inspect
import operator
import types
import typing
from collections.abc import Callable
from typing import Any, Literal

from agents.base import Agent
from agents.classic import GreedyAgent, MCTSAgent, MinimaxAgent, RandomAgent
from agents.solvers import make_solver
from envs.base import Game
from envs.errors import ArenaError


def alphazero_agent(
    game: Game,
    path: str,
    sims: int = 100,
    device: Literal["cpu", "cuda"] = "cpu",
    search: Literal["puct", "gumbel"] | None = None,
    solver: bool | None = None,
    c_puct: float | None = None,
    fpu_reduction: float | None = None,
    max_considered: int | None = None,
    inference: Literal["auto", "onnx", "torch"] = "auto",
) -> Agent:
    """`az:<checkpoint | run dir | shipped model name>,sims=N,search=puct|gumbel`: a trained net with search.

    Search settings left out are the ones the run trained with (its self-play config), without noise.
    """
    import torch

    from agents.alphazero import load_agent  # torch loads only when an az agent is asked for

    if device == "cuda" and not torch.cuda.is_available():
        raise ArenaError(f"az:{path},device=cuda: no CUDA device is visible here; use device=cpu")
    options = {"search": search, "solver": solver, "c_puct": c_puct, "fpu_reduction": fpu_reduction}
    options["max_considered"] = max_considered
    return load_agent(str(path), game, sims=sims, device=device, inference=inference, **options)


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


LIMITS: dict[str, dict[str, tuple[str, float]]] = {
    "minimax": {"depth": (">=", 1)},
    "mcts": {"sims": (">=", 1), "c": (">=", 0)},
    "az": {"sims": (">=", 1), "c_puct": (">", 0), "fpu_reduction": (">=", 0)},
}
"""Bounds of numeric spec values, by kind and parameter name (types come from the factories' hints)."""

_COMPARE = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}


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
    args, kwargs = _check_arguments(spec, factory, args, kwargs, LIMITS.get(kind, {}))
    return factory(game, *args, **kwargs)


def _check_arguments(
    spec: str, factory: Callable[..., Agent], args: list, kwargs: dict, limits: dict[str, tuple[str, float]]
) -> tuple[list, dict]:
    """Unknown keys, too many positional values, wrong types and out-of-range values -> ArenaError naming the
    spec and what is valid; returns the values as the factory's hints want them (`3` for a `str` path is "3")."""
    try:
        params = list(inspect.signature(factory).parameters.values())[1:]  # after `game`
        hints = typing.get_type_hints(factory.__init__ if inspect.isclass(factory) else factory)
    except (TypeError, ValueError, NameError):
        return args, kwargs
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return args, kwargs
    keys = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    unknown = [k for k in kwargs if k not in keys]
    if unknown:
        raise ArenaError(f"unknown key {unknown[0]!r} in agent spec {spec!r}; valid: {', '.join(keys) or 'none'}")
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(args) > len(positional) and not any(p.kind is p.VAR_POSITIONAL for p in params):
        raise ArenaError(f"agent spec {spec!r} takes no positional value like {args[len(positional)]!r}")
    named = dict(zip([p.name for p in positional], args, strict=False))
    missing = [p.name for p in positional[len(args) :] if p.default is p.empty and p.name not in kwargs]
    if missing:
        raise ArenaError(
            f"agent spec {spec!r} needs a value for {missing[0]!r}, e.g. {spec.split(':')[0]}:<{missing[0]}>"
        )
    checked = {}
    for name, value in {**named, **kwargs}.items():
        checked[name] = _check_value(spec, name, value, hints.get(name, Any), limits.get(name))
    return [checked[p.name] for p in positional[: len(args)]], {k: checked[k] for k in kwargs}


def _check_value(spec: str, name: str, value: Any, hint: Any, limit: tuple[str, float] | None) -> Any:
    """`value` as `hint` wants it, within `limit`; ArenaError naming the spec, the key and what is valid."""
    origin, options = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in options:
            return None
        hint = next((a for a in options if a is not type(None)), Any)
        origin, options = typing.get_origin(hint), typing.get_args(hint)
    wrong = f"agent spec {spec!r}: {name}={value!r} is not"
    if origin is Literal:
        if value not in options:
            raise ArenaError(f"{wrong} one of {', '.join(map(str, options))}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ArenaError(f"{wrong} true or false")
    elif hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ArenaError(f"{wrong} a whole number")
    elif hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ArenaError(f"{wrong} a number")
        value = float(value)
    elif hint is str:
        value = value if isinstance(value, str) else str(value)  # a path named `3` was parsed as a number
    if limit is not None:
        symbol, bound = limit
        if not _COMPARE[symbol](value, bound):
            raise ArenaError(f"agent spec {spec!r}: {name}={value!r} is out of range; must be {symbol} {bound:g}")
    return value


__all__ = ["AGENT_KINDS", "Agent", "make_agent", "parse_spec"]
