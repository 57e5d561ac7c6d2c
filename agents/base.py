"""The Agent interface: `name`, `reset(seed=None)`, `act(state) -> action`. The tournament sees nothing else."""

from __future__ import annotations

import numpy as np

from envs.base import Game, State


class Agent:
    """A player. Subclasses set `name` and implement `act`; randomness comes from `self.rng` (seeded)."""

    name: str = "agent"

    def __init__(self, game: Game, seed: int | None = None):
        self.game = game
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def reset(self, seed: int | None = None) -> None:
        """Forget the previous game; a `seed` re-seeds `self.rng` so that the next game is reproducible."""
        if seed is not None:
            self.rng = np.random.default_rng(seed)

    def act(self, state: State) -> int:
        """The action to play in `state` (a legal one)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
