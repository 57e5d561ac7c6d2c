"""Agents by spec string: `make_agent("minimax:depth=4", game)`.

A spec is `kind` or `kind:value,key=value,...`: values without a key are positional (e.g. the checkpoint path
of `az:runs/c4/latest,sims=200`), and values that look like numbers or booleans are parsed as such.
`AGENT_KINDS` maps each classic kind to a factory `factory(game, *positional, **keywords) -> Agent`; the
trained kinds (`az`, `ppo`, `dqn`) are added a floor up, in `algorithms.registry`, which knows every kind.

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
from collections.abc import Callable, Mapping
from typing import Any, Literal

import gymnasium

from agents.base import Agent
from agents.classic import GreedyAgent, MCTSAgent, MinimaxAgent, RandomAgent
from agents.solvers import make_solver
from core.errors import ArenaError
from envs.base import Game
from envs.gym_env import ArenaGymEnv
from envs.registry import GYM_IDS

AGENT_KINDS: dict[str, Callable[..., Agent]] = {
    "random": RandomAgent,
    "greedy": GreedyAgent,
    "minimax": MinimaxAgent,
    "mcts": MCTSAgent,
    "solver": make_solver,
}
"""The classic players; `algorithms.registry.AGENT_KINDS` adds one kind per trained algorithm (az, ppo, dqn)."""


LIMITS: dict[str, dict[str, tuple[str, float]]] = {
    "minimax": {"depth": (">=", 1)},
    "mcts": {"sims": (">=", 1), "c": (">=", 0)},
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
    """The classic Agent for `spec` (e.g. `random`, `minimax:depth=4`, `mcts:sims=1000,seed=3`) playing `game`.

    Trained kinds (`az:`, `ppo:`, `dqn:`) live a floor up: `algorithms.registry.make_agent` takes every kind.
    """
    return build_agent(spec, game, AGENT_KINDS, LIMITS)


def build_agent(
    spec: str,
    game: Game,
    kinds: Mapping[str, Callable[..., Agent]],
    limits: Mapping[str, Mapping[str, tuple[str, float]]],
) -> Agent:
    """The Agent for `spec` from the factories in `kinds`, its values checked against hints and `limits`."""
    kind, args, kwargs = parse_spec(spec)
    if kind not in kinds:
        raise ArenaError(f"unknown agent kind {kind!r} in {spec!r}; valid: {', '.join(kinds)}")
    factory = kinds[kind]
    args, kwargs = _check_arguments(spec, factory, args, kwargs, limits.get(kind, {}))
    return factory(game, *args, **kwargs)


def _check_arguments(
    spec: str, factory: Callable[..., Agent], args: list, kwargs: dict, limits: Mapping[str, tuple[str, float]]
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


def _gym_entry(game_name: str) -> Callable[..., ArenaGymEnv]:
    def make(opponent: Any = "random", **kwargs: Any) -> ArenaGymEnv:
        if isinstance(opponent, str):  # a spec: made for the env's game, with its options
            spec = opponent

            def opponent(game: Game) -> Agent:
                return make_agent(spec, game)

        return ArenaGymEnv(game=game_name, opponent=opponent, **kwargs)

    make.__name__ = f"make_{game_name}"
    return make


# The Gymnasium ids of the games (`gymnasium.make("arena/ConnectFour-v0", opponent="greedy")`), registered here,
# on the floor that turns an opponent's spec into an Agent.
for _id, _name in GYM_IDS.items():
    if _id not in gymnasium.registry:
        gymnasium.register(_id, entry_point=_gym_entry(_name), kwargs={"opponent": "random"})

__all__ = ["AGENT_KINDS", "LIMITS", "Agent", "build_agent", "make_agent", "parse_spec"]
