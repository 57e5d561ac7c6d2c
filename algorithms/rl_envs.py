"""Environments for the model-free learners (PPO, DQN): one config section, one vector-env factory, one evaluator,
and `EnvLearner`, the bookkeeping their learners share (env-step schedules, logging, evaluation, checkpoints).

Vector envs run in Gymnasium's SAME_STEP autoreset mode: the step that ends an episode already returns the
first observation of the next one, and the last observation of the old one sits in `info["final_obs"]` (for
bootstrapping truncated episodes). Board games (`arena/...` ids) expose a Dict observation with `observation`
and `action_mask`; `split_obs` turns any observation into `(obs, mask or None)`.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import gymnasium as gym
import numpy as np
import torch

import agents  # noqa: F401 (registers the board games' Gymnasium ids, arena/<Game>-v0)
from core.config import param
from core.errors import ArenaError


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
    if config.id.startswith("ALE/"):
        import ale_py  # why: the optional `atari` extra, needed only for ALE ids

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


def check_shapes(checkpoint: dict[str, Any], obs_shape: tuple[int, ...], num_actions: int, where: str) -> None:
    """Refuse a PPO or DQN checkpoint whose network was built for other observations or actions."""
    saved = tuple(checkpoint["net"]["obs_shape"])
    if saved != tuple(obs_shape) or checkpoint["num_actions"] != num_actions:
        raise ArenaError(
            f"checkpoint in {where} was trained on observations {saved} with {checkpoint['num_actions']} actions; "
            f"this env gives {tuple(obs_shape)} with {num_actions}"
        )


def seed_everything(seed: int, torch_threads: int = 0) -> None:
    """Seed Python's, NumPy's and torch's global generators (and set torch's threads) before a run builds anything."""
    import random

    if torch_threads:
        torch.set_num_threads(torch_threads)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


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


class EnvLearner:
    """What PPO's and DQN's learners share: env-step schedules, logging, greedy evaluation and checkpoints.

    Only the process that holds the run (learner rank 0, or `arena train`) logs, evaluates and checkpoints.
    A subclass sets `config`, `run`, `device`, `global_step` and `recent`, calls `start_schedules` once restored,
    and provides `state_dict()` and `greedy_returns()`.
    """

    gated = False  # (selfplay role) actors always act with the newest weights
    steps: int  # updates so far
    config: Any
    run: Any
    global_step: int
    recent: deque

    def start_schedules(self) -> None:
        """Next evaluation and checkpoint from the (possibly restored) env step; the clock for steps/s."""
        every, eval_every = self.config.run.checkpoint_every, self.config.eval.every
        self.next_checkpoint = (self.global_step // every + 1) * every
        self.next_eval = (self.global_step // eval_every + 1) * eval_every if eval_every else math.inf
        self.start_time, self.start_step = time.perf_counter(), self.global_step
        self.last_eval: dict[str, float] = {}
        self._saved: tuple[int, int] | None = None  # (env step, updates) of the last checkpoint written

    @property
    def log_step(self) -> int:
        """Figures are logged at the env step."""
        return self.global_step

    def steps_per_second(self) -> float:
        """Env steps per wall second since this process started training."""
        return (self.global_step - self.start_step) / max(time.perf_counter() - self.start_time, 1e-9)

    def log(self, figures: dict[str, Any], step: int) -> None:
        """Log through the run's Tracker (if this process has a run)."""
        if self.run is not None:
            self.run.log(figures, step=step)

    def greedy_returns(self) -> tuple[float, float]:
        """Mean and std return of `eval.episodes` greedy episodes."""
        raise NotImplementedError

    def evaluate(self) -> dict[str, float]:
        """Greedy evaluation episodes; logged and returned."""
        if self.run is None or not self.config.eval.episodes:
            return {}
        mean, std = self.greedy_returns()
        self.last_eval = {"eval/return_mean": mean, "eval/return_std": std}
        self.log(self.last_eval, self.global_step)
        return self.last_eval

    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs."""
        raise NotImplementedError

    def save(self) -> None:
        """Write a checkpoint (unless one of exactly this state is already written)."""
        if self.run is None or self._saved == (self.global_step, self.steps):
            return
        self.run.save(self.state_dict(), step=self.global_step)
        self._saved = (self.global_step, self.steps)

    def periodic(self) -> None:
        """Evaluation and checkpoints when their env-step intervals come round."""
        if self.global_step >= self.next_eval:
            self.next_eval += self.config.eval.every
            self.evaluate()
        if self.global_step >= self.next_checkpoint:
            self.next_checkpoint += self.config.run.checkpoint_every
            self.save()

    def summary(self) -> dict[str, float]:
        """Final figures, with a last evaluation."""
        result = {
            "global_step": self.global_step,
            "train/return_mean20": float(np.mean(self.recent)) if self.recent else math.nan,
            "time_s": time.perf_counter() - self.start_time,
            "charts/sps": self.steps_per_second(),
        }
        return result | self.evaluate()


class EnvRates:
    """Env steps and episodes per second over a window: an actor's figures under `arena selfplay`."""

    def __init__(self) -> None:
        self.start, self.steps, self.episodes = time.perf_counter(), 0, 0

    def add(self, steps: int, episodes: int) -> None:
        """Count what one actor step did."""
        self.steps += steps
        self.episodes += episodes

    def take(self) -> dict[str, float]:
        """The rates since the last call; starts a new window."""
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        rates = {"env_steps_per_s": self.steps / elapsed, "episodes_per_s": self.episodes / elapsed}
        self.__init__()
        return rates
