"""Deep Q-Networks (Mnih et al. 2015) with the usual improvements: config, loss, exploration, learner.

Double DQN (van Hasselt et al. 2016), dueling heads, n-step returns, prioritized replay (option), a target
network updated hard or by Polyak averaging, a linear epsilon schedule, gradient clipping, vectorized envs and
legal-action masks (board games: random exploration and the max in the target see legal actions only).
Evaluation plays greedy episodes (epsilon 0). Defaults: rl-zoo's tuned CartPole-v1 set. One concept a file:

| file | holds |
|---|---|
| `config.py` | `DQNConfig` and its sections (every field documented), `env_spec` |
| `loss.py` | the TD loss (double, n-step, importance weights), the gradient step, target updates |
| `explorer.py` | `Explorer`: epsilon-greedy vector-env steps into n-step transitions; legal random actions |
| `learner.py` | `DQNLearner` (replay, rounds of gradient steps, evaluation, checkpoints), `train` |
| `agent.py` | `DQNAgent`, a trained Q-network as a tournament Agent, and `load_agent` (`dqn:` specs) |
| `roles.py` | the learner and actor roles of `arena selfplay` (Ape-X: actors with their own epsilon) |
"""

from algorithms.dqn.agent import DQNAgent, load_agent, model_from_checkpoint
from algorithms.dqn.config import DQNConfig, DQNParams, EvalConfig, QNetConfig
from algorithms.dqn.explorer import Explorer, random_actions
from algorithms.dqn.learner import DQNLearner, evaluate_q, train
from algorithms.dqn.loss import td_loss
from algorithms.dqn.roles import DQNActor, learner_role

__all__ = [
    "DQNActor",
    "DQNAgent",
    "DQNConfig",
    "DQNLearner",
    "DQNParams",
    "EvalConfig",
    "Explorer",
    "QNetConfig",
    "evaluate_q",
    "learner_role",
    "load_agent",
    "model_from_checkpoint",
    "random_actions",
    "td_loss",
    "train",
]
