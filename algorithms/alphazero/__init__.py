"""AlphaZero: batched self-play with PUCT or Gumbel search guided by a policy/value net, and the learner that trains it.

```
SelfPlayActor  many games in lockstep, one BatchedMCTS  ──samples (obs, search policy, outcome, drawn?)──>  ReplayWindow
Learner        Adam on policy cross-entropy + value MSE (+ draw cross-entropy, L2 by weight decay)  <──  ReplayWindow
```

One concept a file, read in this order:

| file | holds |
|---|---|
| `config.py` | `AZConfig` and its sections, `search_config` (the one builder of self-play and evaluation search) |
| `replay.py` | `Samples` (planes, search policies, value and draw targets) and the `ReplayWindow` ring |
| `selfplay.py` | `SelfPlayActor`: many games in lockstep with one batched search, finished games into samples |
| `learner.py` | `Learner`: the loss and the gradient step; `build_net` |
| `agent.py` | `AlphaZeroAgent`, `load_agent` (`az:` specs, shipped `models/`), `export_model` |
| `evaluation.py` | `evaluate_against` (search against an Agent, games in lockstep), Pons mistake rates |
| `training.py` | `Training` (the learner role: updates, evaluation, gating, checkpoints), `AZActor`, `train` |

`train(config, run)` runs both in one process (`arena train configs/az_tictactoe.yaml`); `arena selfplay` runs
the same actor and learner in separate MPI ranks. A checkpoint is an Agent: `az:runs/c4/latest,sims=200`,
and `az:connect_four` / `az:tictactoe` load the weights shipped under `models/`.
"""

from algorithms.alphazero.agent import MODELS_DIR, AlphaZeroAgent, export_model, load_agent
from algorithms.alphazero.config import AZConfig, EvalConfig, LearnConfig, SelfPlayConfig, search_config
from algorithms.alphazero.evaluation import evaluate_against, pons_figures, pons_mistake_rates
from algorithms.alphazero.learner import Learner, build_net
from algorithms.alphazero.replay import ReplayWindow, Samples
from algorithms.alphazero.selfplay import SelfPlayActor
from algorithms.alphazero.training import AZActor, Training, learner_role, train

__all__ = [
    "MODELS_DIR",
    "AZActor",
    "AZConfig",
    "AlphaZeroAgent",
    "EvalConfig",
    "LearnConfig",
    "Learner",
    "ReplayWindow",
    "Samples",
    "SelfPlayActor",
    "SelfPlayConfig",
    "Training",
    "build_net",
    "evaluate_against",
    "export_model",
    "learner_role",
    "load_agent",
    "pons_figures",
    "pons_mistake_rates",
    "search_config",
    "train",
]
