"""Batched PUCT search over many games at once: each Evaluator call holds one leaf from every game.

The search sees only Game/State and an Evaluator, a batched callable
`(obs [B, C, H, W], mask [B, A]) -> (priors [B, A], values [B])` whose values are from the side to move. It
imports no torch. Trees are arrays, one row per game, so selection and backup are numpy expressions across
games rather than Python loops over nodes:

```
visits[g, n, a]      # [B, N, A] edge visit counts
value_sum[g, n, a]   # [B, N, A] sum of backed-up values, from the view of the player to move at node n
prior[g, n, a]       # [B, N, A] evaluator priors (root mixed with Dirichlet noise while searching)
children[g, n, a]    # [B, N, A] child node index, -1 before expansion
```

Tree reuse: after a move, `advance` keeps the subtree under the chosen child as the next root.
Terminal nodes get their exact value from the rules; the evaluator is never asked about them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

Evaluator = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
"""`(obs [B, C, H, W], legal mask [B, A]) -> (priors [B, A], values [B])`, values from the side to move."""


@dataclass(frozen=True)
class SearchConfig:
    """How one search behaves."""

    simulations: int = 100
    """Simulations per search (per move)."""
    c_puct: float = 1.5
    """Exploration weight of the prior term in PUCT."""
    dirichlet_alpha: float = 1.0
    """Concentration of the root noise (AlphaZero: about 10 / typical number of legal moves)."""
    dirichlet_fraction: float = 0.0
    """Share of Dirichlet noise mixed into the root priors; 0 turns noise off (evaluation), 0.25 in self-play."""
    fpu_reduction: float = 0.2
    """First-play urgency: an unvisited child is valued at its parent's value minus this (0.0 = parent's value)."""


class BatchedMCTS:
    """Search trees for `B` games searched in lockstep; `search` returns root visit counts for each."""

    def __init__(self, evaluator: Evaluator, num_actions: int, config: SearchConfig, rng: np.random.Generator):
        self.evaluator = evaluator
        self.num_actions = num_actions
        self.config = config
        self.rng = rng
        self.batch = 0
        self.capacity = 0

    # -- tree storage -------------------------------------------------------------------------------------------

    def _allocate(self, batch: int, capacity: int) -> None:
        a = self.num_actions
        self.batch, self.capacity = batch, capacity
        self.visits = np.zeros((batch, capacity, a), np.float32)  # [B, N, A]
        self.value_sum = np.zeros((batch, capacity, a), np.float32)  # [B, N, A]
        self.prior = np.zeros((batch, capacity, a), np.float32)  # [B, N, A]
        self.children = np.full((batch, capacity, a), -1, np.int32)  # [B, N, A]
        self.legal = np.zeros((batch, capacity, a), bool)  # [B, N, A]
        self.node_value = np.zeros((batch, capacity), np.float32)  # [B, N] evaluator (or exact) value
        self.terminal = np.zeros((batch, capacity), bool)  # [B, N]
        self.player = np.zeros((batch, capacity), np.int8)  # [B, N] player to move at the node
        self.root_prior = np.zeros((batch, a), np.float32)  # [B, A] root priors without noise
        self.num_nodes = np.zeros(batch, np.int64)  # [B]
        self.states: list[list] = [[] for _ in range(batch)]
        self.pending_roots: list[int] = []  # fresh roots not yet evaluated

    def _grow(self, needed: int) -> None:
        if needed <= self.capacity:
            return
        extra = max(needed, 2 * self.capacity) - self.capacity

        def pad(array: np.ndarray, fill: float) -> np.ndarray:
            return np.concatenate([array, np.full((self.batch, extra, *array.shape[2:]), fill, array.dtype)], axis=1)

        self.visits, self.value_sum, self.prior = pad(self.visits, 0), pad(self.value_sum, 0), pad(self.prior, 0)
        self.children, self.legal = pad(self.children, -1), pad(self.legal, False)
        self.node_value, self.terminal, self.player = (
            pad(self.node_value, 0),
            pad(self.terminal, 0),
            pad(self.player, 0),
        )
        self.capacity += extra

    def reset(self, states: Sequence) -> None:
        """Start fresh trees at these root states (one per game)."""
        self._allocate(len(states), max(2 * self.config.simulations + 2, 8))
        roots = [self._add_node(g, s) for g, s in enumerate(states)]
        self._evaluate([(g, n) for g, n in enumerate(roots) if not self.terminal[g, n]])
        self.root_prior[:] = self.prior[:, 0]

    def _add_node(self, game: int, state) -> int:
        node = int(self.num_nodes[game])
        self.num_nodes[game] += 1
        self.states[game].append(state)
        self.player[game, node] = state.current_player()
        if state.is_terminal():
            self.terminal[game, node] = True
            self.node_value[game, node] = state.returns()[state.current_player()]
        else:
            self.legal[game, node] = state.legal_mask()
        return node

    def _evaluate(self, leaves: list[tuple[int, int]]) -> None:
        """One evaluator call for every leaf in the batch (at most one per game)."""
        if not leaves:
            return
        games = np.fromiter((g for g, _ in leaves), np.int64, len(leaves))
        nodes = np.fromiter((n for _, n in leaves), np.int64, len(leaves))
        states = [self.states[g][n] for g, n in leaves]
        obs = states[0].game.observations(states)  # [L, C, H, W]
        mask = self.legal[games, nodes]  # [L, A]
        priors, values = self.evaluator(obs, mask)
        priors = np.where(mask, priors, 0.0)
        total = priors.sum(axis=1, keepdims=True)
        # an evaluator that gives every legal move zero prior would stall PUCT: fall back to uniform there
        priors = np.where(total > 0, priors / np.maximum(total, 1e-12), mask / mask.sum(axis=1, keepdims=True))
        self.prior[games, nodes] = priors
        self.node_value[games, nodes] = values

    # -- search -------------------------------------------------------------------------------------------------

    def search(self, simulations: int | None = None, games: np.ndarray | None = None, noise: bool = True) -> np.ndarray:
        """Run simulations on the given games' trees (all by default); returns root visits [B, A].

        `noise=False` skips the root's Dirichlet noise for this search (e.g. a fast search that makes no target).
        """
        simulations = self.config.simulations if simulations is None else simulations
        if self.pending_roots:
            pending, self.pending_roots = self.pending_roots, []
            self._evaluate([(g, 0) for g in pending])
            self.root_prior[pending] = self.prior[pending, 0]
        games = np.arange(self.batch) if games is None else np.asarray(games)
        games = games[~self.terminal[games, 0]]
        if len(games) == 0:
            return self.visits[:, 0].copy()
        self._grow(int(self.num_nodes.max()) + simulations + 1)
        if noise:
            self._mix_root_noise(games)
        for _ in range(simulations):
            self._simulate(games)
        self.prior[games, 0] = self.root_prior[games]
        return self.visits[:, 0].copy()

    def _mix_root_noise(self, games: np.ndarray) -> None:
        fraction = self.config.dirichlet_fraction
        if fraction <= 0:
            return
        for g in games:
            legal = self.legal[g, 0]
            noise = np.zeros(self.num_actions, np.float32)
            noise[legal] = self.rng.dirichlet(np.full(legal.sum(), self.config.dirichlet_alpha))
            self.prior[g, 0] = (1 - fraction) * self.root_prior[g] + fraction * noise

    def _puct(self, games: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        """PUCT scores [b, A] of the children of `nodes`, illegal moves at -inf."""
        visits = self.visits[games, nodes]  # [b, A]
        value_sum = self.value_sum[games, nodes]
        parent_visits = visits.sum(axis=1, keepdims=True)  # [b, 1]
        fpu = self.node_value[games, nodes][:, None] - self.config.fpu_reduction
        q = np.where(visits > 0, value_sum / np.maximum(visits, 1), fpu)
        u = self.config.c_puct * self.prior[games, nodes] * np.sqrt(parent_visits + 1) / (1 + visits)
        return np.where(self.legal[games, nodes], q + u, -np.inf)

    def _simulate(self, games: np.ndarray) -> None:
        """One simulation in each game: select to a leaf, expand and evaluate the leaves together, back up."""
        path_games, path_nodes, path_actions = [], [], []
        active = games
        nodes = np.zeros(len(games), np.int64)
        leaf_node = np.zeros(self.batch, np.int64)
        expand_from: list[tuple[int, int, int]] = []  # (game, parent node, action) whose child is new
        while len(active):
            actions = self._puct(active, nodes).argmax(axis=1)
            path_games.append(active)
            path_nodes.append(nodes)
            path_actions.append(actions)
            child = self.children[active, nodes, actions]
            new = child < 0
            for g, n, a in zip(active[new], nodes[new], actions[new], strict=True):
                expand_from.append((int(g), int(n), int(a)))
            reached = ~new
            stop = reached & self.terminal[active, np.maximum(child, 0)]
            leaf_node[active[stop]] = child[stop]
            go_on = reached & ~stop
            active, nodes = active[go_on], child[go_on].astype(np.int64)
        to_evaluate = []
        for g, n, a in expand_from:
            node = self._add_node(g, self.states[g][n].apply(a))
            self.children[g, n, a] = node
            leaf_node[g] = node
            if not self.terminal[g, node]:
                to_evaluate.append((g, node))
        self._evaluate(to_evaluate)
        # back up: every edge on the path gets the leaf value seen from the player at that edge's node
        all_games = np.concatenate(path_games)
        all_nodes = np.concatenate(path_nodes)
        all_actions = np.concatenate(path_actions)
        leaf_values = self.node_value[all_games, leaf_node[all_games]]
        same_player = self.player[all_games, all_nodes] == self.player[all_games, leaf_node[all_games]]
        signed = np.where(same_player, leaf_values, -leaf_values)
        np.add.at(self.visits, (all_games, all_nodes, all_actions), 1.0)
        np.add.at(self.value_sum, (all_games, all_nodes, all_actions), signed)

    # -- results and moves --------------------------------------------------------------------------------------

    def root_values(self) -> np.ndarray:
        """[B] search value of each root from its side to move (visit-weighted mean of its children)."""
        visits = self.visits[:, 0].sum(axis=1)
        searched = self.value_sum[:, 0].sum(axis=1) / np.maximum(visits, 1)
        return np.where(visits > 0, searched, self.node_value[:, 0])

    def advance(self, game: int, action: int) -> None:
        """Play `action` in one game and keep the subtree below it as that game's new tree (tree reuse)."""
        child = int(self.children[game, 0, action])
        if child < 0:
            state = self.states[game][0].apply(action)
            self._replace_tree(game, [], state)
            return
        # breadth-first copy of the subtree, renumbering nodes from 0
        order = [child]
        for old in order:  # a tree: every node has one parent, so no node is met twice
            order.extend(int(c) for c in self.children[game, old] if c >= 0)
        self._replace_tree(game, order, None)

    def _replace_tree(self, game: int, order: list[int], state) -> None:
        if order:
            old = np.array(order)
            k = len(order)
            for array in (
                self.visits,
                self.value_sum,
                self.prior,
                self.legal,
                self.node_value,
                self.terminal,
                self.player,
            ):
                array[game, :k] = array[game, old]
            renumber = np.full(self.capacity, -1, np.int32)
            renumber[old] = np.arange(k, dtype=np.int32)
            children = self.children[game, old]  # [k, A] old numbers; the copy holds every child of its nodes
            self.children[game, :k] = np.where(children >= 0, renumber[np.maximum(children, 0)], -1)
            self.states[game] = [self.states[game][n] for n in order]
        else:
            k = 0
            self.states[game] = []
        self.visits[game, k:] = 0
        self.value_sum[game, k:] = 0
        self.prior[game, k:] = 0
        self.children[game, k:] = -1
        self.legal[game, k:] = False
        self.terminal[game, k:] = False
        self.num_nodes[game] = k
        if not order:
            self._add_node(game, state)
            if not self.terminal[game, 0]:
                self.pending_roots.append(game)  # evaluated with the others at the next search, in one batch
        self.root_prior[game] = self.prior[game, 0]

    def replace_root(self, game: int, state) -> None:
        """Start a fresh tree for one game (e.g. a new game in its slot)."""
        self._replace_tree(game, [], state)


def visit_policy(visits: np.ndarray, temperature: float) -> np.ndarray:
    """Move probabilities from root visits [..., A]: proportional to visits^(1/T); T=0 puts all on the most visited."""
    visits = np.asarray(visits, np.float64)
    if temperature <= 1e-6:
        best = visits == visits.max(axis=-1, keepdims=True)
        return best / best.sum(axis=-1, keepdims=True)
    scaled = np.power(visits / np.maximum(visits.max(axis=-1, keepdims=True), 1), 1 / temperature)
    return scaled / np.maximum(scaled.sum(axis=-1, keepdims=True), 1e-12)


def sample_action(visits: np.ndarray, temperature: float, rng: np.random.Generator) -> int:
    """A move from root visits [A] at `temperature` (0: the most visited, ties broken at random)."""
    policy = visit_policy(visits, temperature)
    return int(rng.choice(len(policy), p=policy))


def uniform_evaluator(num_actions: int) -> Evaluator:
    """Flat priors and zero values: search guided by exact terminal values alone (for tests and baselines)."""

    def evaluate(obs: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        priors = mask / mask.sum(axis=1, keepdims=True)
        return priors.astype(np.float32), np.zeros(len(obs), np.float32)

    return evaluate


def temperature_at(move_number: int, moves_at_full: int, final: float = 0.0) -> float:
    """AlphaZero's schedule: temperature 1 for the first `moves_at_full` moves, then `final`."""
    return 1.0 if move_number < moves_at_full else final
