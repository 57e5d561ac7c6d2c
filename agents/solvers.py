"""Perfect players: exhaustive search for tic-tac-toe, Pons-style solving for Connect Four (`agents.c4_solver`)."""

from __future__ import annotations

from functools import cache

from agents.base import Agent
from core.errors import ArenaError
from envs.base import Game, State
from envs.tictactoe import FULL, has_line


@cache
def tictactoe_value(cur: int, opp: int) -> int:
    """Value for the side to move (marks `cur`, opponent `opp`): +(10 - marks) for a win, 0 draw, - for a loss."""
    taken = cur | opp
    if has_line(opp):  # the opponent just completed a line
        return -(10 - taken.bit_count())
    if taken == FULL:
        return 0
    return max(-tictactoe_value(opp, cur | (1 << a)) for a in range(9) if not taken >> a & 1)


class TicTacToeSolver(Agent):
    """Perfect tic-tac-toe: the fastest win, else a draw, else the slowest loss; random among equals."""

    def __init__(self, game: Game, *, seed: int | None = None):
        super().__init__(game, seed)
        self.name = "solver"

    def move_values(self, state: State) -> dict[int, int]:
        """Exact value of each legal move for the side to move."""
        return {a: -tictactoe_value(state.opp, state.cur | (1 << a)) for a in state.legal_actions()}

    def act(self, state: State) -> int:
        """A best move."""
        values = self.move_values(state)
        best = max(values.values())
        ties = [a for a, v in values.items() if v == best]
        return ties[int(self.rng.integers(len(ties)))]


class ConnectFourSolverAgent(Agent):
    """Perfect Connect Four: scores every column exactly (or only win/draw/loss with `weak`) and plays a best one.

    With exact scores it wins as fast as possible and loses as slowly as possible. The first plies are slow
    (the first move is known: the centre column wins, so it is played at once); from about ten stones on a
    move takes well under a second with numba.
    """

    def __init__(self, game: Game, *, weak: bool = False, seed: int | None = None):
        from agents.c4_solver import ConnectFourSolver  # why: numba compiles it on import (seconds)

        super().__init__(game, seed)
        self.weak = bool(weak)
        self.name = "solver:weak=true" if self.weak else "solver"
        self.solver = ConnectFourSolver()

    def move_values(self, state: State) -> dict[int, int]:
        """Score of each legal column for the side to move (Pons' convention, or -1/0/1 when weak)."""
        scores = self.solver.move_scores(state.cur, state.mask, weak=self.weak)
        return {c: s for c, s in enumerate(scores) if s is not None}

    def act(self, state: State) -> int:
        """A best column."""
        if not state.moves and state.mask == 0:
            return 3  # the centre column is the only winning first move (Allis, 1988)
        values = self.move_values(state)
        best = max(values.values())
        ties = [a for a, v in values.items() if v == best]
        return ties[int(self.rng.integers(len(ties)))]


SOLVERS = {"tictactoe": TicTacToeSolver, "connect_four": ConnectFourSolverAgent}


def make_solver(game: Game, *, weak: bool = False, seed: int | None = None) -> Agent:
    """The perfect player of `game` (tic-tac-toe or Connect Four)."""
    if game.name not in SOLVERS:
        raise ArenaError(f"no solver for {game.name}; solvers exist for {', '.join(SOLVERS)}")
    if game.name == "tictactoe":
        return TicTacToeSolver(game, seed=seed)
    return ConnectFourSolverAgent(game, weak=weak, seed=seed)
