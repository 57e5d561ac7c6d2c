"""The training loop and its roles: `Training` (the learner side: net, replay, updates, evaluation, gating,
checkpoints), `AZActor` (an actor rank of `arena selfplay`), and `train` (both in one process)."""

from __future__ import annotations

import copy
import time
from functools import cached_property
from typing import Any

import numpy as np
import torch

from agents import make_agent
from agents.base import Agent
from agents.matches import run_sprt
from algorithms.alphazero.agent import AlphaZeroAgent, check_draw_head, check_net_game, load_az_payload
from algorithms.alphazero.config import AZConfig, play_search, run_game
from algorithms.alphazero.evaluation import evaluate_against, pons_figures
from algorithms.alphazero.learner import Learner, build_net
from algorithms.alphazero.replay import ReplayWindow, Samples
from algorithms.alphazero.selfplay import SelfPlayActor
from algorithms.evaluators import (
    MirrorAveraged,
    OnnxEvaluator,
    TorchEvaluator,
    make_evaluator,
    play_backend,
    selfplay_backend,
)
from algorithms.nets import PolicyValueNet
from core.checkpoint import capture_rng, restore_rng
from core.config import config_to_dict
from core.device import resolve_device
from core.errors import ArenaError
from core.progress import ProgressBar
from core.run import Run


class Training:
    """The learner's side of a run: net, optimizer, replay window, counters, evaluation and checkpoints."""

    def __init__(self, config: AZConfig, run: Run | None, device: torch.device | None = None) -> None:
        self.config = config
        self.run = run
        self.device = device or resolve_device(config.run.device)
        self.game = run_game(config)
        self.play_search = play_search(config)  # a bad eval section fails here, not at the first evaluation
        self.rng = np.random.default_rng(config.run.seed)
        self.net = build_net(config, self.game, self.device)
        self.learner = Learner(self.net, config.learn, self.device)
        self.replay = ReplayWindow(config.learn.replay_window, self.game.obs_shape, self.game.num_actions)
        self.counters = {"steps": 0, "games": 0, "moves": 0, "samples": 0, "simulations": 0}
        payload = run.restore() if run is not None else None
        if payload is not None:
            check_net_game(payload, self.game, str(run.path))
            check_draw_head(payload, config.draw_head, str(run.path))
            self.net.load_state_dict(payload["net"])
            acting_state = payload.get("acting_net", payload["net"])
            self.learner.optimizer.load_state_dict(payload["optimizer"])
            self.counters.update(payload["counters"])
            restore_rng(payload["rng"], {"main": self.rng})
            if "replay" in payload:
                self.replay.load_state_dict(payload["replay"])
            self.learner.steps = self.counters["steps"]
        elif config.learn.init_weights:
            self._init_weights(config.learn.init_weights)
        # evaluation and gating judge the float net: `auto` is never the int8 graph (play_backend)
        self.evaluator = make_evaluator(self.net, self.device, play_backend(config.selfplay.inference))
        # with gating, self-play uses the best weights so far; without, the learner's newest
        self.acting_net = copy.deepcopy(self.net) if config.eval.gate else self.net
        if config.eval.gate and payload is not None:
            self.acting_net.load_state_dict(acting_state)
        self.owed_updates = 0.0
        self.losses: dict[str, float] = {}
        self.last_eval: dict[str, float] = {}
        self._last_log = time.perf_counter()
        self._opponents: dict[str, Agent] | None = None

    def _init_weights(self, source: str) -> None:
        try:
            file, payload = load_az_payload(source, self.config.game)
        except ArenaError as error:
            raise ArenaError(f"learn.init_weights: {error}") from None
        check_net_game(payload, self.game, f"learn.init_weights: {file}")
        if payload["az"]["net"] != self.config.net:
            raise ArenaError(
                f"learn.init_weights: {file} holds a {payload['az']['net']} net, this run builds {self.config.net}"
            )
        weights = dict(payload["net"])
        if self.net.draw_head != PolicyValueNet.has_draw_head(weights):
            # start from the rest: a draw head the weights lack starts fresh, one this run has no use for is dropped
            own = self.net.state_dict()
            weights = {k: v for k, v in weights.items() if not k.startswith("draw_fc.")}
            weights |= {k: v for k, v in own.items() if k.startswith("draw_fc.")}
        self.net.load_state_dict(weights)

    @cached_property
    def acting_evaluator(self) -> OnnxEvaluator | TorchEvaluator:
        """The evaluator one-process self-play searches with (the int8 graph where it pays off); built on first use,
        since a learner rank under mpirun never self-plays."""
        inference = selfplay_backend(self.config.selfplay.inference, self.device, self.acting_net)
        if self.config.eval.gate or inference != play_backend(inference):
            return make_evaluator(self.acting_net, self.device, inference)
        return self.evaluator

    @property
    def steps(self) -> int:
        """Learner updates so far (the run's step counter)."""
        return self.learner.steps

    @property
    def done(self) -> bool:
        """Whether `learn.total_steps` updates are done."""
        return self.learner.steps >= self.config.learn.total_steps

    def add(self, samples: Samples) -> None:
        """New self-play samples: into the window, and they earn updates at the replay ratio."""
        self.replay.add(samples)
        self.counters["samples"] += len(samples)
        if len(self.replay) >= self.config.learn.min_replay:
            self.owed_updates += len(samples) * self.config.learn.replay_ratio / self.config.learn.batch_size

    def update_ready(self) -> bool:
        """Whether an update is owed (enough samples arrived since the last one) and the run is not done."""
        return self.owed_updates >= 1 and not self.done

    def update(self, allreduce: Any = None) -> int:
        """One learner step (then logging, evaluation and checkpoints when due); returns the new step."""
        self.owed_updates -= 1
        batch = self.replay.sample(self.config.learn.batch_size, self.rng)
        self.losses = self.learner.update(batch, allreduce)
        step = self.learner.steps
        if step % 20 == 0 or self.done:
            now = time.perf_counter()
            figures = {f"selfplay/{k}": self.counters[k] for k in ("games", "moves", "samples", "simulations")}
            figures |= {"replay/size": len(self.replay), "time/steps_per_s": 20 / max(now - self._last_log, 1e-9)}
            self.log({**self.losses, **figures}, step)
            self._last_log = now
        if self.config.eval.gate and step % self.config.eval.gate_every == 0:
            self.gate(step)
        if step % self.config.eval.every == 0 or self.done:
            self.last_eval = self.evaluate(step)
        if step % self.config.run.checkpoint_every == 0 or self.done:
            self.save()
        return step

    def log(self, figures: dict[str, Any], step: int) -> None:
        """Log through the run's Tracker (if this process has a run)."""
        if self.run is not None:
            self.run.log(figures, step=step)

    def evaluate(self, step: int) -> dict[str, float]:
        """Play the evaluation opponents (and Pons' sets for Connect Four); log and return the figures."""
        config = self.config
        if self.run is None:  # a learner rank other than 0: rank 0 evaluates the shared weights
            return {}
        if self._opponents is None:
            self._opponents = {spec: make_agent(spec, self.game) for spec in config.eval.opponents}
        search = self.play_search
        self.evaluator.refresh()
        evaluator = MirrorAveraged(self.evaluator, self.game) if config.eval.mirror else self.evaluator
        figures: dict[str, float] = {}
        for spec, opponent in self._opponents.items():
            result = evaluate_against(
                self.game, evaluator, opponent, config.eval.games, search, self.rng, config.eval.opening_plies
            )
            figures |= {f"eval/{spec}/{k}": v for k, v in result.items()}
        if config.eval.pons and self.game.name == "connect_four":
            figures |= pons_figures(self.evaluator, evaluator, self.game, config.eval.pons_positions, search)
        if figures:
            self.log(figures, step)
        return figures

    def gate(self, step: int) -> bool:
        """SPRT of the newest weights against the acting ones; promote them if H1 (stronger) is accepted."""
        config = self.config
        if self.run is None:  # a learner rank other than 0: rank 0 gates and shares the acting weights
            return False
        search = self.play_search
        inference = play_backend(config.selfplay.inference)
        device = str(self.device)
        mirror = config.eval.mirror
        candidate = AlphaZeroAgent(
            self.net, self.game, search, device=device, name="candidate", inference=inference, mirror=mirror
        )
        best = AlphaZeroAgent(
            self.acting_net, self.game, search, device=device, name="best", inference=inference, mirror=mirror
        )
        result = run_sprt(
            self.game,
            candidate,
            best,
            elo0=0.0,
            elo1=config.eval.gate_elo1,
            max_games=config.eval.gate_max_games,
            seed=int(self.rng.integers(2**31)),
        )
        promoted = result.accepted == "H1"
        if promoted:
            self.acting_net.load_state_dict(self.net.state_dict())
            self.acting_evaluator.refresh()
        self.log(
            {
                "gate/llr": result.llr,
                "gate/promoted": float(promoted),
                "gate/games": result.wins + result.losses + result.draws,
            },
            step,
        )
        return promoted

    def save(self) -> None:
        """Checkpoint everything a resumed run needs (the replay window too, if configured)."""
        if self.run is None:
            return
        self.counters["steps"] = self.learner.steps
        state = {
            "net": self.net.state_dict(),
            "acting_net": self.acting_net.state_dict(),
            "optimizer": self.learner.optimizer.state_dict(),
            "counters": dict(self.counters),
            "rng": capture_rng({"main": self.rng}),
            "config": config_to_dict(self.config),
            "az": {"game": self.config.game, "game_options": self.game.options, "net": self.config.net},
        }
        if self.config.learn.checkpoint_replay:
            state["replay"] = self.replay.state_dict()
        self.run.save(state, self.learner.steps)

    def summary(self) -> dict[str, float]:
        """Final figures."""
        return {"steps": self.learner.steps, "games": self.counters["games"], **self.last_eval}

    # -- the learner role of `arena selfplay` (see runners/selfplay.py) ---------------------------------------

    @property
    def log_step(self) -> int:
        """Figures are logged at the update count."""
        return self.learner.steps

    @property
    def publish_every(self) -> int:
        """Updates between weight versions."""
        return self.config.distributed.publish_every

    @property
    def max_staleness(self) -> int:
        """Samples of weights more versions old than this are dropped."""
        return self.config.distributed.max_staleness

    @property
    def gated(self) -> bool:
        """Whether actors play with SPRT-gated weights (learner 0 decides them)."""
        return self.config.eval.gate

    def receive(self, payload: dict[str, Any], stale: bool = False) -> None:
        """One actor's finished games (counted even when too stale to learn from)."""
        for key in ("games", "moves", "simulations"):
            self.counters[key] += payload[key]
        if not stale:
            self.add(Samples(*(payload[k] for k in Samples.FIELDS)))

    def acting_state(self) -> dict[str, torch.Tensor]:
        """The weights actors play with."""
        return self.acting_net.state_dict()

    def shared_state(self) -> dict[str, Any]:
        """What learner 0 gives the other learners at the start: weights, optimizer, counters."""
        return {
            "net": self.net.state_dict(),
            "opt": self.learner.optimizer.state_dict(),
            "steps": self.learner.steps,
            "counters": self.counters,
        }

    def load_shared_state(self, shared: dict[str, Any]) -> None:
        """Take learner 0's `shared_state`."""
        self.net.load_state_dict(shared["net"])
        self.learner.optimizer.load_state_dict(shared["opt"])
        self.learner.steps = shared["steps"]
        self.counters.update(shared["counters"])


def learner_role(config: AZConfig, run: Run | None, device: torch.device, num_actors: int) -> Training:
    """The learner of `arena selfplay` for AlphaZero."""
    return Training(config, run, device)


class AZActor:
    """The actor role of `arena selfplay` for AlphaZero: batched self-play with its own copy of the net."""

    def __init__(self, config: AZConfig, index: int, num_actors: int, share: int, device: torch.device) -> None:
        game = run_game(config)
        self.net = build_net(config, game, device)
        rng = np.random.default_rng([config.run.seed, index, time.time_ns()])  # new games after every restart
        self.evaluator = make_evaluator(self.net, device, selfplay_backend(config.selfplay.inference, device, self.net))
        self.actor = SelfPlayActor(game, self.evaluator, config.selfplay, rng)
        learn, distributed = config.learn, config.distributed
        # the learner consumes this many samples of this actor's per weight version
        self.per_version = distributed.publish_every * learn.batch_size / learn.replay_ratio / share
        self.lead = learn.min_replay / share + self.per_version * max(distributed.max_staleness, 1)
        self._sent = {"games": 0, "moves": 0, "simulations": 0}
        self._window = (time.perf_counter(), dict(self._sent), 0)

    def _counts(self) -> dict[str, int]:
        actor = self.actor
        return {"games": actor.games_played, "moves": actor.moves_played, "simulations": actor.simulations}

    def budget(self, versions: int) -> float:
        """Samples it may have sent after `versions` new weight versions: the learner's pace plus a lead."""
        return self.lead + self.per_version * versions

    def load_weights(self, state: dict[str, torch.Tensor]) -> None:
        """Play with these weights from now on."""
        self.net.load_state_dict(state)
        self.evaluator.refresh()

    def step(self) -> dict[str, Any] | None:
        """One move of every game; the games that finished as a message (None if none did)."""
        samples = self.actor.step()
        start, counts, window_samples = self._window
        self._window = (start, counts, window_samples + len(samples))
        if len(samples) == 0:
            return None
        now = self._counts()
        deltas = {k: now[k] - self._sent[k] for k in now}
        self._sent = now
        return {k: getattr(samples, k) for k in Samples.FIELDS} | {"samples": len(samples), **deltas}

    def rates(self) -> dict[str, float]:
        """Games, samples, simulations and moves per second since the last call."""
        start, counts, samples = self._window
        elapsed = max(time.perf_counter() - start, 1e-9)
        now = self._counts()
        self._window = (time.perf_counter(), now, 0)
        rates = {f"{k}_per_s": (now[k] - counts[k]) / elapsed for k in now}
        return rates | {"samples_per_s": samples / elapsed}

    def close(self) -> None:
        """Nothing to release."""


def train(config: AZConfig, run: Run) -> dict[str, float]:
    """Self-play and learn in one process until `learn.total_steps` updates; evaluate and checkpoint on the way."""
    if config.run.torch_threads:
        torch.set_num_threads(config.run.torch_threads)
    training = Training(config, run)
    before = dict(training.counters)  # the actor counts from zero in this process
    evaluator = training.acting_evaluator
    actor = SelfPlayActor(training.game, evaluator, config.selfplay, training.rng)
    refreshed = training.steps
    try:
        with ProgressBar(config.learn.total_steps, f"az {training.game.name}", completed=training.steps) as bar:
            while not training.done:
                training.add(actor.step())
                for key, played in (("games", actor.games_played), ("moves", actor.moves_played)):
                    training.counters[key] = before[key] + played
                training.counters["simulations"] = before["simulations"] + actor.simulations
                stats = actor.take_stats() if training.update_ready() else {}
                while training.update_ready():
                    step = training.update()
                    bar.update(completed=step, loss=training.losses.get("learn/loss"), games=training.counters["games"])
                if not config.eval.gate and training.steps - refreshed >= config.selfplay.refresh_every:
                    evaluator.refresh()  # gated weights refresh when a candidate is promoted
                    refreshed = training.steps
                if stats:
                    training.log(stats, training.steps)
    except KeyboardInterrupt:
        training.save()
        raise
    return training.summary()
