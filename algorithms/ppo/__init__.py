"""Proximal Policy Optimization (Schulman et al. 2017), feed-forward or recurrent: config, loss, rollout, learner.

Readable top to bottom like CleanRL's `ppo.py` and `ppo_atari_lstm.py`, one concept a file, in this order:

| file | holds |
|---|---|
| `config.py` | `PPOConfig` and its sections (every field documented), `env_shapes` |
| `loss.py` | the clipped surrogate with value clipping and entropy bonus, GAE, masked log-probs |
| `rollout.py` | `Rollout` (one batch of env steps) and `RolloutCollector` (vector envs, SAME_STEP autoreset) |
| `learner.py` | `PPOLearner` (schedules, minibatch epochs, KL early stop, evaluation, checkpoints), `train` |
| `agent.py` | `PPOAgent`, a trained policy as a tournament Agent, and `load_agent` (`ppo:` specs) |
| `roles.py` | the learner and actor roles of `arena selfplay` (synchronous PPO) |

With a recurrent preset (`lstm-64`, ...) the rollout keeps the LSTM state per env, zeroes it where an episode
ended, stores the state each rollout started from, and trains on minibatches of whole env sequences replayed
from those states. `arena train` with no config file runs the embedded defaults: CartPole-v1 with rl-zoo's
tuned hyperparameters, 475+ in about a minute on a laptop CPU.
"""

from algorithms.ppo.agent import PPOAgent, load_agent, model_from_checkpoint
from algorithms.ppo.config import EvalConfig, NetConfig, PPOConfig, PPOParams
from algorithms.ppo.learner import PPOLearner, train
from algorithms.ppo.loss import gae, masked_log_probs, ppo_loss
from algorithms.ppo.roles import PPOActor, learner_role
from algorithms.ppo.rollout import Rollout, RolloutCollector

__all__ = [
    "EvalConfig",
    "NetConfig",
    "PPOActor",
    "PPOAgent",
    "PPOConfig",
    "PPOLearner",
    "PPOParams",
    "Rollout",
    "RolloutCollector",
    "gae",
    "learner_role",
    "load_agent",
    "masked_log_probs",
    "model_from_checkpoint",
    "ppo_loss",
    "train",
]
