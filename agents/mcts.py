"""Batched tree search over many games at once (PUCT or Gumbel): each Evaluator call holds one leaf from every game.

The search sees only Game/State and an Evaluator, a batched callable
`(obs [B, C, H, W], mask [B, A]) -> (priors [B, A], values [B])` whose values are from the side to move. It
imports no torch. Trees are arrays, one row per game, so selection and backup are numpy expressions across
games rather than Python loops over nodes:

```
visits[g, n, a]      # [B, N, A] edge visit counts
value_sum[g, n, a]   # [B, N, A] sum of backed-up values, from the view of the player to move at node n
prior[g, n, a]       # [B, N, A] evaluator priors (root mixed with Dirichlet noise while searching)
children[g, n, a]    # [B, N, A] child node index, -1 before expansion
proven[g, n]         # [B, N] exact value of node n for its side to move once solved, NaN while unknown
```

Two ways to pick a move (`SearchConfig.kind`):

- `puct`: AlphaZero. PUCT everywhere, Dirichlet noise at the root in self-play, the most visited move, and visit
  shares as the policy target.
- `gumbel`: Gumbel AlphaZero (Danihelka et al., ICLR 2022). At the root, Gumbel-top-k picks `max_considered`
  actions and sequential halving splits the budget among them, so even 8-32 simulations improve the policy; below
  the root, the deterministic selection that matches visits to the improved policy. The policy target is
  `softmax(logits + sigma(completed Q))` over legal moves, unvisited moves completed with the mixed value v_mix,
  and the move played is the halving's winner. Gumbel noise (scale 1) replaces Dirichlet noise in self-play.

Exact values (MCTS-solver, `SearchConfig.solver`): a node with a child that is a proven win for it is a proven win,
one whose children are all proven is worth the best of them; terminal states are proven by the rules. A
simulation that reaches a solved node stops there and backs up its exact value, a solved root spends no
simulations, and a root with a proven win plays it.

Tree reuse: after a move, `advance` keeps the subtree under the chosen child as the next root.
Terminal nodes get their exact value from the rules; the evaluator is never asked about them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Literal, NamedTuple

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
    kind: Literal["puct", "gumbel"] = "puct"
    """`puct` (AlphaZero) or `gumbel` (Gumbel AlphaZero: sequential halving at the root, improved-policy targets)."""
    solver: bool = True
    """Propagate proven wins, losses and draws up the tree, stop simulations at solved nodes, play proven wins."""
    max_considered: int = 16
    """Gumbel: actions considered at the root (Gumbel-top-k), at most the legal moves."""
    gumbel_scale: float = 1.0
    """Gumbel: scale of the root's Gumbel noise when searching with noise (self-play); 0 = deterministic."""
    c_visit: float = 50.0
    """Gumbel: sigma(q) = (c_visit + max visits) * c_scale * q, with q rescaled to [0, 1] among the children."""
    c_scale: float = 0.1
    """Gumbel: see `c_visit`."""


class SearchResult(NamedTuple):
    """What one search says about each root."""

    visits: np.ndarray  # [B, A] root visits (with those a reused subtree brought along)
    policy: np.ndarray  # [B, A] the training target: visit shares (puct) or the improved policy (gumbel)
    action: np.ndarray  # [B] the move search picks: most visited (puct), the halving's winner (gumbel), proven best
    value: np.ndarray  # [B] the root's value for its side to move (exact where proven)
    proven: np.ndarray  # [B] whether that value is exact (the solver proved it)


@cache
def halving_schedule(num_actions: int, simulations: int) -> np.ndarray:
    """[num_actions + 1, simulations] `considered_visits(m, simulations)` for every m, as one lookup table."""
    return np.array([considered_visits(m, simulations) for m in range(num_actions + 1)], np.float32)


def considered_visits(considered: int, simulations: int) -> tuple[int, ...]:
    """Sequential halving's schedule: before simulation k, the root visits only an action with this many visits.

    Phases halve the considered actions (down to 2), each phase gets an equal share of the budget split
    among the actions it considers, and the actions still in play are visited round-robin.
    """
    if considered <= 1:
        return tuple(range(simulations))
    phases = math.ceil(math.log2(considered))
    schedule: list[int] = []
    counts = [0] * considered
    alive = considered
    while len(schedule) < simulations:
        rounds = max(1, simulations // (phases * alive))
        for _ in range(rounds):
            schedule.extend(counts[:alive])
            counts[:alive] = [c + 1 for c in counts[:alive]]
        alive = max(2, alive // 2)
    return tuple(schedule[:simulations])


class BatchedMCTS:
    """Search trees for `B` games searched in lockstep; `search` returns a SearchResult for every root."""

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
        self.proven = np.full((batch, capacity), np.nan, np.float32)  # [B, N] exact value once solved
        self.player = np.zeros((batch, capacity), np.int8)  # [B, N] player to move at the node
        self.root_prior = np.zeros((batch, a), np.float32)  # [B, A] root priors without noise
        self.gumbel = np.zeros((batch, a), np.float32)  # [B, A] this search's root Gumbel noise
        self.search_visits = np.zeros((batch, a), np.float32)  # [B, A] root visits of this search alone
        self.num_nodes = np.zeros(batch, np.int64)  # [B]
        self.states: list[list] = [[] for _ in range(batch)]
        self.pending_roots: list[int] = []  # fresh roots not yet evaluated

    def _per_node_arrays(self) -> list[tuple[str, float]]:
        return [
            ("visits", 0),
            ("value_sum", 0),
            ("prior", 0),
            ("children", -1),
            ("legal", False),
            ("node_value", 0),
            ("terminal", False),
            ("proven", np.nan),
            ("player", 0),
        ]

    def _grow(self, needed: int) -> None:
        if needed <= self.capacity:
            return
        extra = max(needed, 2 * self.capacity) - self.capacity
        for name, fill in self._per_node_arrays():
            array = getattr(self, name)
            padding = np.full((self.batch, extra, *array.shape[2:]), fill, array.dtype)
            setattr(self, name, np.concatenate([array, padding], axis=1))
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
            self.node_value[game, node] = self.proven[game, node] = state.returns()[state.current_player()]
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

    def search(
        self, simulations: int | None = None, games: np.ndarray | None = None, noise: bool | np.ndarray = True
    ) -> SearchResult:
        """Run simulations on the given games' trees (all by default) and say what they found for every root.

        `noise=False` searches without root noise (Dirichlet for puct, Gumbel for gumbel), e.g. a fast search
        that makes no training target; a bool array [batch] says it per game.
        """
        simulations = self.config.simulations if simulations is None else simulations
        if self.pending_roots:
            pending, self.pending_roots = self.pending_roots, []
            self._evaluate([(g, 0) for g in pending])
            self.root_prior[pending] = self.prior[pending, 0]
        games = np.arange(self.batch) if games is None else np.asarray(games, np.int64)
        games = games[~self.terminal[games, 0]]
        self.search_visits[games] = 0
        if len(games):
            self._grow(int(self.num_nodes.max()) + simulations + 1)
            noisy = games[np.broadcast_to(np.asarray(noise, bool), (self.batch,))[games]]
            if self.config.kind == "gumbel":
                self.gumbel[games] = 0.0
                self._draw_gumbel(noisy, self.config.gumbel_scale)
            else:
                self._mix_root_noise(noisy)
            for k in range(simulations):
                self._simulate(games, k, simulations)
            self.prior[games, 0] = self.root_prior[games]
        return self._result(games)

    def _mix_root_noise(self, games: np.ndarray) -> None:
        fraction = self.config.dirichlet_fraction
        if fraction <= 0:
            return
        for g in games:
            legal = self.legal[g, 0]
            noise = np.zeros(self.num_actions, np.float32)
            noise[legal] = self.rng.dirichlet(np.full(legal.sum(), self.config.dirichlet_alpha))
            self.prior[g, 0] = (1 - fraction) * self.root_prior[g] + fraction * noise

    def _draw_gumbel(self, games: np.ndarray, scale: float) -> None:
        if scale > 0 and len(games):
            self.gumbel[games] = scale * self.rng.gumbel(size=(len(games), self.num_actions)).astype(np.float32)

    def _q(self, games: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean values [b, A] of the children of `nodes` from their side to move (exact where proven), visits."""
        visits = self.visits[games, nodes]  # [b, A]
        q = self.value_sum[games, nodes] / np.maximum(visits, 1)
        if self.config.solver:
            exact = self._child_proofs(games, nodes)
            q = np.where(np.isnan(exact), q, exact)
        return q, visits

    def _child_proofs(self, games: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        """[b, A] proven values of the children from the parent's side to move (NaN: unknown or unexpanded)."""
        children = self.children[games, nodes]  # [b, A]
        index = np.maximum(children, 0)
        proven = self.proven[games[:, None], index]
        same = self.player[games[:, None], index] == self.player[games, nodes][:, None]
        return np.where(children >= 0, np.where(same, proven, -proven), np.nan)

    def _puct(self, games: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        """PUCT scores [b, A] of the children of `nodes`, illegal moves at -inf."""
        q, visits = self._q(games, nodes)
        parent_visits = visits.sum(axis=1, keepdims=True)  # [b, 1]
        fpu = self.node_value[games, nodes][:, None] - self.config.fpu_reduction
        q = np.where(visits > 0, q, fpu)
        u = self.config.c_puct * self.prior[games, nodes] * np.sqrt(parent_visits + 1) / (1 + visits)
        return np.where(self.legal[games, nodes], q + u, -np.inf)

    def _sigma_completed_q(self, games: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        """sigma(completed Q) [b, A]: unvisited children take v_mix, then min-max to [0, 1], then scaled by visits."""
        q, visits = self._q(games, nodes)
        legal = self.legal[games, nodes]
        prior = np.where(legal, np.maximum(self.prior[games, nodes], 1e-30), 0.0)
        seen = visits > 0
        total = visits.sum(axis=1)  # [b]
        seen_prior = np.where(seen, prior, 0.0).sum(axis=1)
        weighted_q = np.where(seen, prior * q, 0.0).sum(axis=1) / np.where(seen_prior > 0, seen_prior, 1.0)
        v_mix = (self.node_value[games, nodes] + total * weighted_q) / (total + 1)  # [b]
        completed = np.where(seen, q, v_mix[:, None])
        low = np.where(legal, completed, np.inf).min(axis=1, keepdims=True)
        high = np.where(legal, completed, -np.inf).max(axis=1, keepdims=True)
        rescaled = (completed - low) / np.maximum(high - low, 1e-8)
        scale = (self.config.c_visit + visits.max(axis=1, keepdims=True)) * self.config.c_scale
        return np.where(legal, scale * rescaled, 0.0)

    def _logits(self, games: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        """log priors [b, A], -inf where illegal."""
        prior = self.prior[games, nodes]
        with np.errstate(divide="ignore"):
            return np.where(self.legal[games, nodes], np.log(np.maximum(prior, 1e-30)), -np.inf)

    def improved_policy(self, games: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        """Gumbel's policy [b, A] at `nodes`: softmax(logits + sigma(completed Q)), zero on illegal moves."""
        scores = self._logits(games, nodes) + self._sigma_completed_q(games, nodes)
        scores = scores - scores.max(axis=1, keepdims=True)
        weights = np.exp(scores)
        return weights / weights.sum(axis=1, keepdims=True)

    def _gumbel_root(self, games: np.ndarray, k: int, simulations: int) -> np.ndarray:
        """The root action of simulation `k` for each game: sequential halving over Gumbel-top-k."""
        legal = self.legal[games, 0]
        considered = np.minimum(self.config.max_considered, legal.sum(axis=1))
        target = halving_schedule(self.num_actions, simulations)[considered, k]  # [b]
        scores = self._gumbel_scores(games)
        return np.where(self.search_visits[games] == target[:, None], scores, -np.inf).argmax(axis=1)

    def _gumbel_scores(self, games: np.ndarray) -> np.ndarray:
        """g + logits + sigma(completed Q) [b, A] at the roots (-inf where illegal)."""
        roots = np.zeros(len(games), np.int64)
        logits = self._logits(games, roots)
        logits = logits - logits.max(axis=1, keepdims=True)
        return self.gumbel[games] + logits + self._sigma_completed_q(games, roots)

    def _gumbel_interior(self, games: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        """Deterministic selection below the root: the child whose visit share lags its improved policy most."""
        visits = self.visits[games, nodes]
        scores = self.improved_policy(games, nodes) - visits / (1 + visits.sum(axis=1, keepdims=True))
        return np.where(self.legal[games, nodes], scores, -np.inf).argmax(axis=1)

    def _select(self, games: np.ndarray, nodes: np.ndarray, depth: int, k: int, simulations: int) -> np.ndarray:
        if self.config.kind == "puct":
            return self._puct(games, nodes).argmax(axis=1)
        if depth == 0:
            return self._gumbel_root(games, k, simulations)
        return self._gumbel_interior(games, nodes)

    def _solved(self, games: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        """[b] whether each node is terminal or (with the solver) proven."""
        if self.config.solver:
            return ~np.isnan(self.proven[games, nodes])
        return self.terminal[games, nodes]

    def _simulate(self, games: np.ndarray, k: int = 0, simulations: int = 1) -> None:
        """One simulation in each game: select to a leaf, expand and evaluate the leaves together, back up."""
        games = games[~self._solved(games, np.zeros(len(games), np.int64))]
        if not len(games):
            return
        path_games, path_nodes, path_actions = [], [], []
        active = games
        nodes = np.zeros(len(games), np.int64)
        leaf_node = np.zeros(self.batch, np.int64)
        expand_from: list[tuple[int, int, int]] = []  # (game, parent node, action) whose child is new
        depth = 0
        while len(active):
            actions = self._select(active, nodes, depth, k, simulations)
            path_games.append(active)
            path_nodes.append(nodes)
            path_actions.append(actions)
            child = self.children[active, nodes, actions]
            new = child < 0
            for g, n, a in zip(active[new], nodes[new], actions[new], strict=True):
                expand_from.append((int(g), int(n), int(a)))
            reached = ~new
            stop = reached & self._solved(active, np.maximum(child, 0))
            leaf_node[active[stop]] = child[stop]
            go_on = reached & ~stop
            active, nodes = active[go_on], child[go_on].astype(np.int64)
            depth += 1
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
        leaves = leaf_node[all_games]
        leaf_values = self.node_value[all_games, leaves]
        if self.config.solver:
            exact = self.proven[all_games, leaves]
            leaf_values = np.where(np.isnan(exact), leaf_values, exact)
        same_player = self.player[all_games, all_nodes] == self.player[all_games, leaves]
        signed = np.where(same_player, leaf_values, -leaf_values)
        # a path visits each of its game's nodes once, so the (game, node) pairs are unique: plain `+=` is exact
        self.visits[all_games, all_nodes, all_actions] += 1.0
        self.value_sum[all_games, all_nodes, all_actions] += signed
        self.search_visits[path_games[0], path_actions[0]] += 1
        if self.config.solver:
            for level_games, level_nodes in zip(reversed(path_games), reversed(path_nodes), strict=True):
                self._prove(level_games, level_nodes)

    def _prove(self, games: np.ndarray, nodes: np.ndarray) -> None:
        """Mark nodes solved whose children decide them: one proven win, or every child proven."""
        unknown = np.isnan(self.proven[games, nodes])
        games, nodes = games[unknown], nodes[unknown]
        if not len(games):
            return
        exact = self._child_proofs(games, nodes)  # [b, A] from the node's side to move
        legal = self.legal[games, nodes]
        known = legal & ~np.isnan(exact)
        best = np.where(known, exact, -np.inf).max(axis=1)
        wins = best >= 1.0
        decided = wins | (known == legal).all(axis=1)
        self.proven[games[decided], nodes[decided]] = best[decided]

    # -- results and moves --------------------------------------------------------------------------------------

    def _result(self, searched: np.ndarray) -> SearchResult:
        """Visits, policy targets, chosen moves and values of every root (games not searched keep their trees)."""
        everyone = np.arange(self.batch)
        roots = np.zeros(self.batch, np.int64)
        visits = self.visits[:, 0].copy()
        legal = self.legal[:, 0]
        if self.config.kind == "gumbel":
            policy = self.improved_policy(everyone, roots)
            scores = self._gumbel_scores(everyone)
            ours = self.search_visits
            most = ours == ours.max(axis=1, keepdims=True)
            action = np.where(legal & most, scores, -np.inf).argmax(axis=1)
        else:
            total = visits.sum(axis=1, keepdims=True)
            policy = np.where(total > 0, visits / np.maximum(total, 1), self.root_prior)
            action = np.where(legal, visits + 1e-3 * self.root_prior, -np.inf).argmax(axis=1)
        value = self.root_values()
        proven = ~np.isnan(self.proven[:, 0]) if self.config.solver else np.zeros(self.batch, bool)
        if self.config.solver:
            policy, action = self._play_proofs(policy, action)
        return SearchResult(visits, policy.astype(np.float32), action, value, proven)

    def _play_proofs(self, policy: np.ndarray, action: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where a root's best move is proven (a win, or every move solved), play it and make it the target."""
        everyone = np.arange(self.batch)
        exact = self._child_proofs(everyone, np.zeros(self.batch, np.int64))  # [B, A]
        legal = self.legal[:, 0]
        best = np.where(legal & ~np.isnan(exact), exact, -np.inf).max(axis=1)
        # never play a move proven to lose while another move is not: sequential halving may have dropped it
        losing = legal & (exact <= -1.0)
        escape = losing[everyone, action] & (legal & ~losing).any(axis=1)
        if escape.any():
            action = np.where(escape, np.where(legal & ~losing, policy + 1e-6, -np.inf).argmax(axis=1), action)
        solved = ~np.isnan(self.proven[:, 0]) & ~self.terminal[:, 0]
        # a proven loss has no better move to teach: keep search's own policy there
        teach = solved & (best > -1.0)
        if teach.any():
            good = legal & (exact == best[:, None])
            # among equally proven moves, a terminal one first (win now), then search's preference
            child_terminal = self.terminal[everyone[:, None], np.maximum(self.children[:, 0], 0)]
            pick = np.where(good, policy + 2.0 * child_terminal, -np.inf).argmax(axis=1)
            target = good / np.maximum(good.sum(axis=1, keepdims=True), 1)
            policy = np.where(teach[:, None], target, policy)
            action = np.where(teach, pick, action)
        return policy, action

    def root_values(self) -> np.ndarray:
        """[B] search value of each root from its side to move (visit-weighted mean, or exact where proven)."""
        visits = self.visits[:, 0].sum(axis=1)
        searched = self.value_sum[:, 0].sum(axis=1) / np.maximum(visits, 1)
        values = np.where(visits > 0, searched, self.node_value[:, 0])
        if self.config.solver:
            values = np.where(np.isnan(self.proven[:, 0]), values, self.proven[:, 0])
        return values

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
            for name, _ in self._per_node_arrays():
                if name != "children":
                    array = getattr(self, name)
                    array[game, :k] = array[game, old]
            renumber = np.full(self.capacity, -1, np.int32)
            renumber[old] = np.arange(k, dtype=np.int32)
            children = self.children[game, old]  # [k, A] old numbers; the copy holds every child of its nodes
            self.children[game, :k] = np.where(children >= 0, renumber[np.maximum(children, 0)], -1)
            self.states[game] = [self.states[game][n] for n in order]
        else:
            k = 0
            self.states[game] = []
        for name, fill in self._per_node_arrays():
            getattr(self, name)[game, k:] = fill
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
