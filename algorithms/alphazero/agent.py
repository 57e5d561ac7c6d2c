"""A trained net with search as an Agent (`az:<checkpoint | run dir | shipped model>`), its loader and export.

`az:connect_four` / `az:tictactoe` load the weights shipped under `models/`; `export_model` writes such a file
(`python -m algorithms.alphazero RUN_DIR models/<game>.pt`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.base import Agent
from agents.mcts import BatchedMCTS, SearchConfig
from algorithms.alphazero.config import EvalConfig, SelfPlayConfig, search_config
from algorithms.evaluators import Backend, MirrorAveraged, make_evaluator
from algorithms.nets import PolicyValueNet
from core.checkpoint import atomic_write_bytes, load_checkpoint_file, load_newest_checkpoint
from core.config import apply_overrides, build_config, config_to_dict
from core.device import resolve_device
from core.errors import ArenaError
from envs import make_game
from envs.base import Game, State

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
"""Shipped weights: `az:<game>` loads `models/<game>.pt`."""


class AlphaZeroAgent(Agent):
    """A trained net with search (PUCT or Gumbel, as configured): `act` searches and plays search's move.

    `game` is the game as its net sees it (with the options it was trained with, such as Connect Four's feature
    planes); positions of another instance of that game are read through it (`State.with_game`).

    After each move, `last_search` holds what the search thought: `visits` (the share of root visits per
    action, a list of `num_actions` floats), `policy` (the search policy), and `value` (the searching side's
    expected outcome in [-1, 1], a draw counted at -contempt); `proven` is that value when the solver proved it,
    else None.
    """

    def __init__(
        self,
        net: PolicyValueNet,
        game: Game,
        search: SearchConfig,
        device: str = "cpu",
        name: str = "az",
        inference: Backend = "auto",
        mirror: bool = False,
    ) -> None:
        super().__init__(game, seed=0)
        if search.contempt and not net.draw_head:
            raise ArenaError(f"{name}: contempt needs a net with a draw head (trained with draw_head: true)")
        self.name = name
        self.simulations = search.simulations
        self.config = search
        evaluator = make_evaluator(net.eval(), resolve_device(device), inference)
        self.evaluator = MirrorAveraged(evaluator, game) if mirror else evaluator
        self.last_search: dict[str, Any] | None = None

    def search(self, state: State) -> dict[str, Any]:
        """Search `state` from a fresh tree; what it found, as `last_search` describes."""
        mcts = BatchedMCTS(self.evaluator, self.game.num_actions, self.config, self.rng)
        mcts.reset([state.with_game(self.game)])
        result = mcts.search(noise=False)
        visits = result.visits[0]
        proven = mcts.proven[0, 0]
        return {
            "action": int(result.action[0]),
            "visits": (visits / max(visits.sum(), 1.0)).tolist(),
            "policy": result.policy[0].tolist(),
            "value": float(result.value[0]),
            "proven": None if np.isnan(proven) else float(proven),
        }

    def act_batch(self, states: list[State], chunk: int = 256) -> np.ndarray:
        """[N] search's move in each of many positions, `chunk` searched in lockstep (one net call a simulation)."""
        parts = []
        for start in range(0, len(states), chunk):
            mcts = BatchedMCTS(self.evaluator, self.game.num_actions, self.config, self.rng)
            mcts.reset([state.with_game(self.game) for state in states[start : start + chunk]])
            parts.append(mcts.search(noise=False).action)
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def act(self, state: State) -> int:
        """Search's move (the most visited for PUCT, sequential halving's winner for Gumbel, a proven win)."""
        self.last_search = self.search(state)
        return self.last_search["action"]

    def value(self, state: State) -> float:
        """The search value of the last position this agent moved in (or a fresh search of `state`)."""
        if self.last_search is None:
            return self.search(state)["value"]
        return self.last_search["value"]


def load_az_payload(path: str | Path, game: str) -> tuple[Path, dict[str, Any]]:
    """The file and payload of an AlphaZero checkpoint path, run dir or shipped model name, checked for `game`."""
    shipped = MODELS_DIR / f"{path}.pt"
    # a run dir or `latest` whose newest file is truncated gives the previous good one (with a warning)
    file, payload = (shipped, load_checkpoint_file(shipped)) if shipped.is_file() else load_newest_checkpoint(path)
    if "net" not in payload or "az" not in payload:
        raise ArenaError(f"{file} is not an AlphaZero checkpoint (it has no 'net'/'az' entries)")
    if payload["az"]["game"] != game:
        raise ArenaError(f"{file} was trained on {payload['az']['game']}, not {game}")
    return file, payload


def net_game(payload: dict[str, Any]) -> Game:
    """The game as a checkpoint's net saw it: its name and options (none saved: the game's defaults)."""
    return make_game(payload["az"]["game"], **payload["az"].get("game_options", {}))


def payload_net(payload: dict[str, Any], game: Game) -> PolicyValueNet:
    """The net of a checkpoint payload with its weights (a draw head where the weights have one)."""
    weights = payload["net"]
    draw_head = PolicyValueNet.has_draw_head(weights)
    net = PolicyValueNet(payload["az"]["net"], game.obs_shape, game.num_actions, draw_head=draw_head)
    net.load_state_dict(weights)
    return net


def check_draw_head(payload: dict[str, Any], draw_head: bool, where: str) -> None:
    """Refuse to resume a run whose checkpoint has (or lacks) the draw head this config asks for."""
    saved = PolicyValueNet.has_draw_head(payload["net"])
    if saved != draw_head:
        have, want = str(saved).lower(), str(draw_head).lower()
        raise ArenaError(f"{where} was trained with draw_head: {have}; this config has draw_head: {want}")


def check_net_game(payload: dict[str, Any], game: Game, where: str) -> None:
    """Refuse weights trained on other game options (another board size, other observation planes)."""
    saved = net_game(payload)
    if saved.options != game.options:
        raise ArenaError(
            f"{where} was trained on {saved.name} with options {saved.options}, this run has {game.options} "
            "(set game_options to match)"
        )


def load_agent(
    game: Game,
    path: str,
    sims: int = 100,
    device: str = "cpu",
    inference: Backend = "auto",
    mirror: bool | None = None,
    **search: Any,
) -> AlphaZeroAgent:
    """An AlphaZeroAgent from a checkpoint path, a run dir, or a shipped model name (`connect_four`).

    It searches with the run's `eval.search` kind (PUCT where the config has none), its `eval.c_puct` (where
    set) and self-play's other settings (solver, ... from the saved config) without noise; keywords in `search`
    override those: `search` the kind, `contempt` eval.contempt (the net needs a draw head), any other
    SelfPlayConfig field (e.g. `c_puct=2.0`) that setting.
    `mirror` averages the net over each position and its mirror image (None: the run's `eval.mirror`).
    """
    payload = load_az_payload(path, game.name)[1]
    game = net_game(payload)  # with the options it was trained on: the agent reads any board's positions through it
    net = payload_net(payload, game)
    saved = payload.get("config", {})
    trained = dict(saved.get("selfplay", {}))
    trained.setdefault("search", "puct")  # saved before search kinds existed: PUCT was the only one
    played = saved.get("eval", {})
    given = {k: v for k, v in search.items() if v is not None}
    kind = given.pop("search", None) or played.get("search", "puct")
    play_c_puct = None if "c_puct" in given else played.get("c_puct")
    contempt = {"contempt": given.pop("contempt")} if "contempt" in given else {}
    contempt = build_config(
        EvalConfig, {"contempt": played.get("contempt", 0.0)} | contempt, source=f"az:{path}", where="eval"
    ).contempt
    selfplay = build_config(SelfPlayConfig, trained | given, source=f"az:{path}", where="selfplay")
    search = search_config(selfplay, sims, evaluation=True, kind=kind, c_puct=play_c_puct, contempt=contempt)
    mirror = played.get("mirror", EvalConfig.mirror) if mirror is None else mirror
    return AlphaZeroAgent(net, game, search, device=device, name=f"az:{path}", inference=inference, mirror=mirror)


def export_model(source: str | Path, target: str | Path, play: Sequence[str] = ()) -> Path:
    """Copy just the weights and what `az:` needs (no optimizer or replay) from a checkpoint or run dir.

    `play` holds `eval.KEY=VALUE` settings written into the saved config: how the shipped agent plays
    (e.g. `eval.c_puct=3.0`).
    """
    payload = load_newest_checkpoint(source)[1]
    if "az" not in payload:
        raise ArenaError(f"{source} is not an AlphaZero checkpoint")
    target = Path(target)
    slim = {k: payload[k] for k in ("format", "step", "net", "az", "config", "counters") if k in payload}
    if play:
        not_eval = [item for item in play if not item.startswith("eval.")]
        if not_eval:
            raise ArenaError(f"only eval.KEY=VALUE settings travel with an exported model, not {', '.join(not_eval)}")
        config = dict(slim.get("config", {}))
        known = {f.name for f in dataclasses.fields(EvalConfig)}
        saved = {k: v for k, v in config.get("eval", {}).items() if k in known}  # older runs may hold dropped keys
        played = apply_overrides(
            build_config(EvalConfig, saved, source=str(source), where="eval"),
            [item.removeprefix("eval.") for item in play],
        )
        config["eval"] = config_to_dict(played)
        slim["config"] = config
    atomic_write_bytes(target, lambda handle: torch.save(slim, handle))
    return target
