"""AlphaZero: batched self-play with PUCT search guided by a policy/value net, and the learner that trains it.

```
SelfPlayActor  many games in lockstep, one BatchedMCTS  ──samples (obs, search policy, outcome)──>  ReplayWindow
Learner        minibatch Adam on policy cross-entropy + value MSE (+ L2 through weight decay)  <──  ReplayWindow
```

`train(config, run)` runs both in one process (`arena train configs/az_tictactoe.yaml`); `arena selfplay` runs
the same actor and learner in separate MPI ranks. A checkpoint is an Agent: `az:runs/c4/latest,sims=200`,
and `az:connect_four` / `az:tictactoe` load the weights shipped under `models/`.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from agents import make_agent
from agents.base import Agent
from agents.matches import random_opening, run_sprt
from agents.mcts import BatchedMCTS, SearchConfig, sample_action, temperature_at
from algorithms.evaluators import Backend, make_evaluator
from algorithms.nets import PolicyValueNet
from core.checkpoint import atomic_write_bytes, capture_rng, load_checkpoint_file, load_newest_checkpoint, restore_rng
from core.config import DistributedConfig, RunConfig, TrackingConfig, build_config, config_to_dict, param, section
from core.device import resolve_device
from core.errors import ArenaError
from core.progress import ProgressBar
from envs import make_game
from envs.base import Game
from envs.pons import SETS, load_pons

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
"""Shipped weights: `az:<game>` loads `models/<game>.pt`."""


# ---------------------------------------------------------------------------------------------------------------
# Config


@dataclass(frozen=True)
class SelfPlayConfig:
    """How self-play games are played and turned into samples."""

    parallel_games: int = param(128, ge=1)
    """Games searched in lockstep: each evaluator call holds one leaf from each (bigger batches, fewer calls)."""
    search: Literal["puct", "gumbel"] = "gumbel"
    """Search: `puct` (AlphaZero, Dirichlet noise, visit-share targets) or `gumbel` (Gumbel AlphaZero: sequential
    halving at the root, improved-policy targets; strong with 8-32 simulations). Evaluation and `az:` agents of
    this run search the same way."""
    simulations: int = param(32, ge=1)
    """Simulations of a full search."""
    solver: bool = True
    """Exact values in the tree: proven wins and losses propagate up, solved nodes get no simulations."""
    max_considered: int = param(16, ge=1)
    """Gumbel: actions sampled at the root (Gumbel-top-k) for sequential halving."""
    c_scale: float = param(0.1, gt=0)
    """Gumbel: sigma(q) = (c_visit + max visits) * c_scale * q (q min-max rescaled among the children)."""
    c_visit: float = param(50.0, gt=0)
    """Gumbel: see c_scale."""
    opening_plies: int = param(2, ge=0)
    """Each self-play game starts from 0..opening_plies uniformly random moves (more varied games)."""
    inference: Backend = "auto"
    """Self-play and evaluation inference: `onnx` (ONNX Runtime, CPU), `torch`, or `auto` (onnx on CPU when
    installed, torch on CUDA)."""
    refresh_every: int = param(10, ge=1)
    """One process: learner updates between refreshes of the self-play evaluator's weights (an ONNX re-export)."""
    fast_simulations: int = param(0, ge=0)
    """Playout cap randomization (KataGo): simulations of a fast search; 0 = every search is full."""
    full_search_fraction: float = param(0.25, gt=0, le=1)
    """With playout caps, the share of moves searched fully; only those make policy targets."""
    c_puct: float = param(1.5, gt=0)
    """Exploration weight of the prior in PUCT."""
    fpu_reduction: float = param(0.2, ge=0)
    """First-play urgency: unvisited children are valued at the parent's value minus this."""
    dirichlet_alpha: float = param(1.0, gt=0)
    """Root noise concentration (about 10 / typical number of legal moves)."""
    dirichlet_fraction: float = param(0.25, ge=0, le=1)
    """Share of root noise in the priors during self-play."""
    temperature_moves: int = param(6, ge=0)
    """Moves played at temperature 1 (proportional to visits) at the start of each game; greedy after."""
    root_value_mix: float = param(0.0, ge=0, le=1)
    """Value target = (1 - mix) * game outcome + mix * root search value (0 = outcome only, as AlphaZero)."""
    tree_reuse: bool = True
    """Keep the subtree of the chosen move as the next search's tree."""


@dataclass(frozen=True)
class LearnConfig:
    """The learner: replay window, optimizer and how fast it consumes samples."""

    total_steps: int = param(800, ge=1)
    """Learner updates (minibatches) in the whole run."""
    batch_size: int = param(256, ge=1)
    """Samples per update."""
    learning_rate: float = param(2e-3, gt=0)
    """Adam step size (at the start, with `lr_schedule: cosine`)."""
    lr_schedule: Literal["constant", "cosine"] = "constant"
    """`cosine` anneals the step size from `learning_rate` to `lr_final_fraction` of it at `total_steps`."""
    lr_final_fraction: float = param(0.1, ge=0, le=1)
    """With the cosine schedule, the last step size as a fraction of the first."""
    weight_decay: float = param(1e-4, ge=0)
    """L2 penalty on the weights (coupled, as AlphaZero's L2 term)."""
    replay_window: int = param(20_000, ge=1)
    """Most recent samples kept for training (symmetries included)."""
    min_replay: int = param(2_000, ge=1)
    """Samples to collect before the first update."""
    replay_ratio: float = param(4.0, gt=0)
    """Times each new sample is used in an update, on average: updates per new sample = ratio / batch_size."""
    checkpoint_replay: bool = True
    """Save the replay window in checkpoints, so a resumed run trains on the same data."""


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation games against fixed opponents during training."""

    every: int = param(400, ge=1)
    """Learner steps between evaluations (also at the end)."""
    games: int = param(20, ge=2)
    """Games per opponent, half with each colour."""
    opponents: tuple[str, ...] = ("random", "minimax:depth=2")
    """Agent specs to play against."""
    simulations: int = param(100, ge=1)
    """Simulations per move of the evaluated agent (its run's search without noise)."""
    opening_plies: int = param(2, ge=0)
    """Random moves that open each pair of evaluation games (shared by the pair, one game with each colour)."""
    pons: bool = False
    """Connect Four only: also report mistake rates on Pons' benchmark sets (see `arena bench pons`)."""
    pons_positions: int = param(200, ge=1)
    """Positions per Pons set in that report."""
    gate: bool = False
    """Gate new weights with an SPRT (AlphaGo Zero style): self-play keeps the best weights until a candidate
    proves stronger. Off by default, as in AlphaZero, which always plays with the newest weights."""
    gate_every: int = param(500, ge=1)
    """Learner steps between gating matches."""
    gate_elo1: float = param(30.0, gt=0)
    """The SPRT's H1: the candidate is this many Elo stronger (H0: no stronger); 5% error rates."""
    gate_max_games: int = param(200, ge=2)
    """Games after which an undecided SPRT keeps the old weights."""


@dataclass(frozen=True)
class AZConfig:
    """AlphaZero on a board game: self-play, learner, evaluation. The defaults: a few minutes of Connect Four."""

    algo: Literal["az"] = "az"
    """Algorithm: AlphaZero."""
    game: str = "connect_four"
    """Board game: tictactoe, connect_four, othello, gomoku."""
    net: str = "resnet-3x32"
    """Network preset (a resnet preset of algorithms/nets.py), e.g. resnet-5x64."""
    selfplay: SelfPlayConfig = section(SelfPlayConfig)
    """Self-play."""
    learn: LearnConfig = section(LearnConfig)
    """Learner."""
    eval: EvalConfig = section(EvalConfig)
    """Evaluation."""
    distributed: DistributedConfig = section(DistributedConfig)
    """MPI self-play roles and flow control."""
    run: RunConfig = section(RunConfig)
    """Run dir, seed, device, checkpoints."""
    tracking: TrackingConfig = section(TrackingConfig)
    """W&B and metrics.jsonl."""


# ---------------------------------------------------------------------------------------------------------------
# Evaluator


def search_config(selfplay: SelfPlayConfig, simulations: int, evaluation: bool = False) -> SearchConfig:
    """The one place a run's search settings become a SearchConfig: self-play (with root noise) or evaluation.

    Evaluation, gating, Pons figures and `az:` agents all come through here, so they search as self-play does,
    only without noise.
    """
    return SearchConfig(
        simulations=simulations,
        c_puct=selfplay.c_puct,
        dirichlet_alpha=selfplay.dirichlet_alpha,
        dirichlet_fraction=0.0 if evaluation else selfplay.dirichlet_fraction,
        fpu_reduction=selfplay.fpu_reduction,
        kind=selfplay.search,
        solver=selfplay.solver,
        max_considered=selfplay.max_considered,
        gumbel_scale=0.0 if evaluation else 1.0,
        c_visit=selfplay.c_visit,
        c_scale=selfplay.c_scale,
    )


# ---------------------------------------------------------------------------------------------------------------
# Self-play


@dataclass
class Samples:
    """Training samples: planes, search policies, value targets."""

    obs: np.ndarray  # [S, C, H, W] float32
    policy: np.ndarray  # [S, A] float32
    value: np.ndarray  # [S] float32, from the side to move

    def __len__(self) -> int:
        return len(self.value)

    @staticmethod
    def concatenate(parts: list[Samples], obs_shape: tuple[int, ...], num_actions: int) -> Samples:
        """Join sample batches (an empty list gives empty arrays of the right shapes)."""
        if not parts:
            return Samples(
                np.zeros((0, *obs_shape), np.float32), np.zeros((0, num_actions), np.float32), np.zeros(0, np.float32)
            )
        return Samples(*(np.concatenate([getattr(p, k) for p in parts]) for k in ("obs", "policy", "value")))


class SelfPlayActor:
    """Plays `parallel_games` games at once; each `step` searches every game once and plays one move in each."""

    def __init__(self, game: Any, evaluator: Any, config: SelfPlayConfig, rng: np.random.Generator) -> None:
        self.game = game
        self.config = config
        self.rng = rng
        self.mcts = BatchedMCTS(evaluator, game.num_actions, search_config(config, config.simulations), rng)
        self.states = [self._new_game() for _ in range(config.parallel_games)]
        self.mcts.reset(self.states)
        # per game: (obs, policy, player, root value) of each fully searched move
        self.records: list[list[tuple[np.ndarray, np.ndarray, int, float]]] = [[] for _ in self.states]
        self.games_played = 0
        self.moves_played = 0
        self.simulations = 0
        self.finished_lengths: list[int] = []
        self.finished_outcomes: list[float] = []  # first player's return

    def step(self) -> Samples:
        """Search every game once, play a move in each, and return the samples of the games that ended."""
        config = self.config
        full = config.fast_simulations == 0 or self.rng.random() < config.full_search_fraction
        simulations = config.simulations if full else config.fast_simulations
        # a fast search only picks a move: no root noise, and its result makes no policy target
        result = self.mcts.search(simulations, noise=full)
        self.simulations += simulations * len(self.states)
        finished: list[Samples] = []
        for g, state in enumerate(self.states):
            if full:
                self.records[g].append(
                    (state.observation(), result.policy[g], state.current_player(), float(result.value[g]))
                )
            action = int(result.action[g])
            # Gumbel's move is already a sample (the Gumbel noise); PUCT samples visits early in the game
            if config.search == "puct" and full and temperature_at(len(state.moves), config.temperature_moves) > 0:
                action = sample_action(result.visits[g], 1.0, self.rng)
            state = state.apply(action)
            self.moves_played += 1
            if state.is_terminal():
                finished.append(self._finish(g, state))
                state = self._new_game()
                self.mcts.replace_root(g, state)
            elif config.tree_reuse:
                self.mcts.advance(g, action)
            else:
                self.mcts.replace_root(g, state)
            self.states[g] = state
        return Samples.concatenate(finished, self.game.obs_shape, self.game.num_actions)

    def _new_game(self) -> Any:
        """A fresh game, after 0..opening_plies random moves that do not end it."""
        state = self.game.initial_state()
        for _ in range(int(self.rng.integers(0, self.config.opening_plies + 1))):
            following = state.apply(int(self.rng.choice(state.legal_actions())))
            if following.is_terminal():
                break
            state = following
        return state

    def _finish(self, g: int, final: Any) -> Samples:
        returns = final.returns()
        mix = self.config.root_value_mix
        obs, policy, value = [], [], []
        for planes, pi, player, root_value in self.records[g]:
            target = (1 - mix) * float(returns[player]) + mix * root_value
            for sym_obs, sym_pi in final.symmetries(planes, pi):
                obs.append(sym_obs)
                policy.append(sym_pi)
                value.append(target)
        self.records[g] = []
        self.games_played += 1
        self.finished_lengths.append(len(final.moves))
        self.finished_outcomes.append(float(returns[0]))
        if not obs:
            return Samples.concatenate([], self.game.obs_shape, self.game.num_actions)
        return Samples(
            np.stack(obs).astype(np.float32), np.stack(policy).astype(np.float32), np.asarray(value, np.float32)
        )

    def take_stats(self) -> dict[str, float]:
        """Figures of the games finished since the last call."""
        stats = {}
        if self.finished_lengths:
            outcomes = np.asarray(self.finished_outcomes)
            stats = {
                "selfplay/game_length": float(np.mean(self.finished_lengths)),
                "selfplay/first_player_wins": float(np.mean(outcomes > 0)),
                "selfplay/draws": float(np.mean(outcomes == 0)),
            }
        self.finished_lengths, self.finished_outcomes = [], []
        return stats


# ---------------------------------------------------------------------------------------------------------------
# Learner


class ReplayWindow:
    """The most recent `capacity` samples in a ring; uniform minibatches."""

    def __init__(self, capacity: int, obs_shape: tuple[int, ...], num_actions: int) -> None:
        self.capacity = capacity
        self.obs = np.zeros((capacity, *obs_shape), np.float32)  # [N, C, H, W]
        self.policy = np.zeros((capacity, num_actions), np.float32)  # [N, A]
        self.value = np.zeros(capacity, np.float32)  # [N]
        self.size = 0
        self.cursor = 0
        self.added = 0

    def __len__(self) -> int:
        return self.size

    def add(self, samples: Samples) -> None:
        """Append samples, overwriting the oldest when full."""
        n = len(samples)
        if n == 0:
            return
        if n > self.capacity:
            samples = Samples(
                samples.obs[-self.capacity :], samples.policy[-self.capacity :], samples.value[-self.capacity :]
            )
            n = self.capacity
        index = (self.cursor + np.arange(n)) % self.capacity
        self.obs[index], self.policy[index], self.value[index] = samples.obs, samples.policy, samples.value
        self.cursor = (self.cursor + n) % self.capacity
        self.size = min(self.size + n, self.capacity)
        self.added += n

    def sample(self, batch_size: int, rng: np.random.Generator) -> Samples:
        """A uniform minibatch (with replacement)."""
        index = rng.integers(0, self.size, batch_size)
        return Samples(self.obs[index], self.policy[index], self.value[index])

    def state_dict(self) -> dict[str, Any]:
        """Contents as tensors (checkpoints refuse numpy arrays)."""
        order = (self.cursor - self.size + np.arange(self.size)) % self.capacity  # oldest first
        return {
            "obs": torch.from_numpy(self.obs[order]),
            "policy": torch.from_numpy(self.policy[order]),
            "value": torch.from_numpy(self.value[order]),
            "added": self.added,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Refill from `state_dict` output."""
        self.size = self.cursor = 0
        self.add(Samples(state["obs"].numpy(), state["policy"].numpy(), state["value"].numpy()))
        self.added = int(state["added"])


class Learner:
    """Adam on policy cross-entropy + value MSE, L2 through weight decay."""

    def __init__(self, net: PolicyValueNet, config: LearnConfig, device: torch.device) -> None:
        self.net = net
        self.config = config
        self.device = device
        self.optimizer = torch.optim.Adam(net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
        self.steps = 0

    def learning_rate(self) -> float:
        """The step size of the next update under the schedule."""
        config = self.config
        if config.lr_schedule == "constant":
            return config.learning_rate
        progress = min(self.steps / config.total_steps, 1.0)
        final = config.lr_final_fraction
        return config.learning_rate * (final + (1 - final) * 0.5 * (1 + math.cos(math.pi * progress)))

    def update(self, batch: Samples, allreduce: Any = None) -> dict[str, float]:
        """One gradient step on a minibatch; `allreduce(grads)` averages gradients over learners first."""
        self.net.train()
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate()
        obs = torch.from_numpy(batch.obs).to(self.device)
        target_policy = torch.from_numpy(batch.policy).to(self.device)  # [B, A]
        target_value = torch.from_numpy(batch.value).to(self.device)  # [B]
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
            logits, values = self.net(obs)
        log_probs = F.log_softmax(logits.float(), dim=-1)
        policy_loss = -(target_policy * log_probs).sum(-1).mean()
        value_loss = F.mse_loss(values.float(), target_value)
        loss = policy_loss + value_loss
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if allreduce is not None:
            allreduce([p.grad for p in self.net.parameters() if p.grad is not None])
        self.optimizer.step()
        self.steps += 1
        # the policy's entropy against the targets' shows whether the net follows the search
        entropy = -(log_probs.exp() * log_probs).nan_to_num().sum(-1).mean()
        return {
            "learn/loss": loss.item(),
            "learn/policy_loss": policy_loss.item(),
            "learn/value_loss": value_loss.item(),
            "learn/policy_entropy": entropy.item(),
            "learn/learning_rate": self.optimizer.param_groups[0]["lr"],
        }


def build_net(config: AZConfig, game: Any, device: torch.device) -> PolicyValueNet:
    """The policy/value net for `game`, seeded by the run's seed."""
    torch.manual_seed(config.run.seed)
    return PolicyValueNet(config.net, game.obs_shape, game.num_actions).to(device)


# ---------------------------------------------------------------------------------------------------------------
# The Agent


class AlphaZeroAgent(Agent):
    """A trained net with search (PUCT or Gumbel, as configured): `act` searches and plays search's move.

    After each move, `last_search` holds what the search thought: `visits` (the share of root visits per
    action, a list of `num_actions` floats), `policy` (the search policy), and `value` (the searching side's
    expected outcome in [-1, 1]); `proven` is that value when the solver proved it, else None.
    """

    def __init__(
        self,
        net: PolicyValueNet,
        game: Any,
        search: SearchConfig,
        device: str = "cpu",
        name: str = "az",
        inference: Backend = "auto",
    ) -> None:
        super().__init__(game, seed=0)
        self.name = name
        self.simulations = search.simulations
        self.config = search
        self.evaluator = make_evaluator(net.eval(), resolve_device(device), inference)
        self.last_search: dict[str, Any] | None = None

    def search(self, state: Any) -> dict[str, Any]:
        """Search `state` from a fresh tree; what it found, as `last_search` describes."""
        mcts = BatchedMCTS(self.evaluator, self.game.num_actions, self.config, self.rng)
        mcts.reset([state])
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

    def act_batch(self, states: list[Any], chunk: int = 256) -> np.ndarray:
        """[N] search's move in each of many positions, `chunk` searched in lockstep (one net call a simulation)."""
        parts = []
        for start in range(0, len(states), chunk):
            mcts = BatchedMCTS(self.evaluator, self.game.num_actions, self.config, self.rng)
            mcts.reset(states[start : start + chunk])
            parts.append(mcts.search(noise=False).action)
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def act(self, state: Any) -> int:
        """Search's move (the most visited for PUCT, sequential halving's winner for Gumbel, a proven win)."""
        self.last_search = self.search(state)
        return self.last_search["action"]

    def value(self, state: Any) -> float:
        """The search value of the last position this agent moved in (or a fresh search of `state`)."""
        if self.last_search is None:
            return self.search(state)["value"]
        return self.last_search["value"]


def load_agent(
    game: Game,
    path: str,
    sims: int = 100,
    device: str = "cpu",
    inference: Backend = "auto",
    **search: Any,
) -> AlphaZeroAgent:
    """An AlphaZeroAgent from a checkpoint path, a run dir, or a shipped model name (`connect_four`).

    It searches as the run's self-play did (kind, c_puct, solver, ... from the saved config) without noise;
    keywords in `search` (any SelfPlayConfig field, e.g. `search="gumbel"`, `c_puct=2.0`) override those.
    """
    shipped = MODELS_DIR / f"{path}.pt"
    # a run dir or `latest` whose newest file is truncated gives the previous good one (with a warning)
    file, payload = (shipped, load_checkpoint_file(shipped)) if shipped.is_file() else load_newest_checkpoint(path)
    if "net" not in payload or "az" not in payload:
        raise ArenaError(f"{file} is not an AlphaZero checkpoint (it has no 'net'/'az' entries)")
    meta = payload["az"]
    if meta["game"] != game.name:
        raise ArenaError(f"{file} was trained on {meta['game']}, not {game.name}")
    net = PolicyValueNet(meta["net"], game.obs_shape, game.num_actions)
    net.load_state_dict(payload["net"])
    trained = dict(payload.get("config", {}).get("selfplay", {}))
    trained.setdefault("search", "puct")  # saved before search kinds existed: PUCT was the only one
    given = {k: v for k, v in search.items() if v is not None}
    selfplay = build_config(SelfPlayConfig, trained | given, source=f"az:{path}", where="selfplay")
    return AlphaZeroAgent(
        net, game, search_config(selfplay, sims, evaluation=True), device=device, name=f"az:{path}", inference=inference
    )


# ---------------------------------------------------------------------------------------------------------------
# Evaluation: many games at once, the net's side searched in lockstep


def evaluate_against(
    game: Any,
    evaluator: Any,
    opponent: Any,
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


# ---------------------------------------------------------------------------------------------------------------
# Training: the learner side (shared by one-process `train` and the MPI learner ranks of `arena selfplay`)


class Training:
    """The learner's side of a run: net, optimizer, replay window, counters, evaluation and checkpoints."""

    def __init__(self, config: AZConfig, run: Any, device: torch.device | None = None) -> None:
        self.config = config
        self.run = run
        self.device = device or resolve_device(config.run.device)
        self.game = make_game(config.game)
        self.rng = np.random.default_rng(config.run.seed)
        self.net = build_net(config, self.game, self.device)
        self.learner = Learner(self.net, config.learn, self.device)
        self.replay = ReplayWindow(config.learn.replay_window, self.game.obs_shape, self.game.num_actions)
        self.counters = {"steps": 0, "games": 0, "moves": 0, "samples": 0, "simulations": 0}
        payload = run.restore() if run is not None else None
        if payload is not None:
            self.net.load_state_dict(payload["net"])
            acting_state = payload.get("acting_net", payload["net"])
            self.learner.optimizer.load_state_dict(payload["optimizer"])
            self.counters.update(payload["counters"])
            restore_rng(payload["rng"], {"main": self.rng})
            if "replay" in payload:
                self.replay.load_state_dict(payload["replay"])
            self.learner.steps = self.counters["steps"]
        inference = config.selfplay.inference
        self.evaluator = make_evaluator(self.net, self.device, inference)
        # with gating, self-play uses the best weights so far; without, the learner's newest
        self.acting_net = copy.deepcopy(self.net) if config.eval.gate else self.net
        if config.eval.gate and payload is not None:
            self.acting_net.load_state_dict(acting_state)
        self.acting_evaluator = (
            make_evaluator(self.acting_net, self.device, inference) if config.eval.gate else self.evaluator
        )
        self.owed_updates = 0.0
        self.losses: dict[str, float] = {}
        self.last_eval: dict[str, float] = {}
        self._last_log = time.perf_counter()
        self._opponents: dict[str, Any] | None = None

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
        search = search_config(config.selfplay, config.eval.simulations, evaluation=True)
        self.evaluator.refresh()
        figures: dict[str, float] = {}
        for spec, opponent in self._opponents.items():
            result = evaluate_against(
                self.game, self.evaluator, opponent, config.eval.games, search, self.rng, config.eval.opening_plies
            )
            figures |= {f"eval/{spec}/{k}": v for k, v in result.items()}
        if config.eval.pons and self.game.name == "connect_four":
            figures |= pons_figures(self.evaluator, self.game, config.eval.pons_positions, search)
        if figures:
            self.log(figures, step)
        return figures

    def gate(self, step: int) -> bool:
        """SPRT of the newest weights against the acting ones; promote them if H1 (stronger) is accepted."""
        config = self.config
        if self.run is None:  # a learner rank other than 0: rank 0 gates and shares the acting weights
            return False
        search = search_config(config.selfplay, config.eval.simulations, evaluation=True)
        inference = config.selfplay.inference
        device = str(self.device)
        candidate = AlphaZeroAgent(self.net, self.game, search, device=device, name="candidate", inference=inference)
        best = AlphaZeroAgent(self.acting_net, self.game, search, device=device, name="best", inference=inference)
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
            "az": {"game": self.config.game, "net": self.config.net},
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
            self.add(Samples(payload["obs"], payload["policy"], payload["value"]))

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


def learner_role(config: AZConfig, run: Any, device: torch.device, num_actors: int) -> Training:
    """The learner of `arena selfplay` for AlphaZero."""
    return Training(config, run, device)


class AZActor:
    """The actor role of `arena selfplay` for AlphaZero: batched self-play with its own copy of the net."""

    def __init__(self, config: AZConfig, index: int, num_actors: int, share: int, device: torch.device) -> None:
        game = make_game(config.game)
        self.net = build_net(config, game, device)
        rng = np.random.default_rng([config.run.seed, index, time.time_ns()])  # new games after every restart
        self.evaluator = make_evaluator(self.net, device, config.selfplay.inference)
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
        return {"obs": samples.obs, "policy": samples.policy, "value": samples.value, "samples": len(samples), **deltas}

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


def train(config: AZConfig, run: Any) -> dict[str, float]:
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


def pons_mistake_rates(
    evaluator: Any, game: Any, positions: int | None, search: SearchConfig | None, chunk: int = 256
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
        chosen = values[np.arange(len(moves)), choices]
        rates[SETS[name]] = float((chosen < values.max(axis=1)).sum()) / len(moves)
    return rates


def pons_choices(evaluator: Any, game: Any, move_lists: Any, search: SearchConfig | None) -> np.ndarray:
    """[N] the move chosen in each position given as a move list: searched in one batch, or the net's argmax."""
    states = [game.state_from_moves(str(m)) for m in move_lists]
    if search is None:
        priors, _ = evaluator(np.stack([s.observation() for s in states]), np.stack([s.legal_mask() for s in states]))
        return priors.argmax(axis=1)
    mcts = BatchedMCTS(evaluator, game.num_actions, search, np.random.default_rng(0))
    mcts.reset(states)
    return mcts.search(noise=False).action


def pons_figures(evaluator: Any, game: Any, positions: int, search: SearchConfig) -> dict[str, float]:
    """Pons mistake rates for the training log, with and without search."""
    figures = {f"eval/pons_policy/{k}": v for k, v in pons_mistake_rates(evaluator, game, positions, None).items()}
    searched = pons_mistake_rates(evaluator, game, positions, search)
    return figures | {f"eval/pons_search/{k}": v for k, v in searched.items()}


def export_model(source: str | Path, target: str | Path) -> Path:
    """Copy just the weights and what `az:` needs (no optimizer or replay) from a checkpoint or run dir."""
    payload = load_newest_checkpoint(source)[1]
    if "az" not in payload:
        raise ArenaError(f"{source} is not an AlphaZero checkpoint")
    target = Path(target)
    slim = {k: payload[k] for k in ("format", "step", "net", "az", "config", "counters") if k in payload}
    atomic_write_bytes(target, lambda handle: torch.save(slim, handle))
    return target


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Export AlphaZero weights for shipping under models/.")
    parser.add_argument("source", help="checkpoint file or run dir")
    parser.add_argument("target", help="e.g. models/connect_four.pt")
    cli = parser.parse_args()
    print(export_model(cli.source, cli.target))
