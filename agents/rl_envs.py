"""Environments for the model-free learners (PPO, DQN): one config section, one vector-env factory, one evaluator.

Vector envs run in Gymnasium's SAME_STEP autoreset mode: the step that ends an episode already returns the
first observation of the next one, and the last observation of the old one sits in `info["final_obs"]` (for
bootstrapping truncated episodes). Board games (`arena/...` ids) expose a Dict observation with `observation`
and `action_mask`; `split_obs` turns any observation into `(obs, mask or None)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import gymnasium as gym
import numpy as np
import torch

from envs.errors import ArenaError
from runners.config import param


@dataclass(frozen=True)
class EnvConfig:
    """Which Gymnasium task to learn and how many copies step together."""

    id: str = "CartPole-v1"
    """Gymnasium id: `CartPole-v1`, `Acrobot-v1`, `LunarLander-v3`, `ALE/Breakout-v5`, `arena/ConnectFour-v0`."""
    num_envs: int = param(8, ge=1)
    """Copies of the env stepped together (one batch per policy call)."""
    vectorization: Literal["sync", "async"] = "sync"
    """`sync` steps the copies in this process (fastest for cheap envs), `async` in one subprocess each."""
    wrapper: Literal["none", "mask-velocity", "atari"] = "none"
    """`mask-velocity` hides CartPole's velocities (a partially observed task); `atari` is the standard
    preprocessing: no-op starts, frame skip 4, 84x84 grey, 4 stacked frames."""
    kwargs: dict[str, Any] = param(default_factory=dict)
    """Extra keyword arguments for `gymnasium.make`, e.g. `{opponent: greedy}` for a board game."""


class MaskVelocity(gym.ObservationWrapper):
    """CartPole with the cart and pole velocities removed: only position and angle are seen."""

    KEEP: ClassVar[dict[str, list[int]]] = {"CartPole-v1": [0, 2], "CartPole-v0": [0, 2]}

    def __init__(self, env: gym.Env, env_id: str) -> None:
        super().__init__(env)
        if env_id not in self.KEEP:
            raise ArenaError(f"wrapper 'mask-velocity' knows {', '.join(self.KEEP)}; got env id {env_id!r}")
        self.keep = np.array(self.KEEP[env_id])
        low, high = env.observation_space.low[self.keep], env.observation_space.high[self.keep]
        self.observation_space = gym.spaces.Box(low, high, dtype=np.float32)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        """Keep position and angle only."""
        return observation[self.keep]


def make_env(config: EnvConfig, render_mode: str | None = None) -> gym.Env:
    """One env, wrapped as the config says."""
    if config.id.startswith("arena/"):
        import envs  # noqa: F401 (registers the board games' ids)
    if config.id.startswith("ALE/"):
        import ale_py

        gym.register_envs(ale_py)
    kwargs = dict(config.kwargs)
    if config.wrapper == "atari":
        kwargs.setdefault("frameskip", 1)  # AtariPreprocessing skips frames itself
    try:
        env = gym.make(config.id, render_mode=render_mode, **kwargs)
    except gym.error.Error as error:
        raise ArenaError(f"cannot make env {config.id!r}: {error}") from None
    if config.wrapper == "mask-velocity":
        env = MaskVelocity(env, config.id)
    elif config.wrapper == "atari":
        env = gym.wrappers.AtariPreprocessing(env, noop_max=30, frame_skip=4, screen_size=84)
        env = gym.wrappers.FrameStackObservation(env, 4)
    return env


def make_vector_env(config: EnvConfig, num_envs: int | None = None) -> gym.vector.VectorEnv:
    """`num_envs` (default `config.num_envs`) copies, SAME_STEP autoreset."""
    n = num_envs or config.num_envs
    fns: list[Callable[[], gym.Env]] = [lambda: make_env(config) for _ in range(n)]
    mode = gym.vector.AutoresetMode.SAME_STEP
    if config.vectorization == "async" and n > 1:
        return gym.vector.AsyncVectorEnv(fns, autoreset_mode=mode)
    return gym.vector.SyncVectorEnv(fns, autoreset_mode=mode)


def space_shapes(space: gym.Space, action_space: gym.Space) -> tuple[tuple[int, ...], int, bool]:
    """(observation shape, number of actions, whether the env gives legal masks) of one env's spaces."""
    masked = isinstance(space, gym.spaces.Dict)
    if masked:
        space = space["observation"]
    if not isinstance(action_space, gym.spaces.Discrete):
        raise ArenaError(f"PPO and DQN here need discrete actions; the env's action space is {action_space}")
    return tuple(space.shape), int(action_space.n), masked


def split_obs(obs: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """(observation array, legal mask bool array or None) of a plain or Dict observation."""
    if isinstance(obs, dict):
        return obs["observation"], obs["action_mask"].astype(bool)
    return obs, None


def final_observations(info: dict, done: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The last observations (and masks) of the episodes that ended at this step; index with `done`."""
    finals = info["final_obs"][done]
    if isinstance(finals[0], dict):
        obs = np.stack([f["observation"] for f in finals])
        return obs, np.stack([f["action_mask"] for f in finals]).astype(bool)
    return np.stack(finals), None


Act = Callable[[torch.Tensor, torch.Tensor | None, Any, torch.Tensor], tuple[torch.Tensor, Any]]
"""A greedy policy for evaluation: (obs [B, ...], mask [B, A] or None, state, done [B]) -> (actions [B], state)."""


def evaluate(act: Act, config: EnvConfig, episodes: int, seed: int, device: torch.device, state: Any = None):
    """Mean and std of the returns of `episodes` episodes played by `act` on fresh envs seeded from `seed`."""
    n = min(episodes, 8)
    quota = np.full(n, episodes // n) + (np.arange(n) < episodes % n)  # episodes each env contributes
    envs = make_vector_env(EnvConfig(config.id, n, "sync", config.wrapper, config.kwargs))
    try:
        raw, _ = envs.reset(seed=[seed + i for i in range(n)])
        obs, mask = split_obs(raw)
        running = np.zeros(n)
        returns: list[float] = []
        done = torch.ones(n, dtype=torch.bool, device=device)
        counts = np.zeros(n, dtype=int)
        while (counts < quota).any():
            with torch.inference_mode():
                mask_t = None if mask is None else torch.as_tensor(mask, device=device)
                actions, state = act(torch.as_tensor(obs, device=device), mask_t, state, done)
            raw, reward, terminated, truncated, _ = envs.step(actions.cpu().numpy())
            obs, mask = split_obs(raw)
            running += reward
            ended = terminated | truncated
            for i in np.flatnonzero(ended):
                if counts[i] < quota[i]:
                    returns.append(float(running[i]))
                counts[i] += 1
                running[i] = 0.0
            done = torch.as_tensor(ended, device=device)
    finally:
        envs.close()
    return float(np.mean(returns)), float(np.std(returns))
