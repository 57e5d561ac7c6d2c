"""The learning algorithms, a floor above `agents/`: networks, buffers, PPO, DQN, AlphaZero and their registry.

`nets.py` is the one place networks are defined; `evaluators.py` turns a policy/value net into the batched
Evaluator the search of `agents.mcts` calls (ONNX Runtime on CPU, torch on CUDA); `rl_envs.py` builds the
Gymnasium vector envs PPO and DQN learn on; `registry.py` holds one row per algorithm (config, one-process
train, learner and actor roles, agent loader) and `make_agent` for specs of every kind.
"""
