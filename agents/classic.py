"""Classic players for every game: random, greedy, alpha-beta minimax and pure Monte Carlo tree search."""

from __future__ import annotations

import math
import random

import numpy as np

from agents.base import Agent
from envs.base import Game, State
from envs.registry import GAME_REGISTRY


class RandomAgent(Agent):
    """Plays a uniformly random legal move."""

    def __init__(self, game: Game, *, seed: int | None = None):
        super().__init__(game, seed)
        self.name = "random"

    def act(self, state: State) -> int:
        """A random legal action."""
        legal = state.legal_actions()
        return legal[int(self.rng.integers(len(legal)))]


def winning_moves(state: State) -> list[int]:
    """The moves that end the game at once with a win for the side to move."""
    me = state.current_player()
    return [a for a in state.legal_actions() if state.apply(a).winner == me]


class GreedyAgent(Agent):
    """Wins if it can, blocks if it must (never leaves the opponent an immediate win it could avoid), else random."""

    def __init__(self, game: Game, *, seed: int | None = None):
        super().__init__(game, seed)
        self.name = "greedy"

    def act(self, state: State) -> int:
        """A winning move, else a move that leaves no immediate win to the opponent, else any move."""
        wins = winning_moves(state)
        if wins:
            return self._pick(wins)
        legal = state.legal_actions()
        if self.game.placement:
            # The opponent's winning cells now (seen with the planes swapped) stay winning unless we take them.
            swapped = self.game.state_from_observation(state.observation()[::-1])
            threats = [a for a in swapped.legal_actions() if swapped.apply(a).winner is not None]
            return self._pick(threats or legal)
        safe = [a for a in legal if not _opponent_can_win(state.apply(a))]
        return self._pick(safe or legal)

    def _pick(self, actions: list[int]) -> int:
        return actions[int(self.rng.integers(len(actions)))]


def _opponent_can_win(state: State) -> bool:
    if state.is_terminal():
        return False
    me = state.current_player()
    return any(state.apply(a).winner == me for a in state.legal_actions())


WIN = 1_000_000.0  # a won position scores WIN minus the plies to the win, so faster wins score higher


class MinimaxAgent(Agent):
    """Alpha-beta negamax to a fixed depth, with each game's heuristic at the leaves; random among equals."""

    def __init__(self, game: Game, *, depth: int = 4, seed: int | None = None):
        super().__init__(game, seed)
        self.depth = int(depth)
        self.name = f"minimax:depth={self.depth}"
        entry = GAME_REGISTRY[game.name]
        self.evaluate = entry.heuristic
        self.candidates = entry.move_order or (lambda s: s.legal_actions())
        self.nodes = 0

    def act(self, state: State) -> int:
        """A random move among those with the best negamax value."""
        best_value, ties = -math.inf, []
        for a in self.candidates(state):
            # Searching with alpha just below the best so far makes equal values exact, so ties are seen.
            alpha = best_value - 1e-6
            value = -self._negamax(state.apply(a), self.depth - 1, -math.inf, -alpha, 1)
            if value > best_value + 1e-6:
                best_value, ties = value, [a]
            elif value >= alpha:
                ties.append(a)
        return ties[int(self.rng.integers(len(ties)))]

    def _negamax(self, state: State, depth: int, alpha: float, beta: float, ply: int) -> float:
        """Value of `state` for its side to move, exact within (alpha, beta)."""
        self.nodes += 1
        if state.is_terminal():
            return float(state.returns()[state.current_player()]) * (WIN - ply)
        if depth <= 0:
            return self.evaluate(state)
        best = -math.inf
        for a in self.candidates(state):
            value = -self._negamax(state.apply(a), depth - 1, -beta, -alpha, ply + 1)
            if value > best:
                best = value
                if value > alpha:
                    alpha = value
                    if alpha >= beta:
                        break
        return best


class _Node:
    """A search tree node: the position after `action`, and its statistics from the mover's view."""

    __slots__ = ("action", "children", "parent", "state", "untried", "value_sum", "visits")

    def __init__(self, state: State, parent: _Node | None, action: int | None, rng: random.Random):
        self.state = state
        self.parent = parent
        self.action = action
        self.children: list[_Node] = []
        self.untried = state.legal_actions()
        rng.shuffle(self.untried)
        self.visits = 0
        self.value_sum = 0.0  # sum of returns for the player who moved into this node


class MCTSAgent(Agent):
    """Pure Monte Carlo tree search: UCT selection, random rollouts to the end, the most visited move."""

    def __init__(self, game: Game, *, sims: int = 1000, c: float = 1.4, seed: int | None = None):
        super().__init__(game, seed)
        self.sims = int(sims)
        self.c = float(c)
        self.name = f"mcts:sims={self.sims}"

    def act(self, state: State) -> int:
        """Run `sims` simulations from `state` and play the most visited move."""
        rng = random.Random(int(self.rng.integers(2**63)))  # the stdlib generator is faster per draw
        root = _Node(state, None, None, rng)
        log = math.log
        for _ in range(self.sims):
            node = root
            # Selection: descend by UCT while every move of the node has been tried.
            while not node.untried and node.children:
                log_n = log(node.visits)
                node = max(
                    node.children,
                    key=lambda ch: ch.value_sum / ch.visits + self.c * math.sqrt(log_n / ch.visits),
                )
            # Expansion: one new child.
            if node.untried:
                action = node.untried.pop()
                child = _Node(node.state.apply(action), node, action, rng)
                node.children.append(child)
                node = child
            # Rollout: random moves to the end.
            s = node.state
            while not s.is_terminal():
                legal = s.legal_actions()
                s = s.apply(legal[int(rng.random() * len(legal))])
            returns = s.returns()
            # Backup: each node keeps the return of the player who moved into it.
            while node is not None:
                node.visits += 1
                if node.parent is not None:
                    node.value_sum += float(returns[node.parent.state.current_player()])
                node = node.parent
        best = max(root.children, key=lambda ch: ch.visits)
        # what the search thought, for `arena serve` and `arena play`: visit shares and the mover's value
        visits = np.zeros(self.game.num_actions)
        for child in root.children:
            visits[child.action] = child.visits
        total = max(sum(ch.visits for ch in root.children), 1)
        value = sum(ch.value_sum for ch in root.children) / total  # the root mover's mean return
        self.last_search = {"visits": (visits / total).tolist(), "value": float(value)}
        return int(best.action)
