"""AlphaZero's configs (self-play, learner, evaluation, the whole run) and the one builder of its SearchConfig."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from agents.mcts import SearchConfig
from algorithms.evaluators import Backend
from core.config import DistributedConfig, RunConfig, TrackingConfig, param, section
from core.device import Precision
from core.errors import ArenaError
from envs import GAME_REGISTRY, Game, make_game


@dataclass(frozen=True)
class SelfPlayConfig:
    """How self-play games are played and turned into samples."""

    parallel_games: int = param(128, ge=1)
    """Games searched in lockstep: each evaluator call holds one leaf from each (bigger batches, fewer calls)."""
    search: Literal["puct", "gumbel"] = "gumbel"
    """Search: `puct` (AlphaZero, Dirichlet noise, visit-share targets) or `gumbel` (Gumbel AlphaZero: sequential
    halving at the root, improved-policy targets; strong with 8-32 simulations). Evaluation and `az:` agents of
    this run search the same way."""
    simulations: int = param(16, ge=1)
    """Simulations of a full search. `make run`'s 16 at replay ratio 2 (twice the games of 32 at 4 for the same
    learner steps and about the same wall time) won 80% of 360 games against minimax:depth=2 over six seeds,
    where 32 at 4 won 75% (README)."""
    solver: bool = True
    """Exact values in the tree: proven wins and losses propagate up, solved nodes get no simulations."""
    max_considered: int = param(16, ge=1)
    """Gumbel: actions sampled at the root (Gumbel-top-k) for sequential halving."""
    c_scale: float = param(0.1, gt=0)
    """Gumbel: sigma(q) = (c_visit + max visits) * c_scale * q (q min-max rescaled among the children)."""
    c_visit: float = param(50.0, gt=0)
    """Gumbel: see c_scale."""
    gumbel_noise_moves: int = param(0, ge=0)
    """Gumbel: only the first this many moves of a game (random opening moves included) are searched with Gumbel
    noise, so played as samples; later moves are the noiseless search's best (cleaner outcomes as value
    targets, less variety). 0: every move, as the paper. `make run` measured no difference beyond run-to-run
    spread (README)."""
    opening_plies: int = param(2, ge=0)
    """Each self-play game starts from 0..opening_plies uniformly random moves (more varied games)."""
    inference: Backend = "auto"
    """Self-play inference: `onnx` (ONNX Runtime, CPU), `onnx-int8` (its int8-quantized graph: ~2.3x the
    simulations/s of `onnx` here; 0.5x on the H200 machine's host, VNNI too), `torch`, or `auto` (onnx-int8 on a
    CPU with VNNI where it measures at least 1.2x the float graph when self-play starts, else onnx on CPU when
    installed, torch on CUDA). Evaluation and gating use the float graph (`onnx` for `onnx-int8`)."""
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
    root_value_mix: float = param(0.5, ge=0, le=1)
    """Value target = (1 - mix) * game outcome + mix * root search value (0 = outcome only, as AlphaZero; 0.5
    averages the two, as "Lessons from AlphaZero" did for Connect Four). Four `make run` trainings a side: 0.5
    won 70/85/80/90% of the 20 in-run games against minimax:depth=2 where 0 won 55/45/55/65%, and scored
    0.758 against 0.562 on average over 60 more each (README)."""
    tree_reuse: bool = True
    """Keep the subtree of the chosen move as the next search's tree."""


@dataclass(frozen=True)
class LearnConfig:
    """The learner: replay window, optimizer and how fast it consumes samples."""

    total_steps: int = param(2500, ge=1)
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
    replay_ratio: float = param(2.0, gt=0)
    """Times each new sample is used in an update, on average: updates per new sample = ratio / batch_size."""
    precision: Precision = "auto"
    """The learner's arithmetic: `bfloat16` autocast (float weights and losses) or `float32`; `auto` takes bf16 on
    CUDA and on CPUs that compute it natively (AVX-512 BF16/AMX: 1.7-1.8x faster steps here), float elsewhere."""
    init_weights: str = ""
    """Start the net from these weights (a checkpoint, a run dir, or a shipped model name such as `connect_four`)
    of the same game and net preset: optimizer, replay window and step counter start fresh. How a run goes on when
    only its exported weights are left; ignored when a run resumes from its own checkpoint."""
    checkpoint_replay: bool = True
    """Save the replay window in checkpoints, so a resumed run trains on the same data."""


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation games against fixed opponents during training."""

    every: int = param(2500, ge=1)
    """Learner steps between evaluations (also at the end). The default evaluates `make run` once, at its end: a
    mid-run evaluation (40 games at 400 simulations) held the learner ~30 s, which buys 500 more steps in the
    same wall time (README, the main job under "Met late, and how")."""
    search: Literal["puct", "gumbel"] = "puct"
    """How evaluation, gating, Pons figures and this run's `az:` agents search (self-play's is selfplay.search).
    Measured on Connect Four: Gumbel learns more per CPU-second at 32 simulations, PUCT with the solver plays
    better at 100-400 (models/README.md)."""
    games: int = param(20, ge=2)
    """Games per opponent, half with each colour."""
    opponents: tuple[str, ...] = ("random", "minimax:depth=2")
    """Agent specs to play against."""
    simulations: int = param(400, ge=1)
    """Simulations per move of the evaluated agent (its run's search without noise)."""
    c_puct: float | None = param(None, gt=0)
    """PUCT's prior weight when this run's agent plays (evaluation, gating, Pons figures, `az:` agents, exported
    models); None: self-play's `selfplay.c_puct`. Playing wants more breadth than self-play's targets: the shipped
    Connect Four weights score 0.777 against minimax:depth=4 at 1.5 (200 games), 0.834 at 3.0 (600 games;
    models/README.md)."""
    contempt: float = param(0.0, ge=0, lt=1)
    """Lc0-style contempt when this run's agent plays: a draw is worth -contempt to it and +contempt to its
    opponent, so the net's values become `value - contempt * P(draw)` at its turns (`+` at the opponent's) and
    search prefers lines the opponent can still lose to a quiet draw. Needs a net with `draw_head`. Never in
    self-play. Off by default: against minimax:depth=2, 0.5 won 6 more games of 120 on the two nets it was
    chosen on and 2 more of 480 on eight new ones, drawing less and losing more (README)."""
    mirror: bool = True
    """Average the net's priors and values over each position and its left-right mirror when this run's agent
    plays (evaluation, gating, Pons figures, `az:` agents): twice the net's work per simulation, self-play never
    does. The nets learn from both images but do not come out symmetric, and the mean is the better judge: the
    shipped Connect Four weights at 400 simulations scored 0.866 against 0.834 over 600 games against
    minimax:depth=4; six `make run` nets against minimax:depth=2 gained 0.033 on average (README)."""
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
    game_options: dict[str, Any] | None = None
    """Options of the game as the net sees it (`{}`: stones only; `{size: 9}` for gomoku); null: its registry
    row's `net_options`, for Connect Four the `threats` and `colour` planes, with which `make run` won 1,559 of
    1,740 games against minimax:depth=2 over twenty-nine runs (89.6%; with the draw head, 495 of 540 over nine),
    where stones alone won ~76% (README)."""
    net: str = "resnet-3x32"
    """Network preset (a resnet preset of algorithms/nets.py), e.g. resnet-5x64."""
    draw_head: bool = True
    """The net also predicts whether the game ends drawn (a second output of the value head's hidden layer, a
    cross-entropy on self-play's outcomes): an auxiliary target for the trunk, and what `eval.contempt` plays
    on. Against minimax:depth=2, `make run` nets with it won 219 of 240 games over four runs (91.3%; without,
    89.6% over twenty-nine), 4,500-step nets 537 of 600 over ten runs (89.5%; without, 86.0% over eight): the same way
    twice, each within the spread between runs (README)."""
    selfplay: SelfPlayConfig = section(SelfPlayConfig)
    """Self-play."""
    learn: LearnConfig = section(LearnConfig)
    """Learner."""
    eval: EvalConfig = section(EvalConfig)
    """Evaluation."""
    distributed: DistributedConfig = param(default_factory=lambda: DistributedConfig(publish_every=25))
    """MPI self-play roles and flow control. A weight version every 25 updates, not 10: a CPU actor rebuilds its
    int8 graph for each (~0.1 s), and at 10 that took a quarter of `make run`'s actor CPU (84 -> 63 s each at
    25, 157 -> 144 s wall)."""
    run: RunConfig = section(RunConfig)
    """Run dir, seed, device, checkpoints."""
    tracking: TrackingConfig = section(TrackingConfig)
    """W&B and metrics.jsonl."""


def search_config(
    selfplay: SelfPlayConfig,
    simulations: int,
    evaluation: bool = False,
    kind: str | None = None,
    c_puct: float | None = None,
    contempt: float = 0.0,
) -> SearchConfig:
    """The one place a run's search settings become a SearchConfig: self-play (with root noise) or evaluation.

    Evaluation, gating, Pons figures and `az:` agents all come through here with `evaluation=True` and their
    `kind` (eval.search), `c_puct` (eval.c_puct) and `contempt` (eval.contempt): self-play's settings (c_puct,
    solver, Gumbel's constants) without noise, unless those override them. Self-play has no contempt.
    """
    kind = kind or selfplay.search
    if kind not in ("puct", "gumbel"):
        raise ArenaError(f"unknown search kind {kind!r}; valid: puct, gumbel")
    return SearchConfig(
        simulations=simulations,
        c_puct=selfplay.c_puct if c_puct is None else c_puct,
        dirichlet_alpha=selfplay.dirichlet_alpha,
        dirichlet_fraction=0.0 if evaluation else selfplay.dirichlet_fraction,
        fpu_reduction=selfplay.fpu_reduction,
        kind=kind,
        solver=selfplay.solver,
        max_considered=selfplay.max_considered,
        gumbel_scale=0.0 if evaluation else 1.0,
        c_visit=selfplay.c_visit,
        c_scale=selfplay.c_scale,
        contempt=contempt if evaluation else 0.0,
    )


def run_game(config: AZConfig) -> Game:
    """The game as this run's nets see it: `game` with `game_options` (null: the registry's `net_options`)."""
    options = GAME_REGISTRY[config.game].net_options if config.game_options is None else config.game_options
    return make_game(config.game, **options)


def play_search(config: AZConfig) -> SearchConfig:
    """How a run's agent searches when it plays: eval.simulations, eval.search, eval.c_puct, eval.contempt, no
    noise."""
    played = config.eval
    if played.contempt and not config.draw_head:
        raise ArenaError("eval.contempt needs a net that predicts draws: set draw_head: true")
    return search_config(
        config.selfplay,
        played.simulations,
        evaluation=True,
        kind=played.search,
        c_puct=played.c_puct,
        contempt=played.contempt,
    )
