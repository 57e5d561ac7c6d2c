"""Batched tree search over many games at once (PUCT or Gumbel): each Evaluator call holds one leaf from every game.

The search sees only Game/State and an Evaluator, a batched callable
`(obs [B, C, H, W], mask [B, A]) -> (priors [B, A], values [B][, draws [B]])` whose values are from the side to
move (draw probabilities, where the net has them, serve contempt). It imports no torch. Trees are arrays, one row
per game, walked by the numba-compiled kernels of `agents/mcts_tree.py` (selection, backup, proofs, tree reuse);
this file keeps the game states, calls the evaluator on every game's new leaf at once and turns the roots into
results:

```
visits[g, n, a]      # [B, N, A] edge visit counts
value_sum[g, n, a]   # [B, N, A] sum of backed-up values, from the view of the player to move at node n
prior[g, n, a]       # [B, N, A] evaluator priors (root mixed with Dirichlet noise while searching)
children[g, n, a]    # [B, N, A] child node index, -1 before expansion
proven[g, n]         # [B, N] exact value of node n for its side to move once solved, NaN while unknown
edge_proof[g, n, a]  # [B, N, A] the same for each child, from node n's side to move (what selection reads)
parent[g, n]         # [B, N] parent node (-1 at the root), reached by parent_action[g, n]
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

Contempt (`SearchConfig.contempt`, play only): a draw is worth -contempt to the side to move at the root (the
player searching) and +contempt to the other, as Lc0's draw score. Leaf values become `value - contempt * draws`
at the searcher's turns and `value + contempt * draws` at the opponent's, and drawn terminal states are worth
the same -contempt / +contempt, so the search prefers a line the opponent can still lose over a quiet draw, at
the price of some risk. Wins and losses stay +-1, so proofs are unchanged.

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

from agents import mcts_tree
from agents.mcts_tree import Rules, Tree
from envs import make_game

Evaluator = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, ...]]
"""`(obs [B, C, H, W], legal mask [B, A]) -> (priors [B, A], values [B])`, values from the side to move; an evaluator
whose net predicts draws returns `(priors, values, draws [B])`, the probability that the game ends drawn."""


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
    contempt: float = 0.0
    """A draw is worth -contempt to the player searching and +contempt to its opponent (play only; needs an
    evaluator that returns draw probabilities). 0: draws are worth 0 to both, as the rules say."""


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
        self.rules = Rules(
            gumbel=config.kind == "gumbel",
            solver=config.solver,
            c_puct=float(config.c_puct),
            fpu_reduction=float(config.fpu_reduction),
            c_visit=float(config.c_visit),
            c_scale=float(config.c_scale),
            max_considered=int(config.max_considered),
        )
        self.batch = 0
        self.capacity = 0

    # -- tree storage -------------------------------------------------------------------------------------------

    def _allocate(self, batch: int, capacity: int) -> None:
        a = self.num_actions
        self.batch, self.capacity = batch, capacity
        self.visits = np.empty((batch, capacity, a), np.float32)  # [B, N, A]
        self.value_sum = np.empty((batch, capacity, a), np.float32)  # [B, N, A]
        self.prior = np.empty((batch, capacity, a), np.float32)  # [B, N, A]
        self.children = np.empty((batch, capacity, a), np.int32)  # [B, N, A]
        self.legal = np.empty((batch, capacity, a), bool)  # [B, N, A]
        self.node_value = np.empty((batch, capacity), np.float32)  # [B, N] evaluator (or exact) value
        self.terminal = np.empty((batch, capacity), bool)  # [B, N]
        self.proven = np.empty((batch, capacity), np.float32)  # [B, N] exact value once solved
        self.edge_proof = np.empty((batch, capacity, a), np.float32)  # [B, N, A] proven children, parent's view
        self.player = np.empty((batch, capacity), np.int8)  # [B, N] player to move at the node
        self.parent = np.empty((batch, capacity), np.int32)  # [B, N] parent node, -1 at the root
        self.parent_action = np.empty((batch, capacity), np.int32)  # [B, N] the move from the parent here
        self.root_prior = np.zeros((batch, a), np.float32)  # [B, A] root priors without noise
        self.gumbel = np.zeros((batch, a), np.float32)  # [B, A] this search's root Gumbel noise
        self.search_visits = np.zeros((batch, a), np.float32)  # [B, A] root visits of this search alone
        self.num_nodes = np.zeros(batch, np.int64)  # [B]
        self.states: list[list] = [[] for _ in range(batch)]
        self.pending_roots: list[int] = []  # fresh roots not yet evaluated
        mcts_tree.clear(self._tree(), np.arange(batch), 0, capacity)

    def _tree(self) -> Tree:
        """The arrays as the compiled kernels take them (views, not copies: the kernels write into them)."""
        return Tree(
            self.visits,
            self.value_sum,
            self.prior,
            self.children,
            self.legal,
            self.node_value,
            self.terminal,
            self.proven,
            self.edge_proof,
            self.player,
            self.parent,
            self.parent_action,
            self.gumbel,
            self.search_visits,
        )

    def _grow(self, needed: int) -> None:
        if needed <= self.capacity:
            return
        old, self.capacity = self.capacity, max(needed, 2 * self.capacity)
        for name in mcts_tree.PER_NODE:
            array = getattr(self, name)
            padding = np.empty((self.batch, self.capacity - old, *array.shape[2:]), array.dtype)
            setattr(self, name, np.concatenate([array, padding], axis=1))
        mcts_tree.clear(self._tree(), np.arange(self.batch), old, self.capacity)

    def reset(self, states: Sequence) -> None:
        """Start fresh trees at these root states (one per game)."""
        self._allocate(len(states), max(2 * self.config.simulations + 2, 8))
        games = np.arange(len(states))
        roots = self._add_nodes(games, list(states))
        self._evaluate(games, roots)
        self.root_prior[:] = self.prior[:, 0]

    def _add_nodes(
        self, games: np.ndarray, states: list, parents: np.ndarray | None = None, actions: np.ndarray | None = None
    ) -> np.ndarray:
        """Append one node per game (games distinct) holding `states`, under `parents` by `actions` if given."""
        nodes = self.num_nodes[games].copy()
        self.num_nodes[games] += 1
        players = np.empty(len(states), np.int8)
        terminal = np.zeros(len(states), bool)
        exact = np.full(len(states), np.nan, np.float32)
        legal = np.zeros((len(states), self.num_actions), bool)
        for i, (game, state) in enumerate(zip(games.tolist(), states, strict=True)):
            self.states[game].append(state)
            players[i] = player = state.current_player()
            if state.is_terminal():
                terminal[i] = True
                exact[i] = state.returns()[player]
            else:
                legal[i] = state.legal_mask()
        if self.config.contempt and terminal.any():
            searcher = players if parents is None else self.player[games, 0]  # a new root is the searcher's turn
            exact = np.where(exact == 0, self._draw_score(players, searcher), exact)
        self.player[games, nodes] = players
        self.terminal[games, nodes] = terminal
        self.node_value[games, nodes] = np.where(terminal, exact, 0.0)
        self.proven[games, nodes] = exact
        self.legal[games, nodes] = legal
        if parents is not None:
            self.parent[games, nodes] = parents
            self.parent_action[games, nodes] = actions
            self.children[games, parents, actions] = nodes
            same = players == self.player[games, parents]
            self.edge_proof[games, parents, actions] = np.where(same, exact, -exact)  # NaN unless terminal
        return nodes

    def _evaluate(self, games: np.ndarray, nodes: np.ndarray) -> None:
        """One evaluator call for these nodes (at most one per game); terminal ones keep their exact values."""
        wanted = ~self.terminal[games, nodes]
        games, nodes = games[wanted], nodes[wanted]
        if not len(games):
            return
        states = [self.states[g][n] for g, n in zip(games.tolist(), nodes.tolist(), strict=True)]
        obs = states[0].game.observations(states)  # [L, C, H, W]
        mask = self.legal[games, nodes]  # [L, A]
        priors, values, *draws = self.evaluator(obs, mask)
        if self.config.contempt:
            if not draws:
                raise ValueError("contempt needs an evaluator that returns draw probabilities (a net with a draw head)")
            score = self._draw_score(self.player[games, nodes], self.player[games, 0])
            values = np.clip(values + score * draws[0], -1.0, 1.0)
        priors = np.where(mask, priors, 0.0)
        total = priors.sum(axis=1, keepdims=True)
        # an evaluator that gives every legal move zero prior would stall PUCT: fall back to uniform there
        priors = np.where(total > 0, priors / np.maximum(total, 1e-12), mask / mask.sum(axis=1, keepdims=True))
        self.prior[games, nodes] = priors
        self.node_value[games, nodes] = values

    def _draw_score(self, players: np.ndarray, searchers: np.ndarray) -> np.ndarray:
        """[L] what a draw is worth to `players` (the side to move at each node) under contempt: -contempt where
        that is the player searching (the root's side to move), +contempt where it is the opponent."""
        return np.where(players == searchers, -self.config.contempt, self.config.contempt).astype(np.float32)

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
            pending, self.pending_roots = np.array(self.pending_roots), []
            self._evaluate(pending, np.zeros(len(pending), np.int64))
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
            schedule = halving_schedule(self.num_actions, simulations)
            for k in range(simulations):
                self._simulate(games, schedule[:, k])
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

    def _child_proofs(self, games: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        """[b, A] proven values of the children from the parent's side to move (NaN: unknown or unexpanded)."""
        return mcts_tree.child_proofs(self._tree(), np.asarray(games, np.int64), np.asarray(nodes, np.int64))

    def improved_policy(self, games: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        """Gumbel's policy [b, A] at `nodes`: softmax(logits + sigma(completed Q)), zero on illegal moves."""
        tree, games, nodes = self._tree(), np.asarray(games, np.int64), np.asarray(nodes, np.int64)
        return mcts_tree.improved_policies(tree, self.rules, games, nodes)

    def _simulate(self, games: np.ndarray, halving_targets: np.ndarray) -> None:
        """One simulation in each game: select to a leaf, expand and evaluate the new leaves together, back up.

        `halving_targets[m]`: the root visits sequential halving looks for in this simulation with m considered
        actions (Gumbel only).
        """
        solved = ~np.isnan(self.proven[games, 0]) if self.config.solver else self.terminal[games, 0]
        games = games[~solved]
        if not len(games):
            return
        tree = self._tree()
        parents = np.empty(len(games), np.int64)
        actions = np.empty(len(games), np.int64)
        leaves = np.empty(len(games), np.int64)
        mcts_tree.select_leaves(tree, self.rules, games, halving_targets, parents, actions, leaves)
        new = np.flatnonzero(leaves < 0)
        if len(new):
            grow, parent, action = games[new], parents[new], actions[new]
            states = [
                self.states[g][n].apply(a)
                for g, n, a in zip(grow.tolist(), parent.tolist(), action.tolist(), strict=True)
            ]
            leaves[new] = self._add_nodes(grow, states, parent, action)
            self._evaluate(grow, leaves[new])
        mcts_tree.backup(tree, self.rules, games, leaves)

    # -- results and moves --------------------------------------------------------------------------------------

    def _result(self, searched: np.ndarray) -> SearchResult:
        """Visits, policy targets, chosen moves and values of every root (games not searched keep their trees)."""
        everyone = np.arange(self.batch)
        roots = np.zeros(self.batch, np.int64)
        visits = self.visits[:, 0].copy()
        legal = self.legal[:, 0]
        if self.config.kind == "gumbel":
            policy = self.improved_policy(everyone, roots)
            scores = mcts_tree.root_gumbel_scores(self._tree(), self.rules)
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
            self.replace_root(game, self.states[game][0].apply(action))
            return
        used = int(self.num_nodes[game])
        order = np.empty(used, np.int64)
        kept = mcts_tree.keep_subtree(self._tree(), game, child, used, order)
        states = self.states[game]
        self.states[game] = [states[n] for n in order[:kept].tolist()]
        self.num_nodes[game] = kept
        self.root_prior[game] = self.prior[game, 0]

    def replace_root(self, game: int, state) -> None:
        """Start a fresh tree for one game (e.g. a new game in its slot)."""
        mcts_tree.clear_game(self._tree(), game, 0, int(self.num_nodes[game]))
        self.num_nodes[game] = 0
        self.states[game] = []
        self._add_nodes(np.array([game]), [state])
        if not self.terminal[game, 0]:
            self.pending_roots.append(game)  # evaluated with the others at the next search, in one batch
        self.root_prior[game] = 0.0


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


def compile_kernels() -> None:
    """Compile the tree kernels into numba's on-disk cache once (`make setup` runs it, so no run waits ~12 s)."""
    game, rng = make_game("tictactoe"), np.random.default_rng(0)
    for kind in ("puct", "gumbel"):
        mcts = BatchedMCTS(uniform_evaluator(game.num_actions), game.num_actions, SearchConfig(4, kind=kind), rng)
        mcts.reset([game.initial_state()])
        mcts.advance(0, int(mcts.search(noise=False).action[0]))
        mcts.replace_root(0, game.initial_state())
        mcts.search(noise=False)


if __name__ == "__main__":
    compile_kernels()
