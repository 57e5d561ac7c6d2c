"""One registry of algorithms, and agent specs of every kind (classic and trained).

A row of `ALGORITHMS` says everything a runner needs: the config dataclass, the one-process `train`, the
learner and actor roles `arena selfplay` runs on MPI ranks, the spec factory that turns a checkpoint into an
Agent, and the config section whose `total_steps` is the run's length. `arena train`, `arena selfplay`,
`arena rate` and `make_agent` all read it; a new algorithm is one module and one row here.

>>> sorted(ALGORITHMS)
['az', 'dqn', 'ppo']
>>> from envs import make_game
>>> make_agent("minimax:depth=2", make_game("tictactoe")).name
'minimax:depth=2'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import torch

from agents import AGENT_KINDS as CLASSIC_KINDS
from agents import LIMITS as CLASSIC_LIMITS
from agents import build_agent
from agents.base import Agent
from algorithms import alphazero, dqn, ppo
from algorithms.evaluators import Backend
from core.errors import ArenaError
from core.run import Run
from envs import GYM_IDS
from envs.base import Game


class LearnerRole(Protocol):
    """An algorithm's learner side (`alphazero.Training`, `ppo.PPOLearner`, `dqn.DQNLearner`)."""

    net: Any  # the trained torch module (gradients averaged and buffers shared across learner ranks)
    publish_every: int  # updates between weight versions
    max_staleness: int | None  # messages from weights more versions old are stale (None: never)
    gated: bool  # actors play with weights learner 0 picks (AlphaZero's SPRT gate), not the newest

    @property
    def steps(self) -> int: ...  # updates so far
    @property
    def log_step(self) -> int: ...  # the step its figures are logged at (updates or env steps)
    @property
    def done(self) -> bool: ...
    def receive(self, payload: dict[str, Any], stale: bool = False) -> None: ...
    def update_ready(self) -> bool: ...
    def update(self, average_gradients: Any = None) -> int: ...
    def acting_state(self) -> dict[str, Any]: ...
    def save(self) -> None: ...
    def log(self, figures: dict[str, Any], step: int) -> None: ...
    def summary(self) -> dict[str, float]: ...

    # With `distributed.learners` > 1 (AlphaZero only) also `shared_state() -> dict`, learner 0's weights,
    # optimizer and counters, and `load_shared_state(shared)` on the other learners.


class ActorRole(Protocol):
    """An algorithm's actor side (`alphazero.AZActor`, `ppo.PPOActor`, `dqn.DQNActor`)."""

    def budget(self, versions: int) -> float: ...  # samples it may have sent once `versions` new versions came
    def load_weights(self, state: dict[str, Any]) -> None: ...
    def step(self) -> dict[str, Any] | None: ...  # a message with a "samples" count, or None
    def rates(self) -> dict[str, float]: ...  # per-second figures since the last call
    def close(self) -> None: ...


@dataclass(frozen=True)
class Algorithm:
    """What every runner needs of one algorithm."""

    name: str
    config: type
    """The frozen config dataclass (`algo: <name>` in a YAML file)."""
    train: Callable[[Any, Run], dict[str, float]]
    """One process: learn until `total_steps`, returning the final figures (`arena train`)."""
    learner_role: Callable[[Any, Run | None, torch.device, int], LearnerRole]
    """(config, run or None off rank 0, device, actors it serves) -> the learner of `arena selfplay`."""
    actor_role: Callable[[Any, int, int, int, torch.device], ActorRole]
    """(config, actor index, actors, actors sharing its learner, device) -> an actor rank's role."""
    agent: Callable[..., Agent]
    """The spec factory `<name>:<checkpoint | run dir>,key=value`: (game, path, **options) -> Agent."""
    steps_section: str
    """The config section whose `total_steps` is the run's length, in the unit its learner logs at."""
    limits: Mapping[str, tuple[str, float]]
    """Bounds of the spec factory's numeric options (types come from its hints)."""

    def total_steps(self, config: Any) -> int:
        """The run's length: AlphaZero updates, PPO and DQN env steps."""
        return int(getattr(config, self.steps_section).total_steps)


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
    inference: Backend = "auto",
    mirror: bool | None = None,
    contempt: float | None = None,
) -> Agent:
    """`az:<checkpoint | run dir | shipped model name>,sims=N,search=puct|gumbel`: a trained net with search.

    Search settings left out are the ones the run trained with (its self-play config), without noise;
    `mirror=true` averages the net over each position and its mirror image (default: the run's `eval.mirror`);
    `contempt=0.3` values a draw at -0.3 for this agent (a net with a draw head; default: the run's
    `eval.contempt`).
    """
    if device == "cuda" and not torch.cuda.is_available():
        raise ArenaError(f"az:{path},device=cuda: no CUDA device is visible here; use device=cpu")
    options = {"search": search, "solver": solver, "c_puct": c_puct, "fpu_reduction": fpu_reduction}
    options |= {"max_considered": max_considered, "contempt": contempt}
    return alphazero.load_agent(
        game, str(path), sims=sims, device=device, inference=inference, mirror=mirror, **options
    )


def ppo_agent(game: Game, path: str, greedy: bool = True, seed: int | None = None) -> Agent:
    """`ppo:<checkpoint | run dir | run/latest>,greedy=false,seed=N`: a PPO policy trained on this game."""
    return ppo.load_agent(game, str(path), greedy=greedy, seed=seed)


def dqn_agent(game: Game, path: str) -> Agent:
    """`dqn:<checkpoint | run dir | run/latest>`: a DQN policy trained on this game (greedy)."""
    return dqn.load_agent(game, str(path))


ALGORITHMS: dict[str, Algorithm] = {
    "ppo": Algorithm("ppo", ppo.PPOConfig, ppo.train, ppo.learner_role, ppo.PPOActor, ppo_agent, "ppo", limits={}),
    "dqn": Algorithm("dqn", dqn.DQNConfig, dqn.train, dqn.learner_role, dqn.DQNActor, dqn_agent, "dqn", limits={}),
    "az": Algorithm(
        "az",
        alphazero.AZConfig,
        alphazero.train,
        alphazero.learner_role,
        alphazero.AZActor,
        alphazero_agent,
        "learn",
        limits={"sims": (">=", 1), "c_puct": (">", 0), "fpu_reduction": (">=", 0), "contempt": (">=", 0)},
    ),
}

AGENT_KINDS: dict[str, Callable[..., Agent]] = {**CLASSIC_KINDS, **{a.name: a.agent for a in ALGORITHMS.values()}}
"""Every agent kind a spec may name: the classic players of `agents`, then one per algorithm."""

LIMITS: dict[str, Mapping[str, tuple[str, float]]] = {
    **CLASSIC_LIMITS,
    **{a.name: a.limits for a in ALGORITHMS.values()},
}


def make_agent(spec: str, game: Game) -> Agent:
    """The Agent for a spec of any kind (`minimax:depth=4`, `az:connect_four,sims=200`, `ppo:runs/x`)."""
    return build_agent(spec, game, AGENT_KINDS, LIMITS)


def algorithm(name: str) -> Algorithm:
    """The registry row of `name`; ArenaError listing the valid names otherwise."""
    if name not in ALGORITHMS:
        raise ArenaError(f"unknown algo {name!r}; valid: {', '.join(ALGORITHMS)}")
    return ALGORITHMS[name]


def board_game_of(config: Mapping[str, Any]) -> str | None:
    """The board game a saved run config trained on (`game`, or an `arena/...` env id), else None."""
    if isinstance(config.get("game"), str):
        return config["game"]
    env = config.get("env", {})
    env_id = env.get("id") if isinstance(env, Mapping) else env
    return GYM_IDS.get(env_id) if isinstance(env_id, str) else None
