"""The search tree's arithmetic, compiled with numba: selection, backup, proofs and the Gumbel policy.

`agents/mcts.py` owns the trees and the game states and calls these kernels once per simulation for every game
at once. They walk the arrays of a `Tree` (row g of each array is game g's tree, node 0 its root) with plain
loops, which numba turns into machine code. Per game and simulation, selection costs ~0.3 us (PUCT) to ~1 us
(Gumbel) and backup under 1 us on the development CPU, against ~1-2 us each for the numpy expressions across
games these replaced (README, "Where make run's CPU goes").
Values are always from the view of the player to move at the node that holds them.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit


class Tree(NamedTuple):
    """Every game's tree as arrays: B games, room for N nodes each, A actions."""

    visits: np.ndarray  # float32 [B, N, A] edge visit counts
    value_sum: np.ndarray  # float32 [B, N, A] backed-up values, from the view of the player to move at the node
    prior: np.ndarray  # float32 [B, N, A] evaluator priors (the root's mixed with noise while searching)
    children: np.ndarray  # int32 [B, N, A] child node, -1 before expansion
    legal: np.ndarray  # bool [B, N, A]
    node_value: np.ndarray  # float32 [B, N] the evaluator's value (exact at terminal nodes)
    terminal: np.ndarray  # bool [B, N]
    proven: np.ndarray  # float32 [B, N] exact value once solved, NaN while unknown
    edge_proof: np.ndarray  # float32 [B, N, A] the child's `proven` seen from node n's side to move, NaN unknown
    player: np.ndarray  # int8 [B, N] player to move
    parent: np.ndarray  # int32 [B, N] parent node, -1 at the root
    parent_action: np.ndarray  # int32 [B, N] the action that leads from the parent here
    gumbel: np.ndarray  # float32 [B, A] this search's root Gumbel noise
    search_visits: np.ndarray  # float32 [B, A] root visits of this search alone


PER_NODE = tuple(name for name in Tree._fields if name not in ("gumbel", "search_visits"))
"""The Tree arrays with an entry per node; the other two hold one row per game."""


class Rules(NamedTuple):
    """The SearchConfig numbers the kernels read."""

    gumbel: bool
    solver: bool
    c_puct: float
    fpu_reduction: float
    c_visit: float
    c_scale: float
    max_considered: int


# Why each node's work is one function that takes the Tree, with scalars below it: every numba call that passes
# the Tree (15 arrays) costs ~60 ns of reference counting, more than a node's arithmetic. Selection that called
# a Tree-taking helper per edge cost 580 ns a node; now ~100 ns.


@njit(cache=True)
def edge_q(value_sum, visits, proof, solver):
    """Mean value of an edge from its node's side to move, exact where the child is proven (proof not NaN)."""
    if solver and not math.isnan(proof):
        return proof
    return value_sum / max(visits, 1.0)


@njit(cache=True)
def is_solved(proven, terminal, solver):
    """Whether a node is terminal or (with the solver) proven: simulations stop there."""
    return not math.isnan(proven) if solver else terminal


@njit(cache=True)
def puct_action(tree, rules, g, n):
    """AlphaZero's PUCT choice at node n; unvisited children are valued at the parent's value minus the FPU."""
    actions = tree.visits.shape[2]
    parent_visits = 0.0
    for a in range(actions):
        parent_visits += tree.visits[g, n, a]
    exploration = rules.c_puct * math.sqrt(parent_visits + 1.0)
    fpu = tree.node_value[g, n] - rules.fpu_reduction
    best, best_action = -np.inf, 0
    for a in range(actions):
        if not tree.legal[g, n, a]:
            continue
        visits = tree.visits[g, n, a]
        q = edge_q(tree.value_sum[g, n, a], visits, tree.edge_proof[g, n, a], rules.solver) if visits > 0 else fpu
        score = q + exploration * tree.prior[g, n, a] / (1.0 + visits)
        if score > best:
            best, best_action = score, a
    return best_action


@njit(cache=True)
def sigma_completed_q(tree, rules, g, n, out):
    """Fill out[A] with sigma(completed Q): unvisited children take v_mix, min-max to [0, 1], scaled by visits."""
    actions = tree.visits.shape[2]
    total, most, seen_prior, weighted_q = 0.0, 0.0, 0.0, 0.0
    for a in range(actions):
        visits = tree.visits[g, n, a]
        total += visits
        most = max(most, visits)
        if visits > 0:
            prior = max(tree.prior[g, n, a], 1e-30)
            seen_prior += prior
            weighted_q += prior * edge_q(tree.value_sum[g, n, a], visits, tree.edge_proof[g, n, a], rules.solver)
    if seen_prior > 0:
        weighted_q /= seen_prior
    v_mix = (tree.node_value[g, n] + total * weighted_q) / (total + 1.0)
    low, high = np.inf, -np.inf
    for a in range(actions):
        if tree.legal[g, n, a]:
            visits = tree.visits[g, n, a]
            if visits > 0:
                out[a] = edge_q(tree.value_sum[g, n, a], visits, tree.edge_proof[g, n, a], rules.solver)
            else:
                out[a] = v_mix
            low, high = min(low, out[a]), max(high, out[a])
    scale = (rules.c_visit + most) * rules.c_scale
    spread = max(high - low, 1e-8)
    for a in range(actions):
        out[a] = scale * (out[a] - low) / spread if tree.legal[g, n, a] else 0.0


@njit(cache=True)
def improved_policy(tree, rules, g, n, out):
    """Fill out[A] with Gumbel's policy at node n: softmax(logits + sigma(completed Q)), zero on illegal moves."""
    actions = tree.visits.shape[2]
    sigma_completed_q(tree, rules, g, n, out)
    top = -np.inf
    for a in range(actions):
        if tree.legal[g, n, a]:
            out[a] += math.log(max(tree.prior[g, n, a], 1e-30))
            top = max(top, out[a])
    total = 0.0
    for a in range(actions):
        out[a] = math.exp(out[a] - top) if tree.legal[g, n, a] else 0.0
        total += out[a]
    for a in range(actions):
        out[a] = out[a] / total if total > 0 else 0.0


@njit(cache=True)
def gumbel_scores(tree, rules, g, out):
    """Fill out[A] with g + logits + sigma(completed Q) at game g's root (-inf where illegal)."""
    actions = tree.visits.shape[2]
    sigma_completed_q(tree, rules, g, 0, out)
    top = -np.inf
    for a in range(actions):
        if tree.legal[g, 0, a]:
            top = max(top, math.log(max(tree.prior[g, 0, a], 1e-30)))
    for a in range(actions):
        if tree.legal[g, 0, a]:
            out[a] += tree.gumbel[g, a] + math.log(max(tree.prior[g, 0, a], 1e-30)) - top
        else:
            out[a] = -np.inf


@njit(cache=True)
def gumbel_root_action(tree, rules, g, target_visits, scratch):
    """Sequential halving: the best-scoring root action among those with `target_visits` visits this search."""
    gumbel_scores(tree, rules, g, scratch)
    best, best_action = -np.inf, 0
    for a in range(scratch.shape[0]):
        if tree.search_visits[g, a] == target_visits and scratch[a] > best:
            best, best_action = scratch[a], a
    return best_action


@njit(cache=True)
def gumbel_interior_action(tree, rules, g, n, scratch):
    """Below the root: the child whose visit share lags its improved policy most (deterministic)."""
    actions = tree.visits.shape[2]
    improved_policy(tree, rules, g, n, scratch)
    total = 0.0
    for a in range(actions):
        total += tree.visits[g, n, a]
    best, best_action = -np.inf, 0
    for a in range(actions):
        if tree.legal[g, n, a]:
            score = scratch[a] - tree.visits[g, n, a] / (1.0 + total)
            if score > best:
                best, best_action = score, a
    return best_action


@njit(cache=True)
def select_leaves(tree, rules, games, halving_targets, leaf_parent, leaf_action, leaf_node):
    """Descend every game's tree to the edge a simulation ends on: a new child (leaf_node -1) or a solved one.

    `halving_targets[m]` is sequential halving's visit target for this simulation with m considered actions.
    """
    actions = tree.visits.shape[2]
    scratch = np.empty(actions, np.float64)
    for i in range(games.shape[0]):
        g = games[i]
        n = 0
        while True:
            if not rules.gumbel:
                a = puct_action(tree, rules, g, n)
            elif n == 0:
                legal = 0
                for b in range(actions):
                    legal += tree.legal[g, 0, b]
                target = halving_targets[min(rules.max_considered, legal)]
                a = gumbel_root_action(tree, rules, g, target, scratch)
            else:
                a = gumbel_interior_action(tree, rules, g, n, scratch)
            child = tree.children[g, n, a]
            if child < 0 or is_solved(tree.proven[g, child], tree.terminal[g, child], rules.solver):
                leaf_parent[i], leaf_action[i], leaf_node[i] = n, a, child
                break
            n = child


@njit(cache=True)
def backup(tree, rules, games, leaves):
    """Every edge from each game's leaf up to its root gets one visit and the leaf's value, seen from that edge's
    node. With the solver, each node on the way up is proven if its children decide it: one proven win, or every
    child proven (then it is worth the best of them); its parent's edge learns the proof."""
    actions = tree.visits.shape[2]
    for i in range(games.shape[0]):
        g, node = games[i], leaves[i]
        value = tree.node_value[g, node]
        if rules.solver and not math.isnan(tree.proven[g, node]):
            value = tree.proven[g, node]
        leaf_player = tree.player[g, node]
        while node != 0:
            n, a = tree.parent[g, node], tree.parent_action[g, node]
            tree.visits[g, n, a] += 1.0
            tree.value_sum[g, n, a] += value if tree.player[g, n] == leaf_player else -value
            if n == 0:
                tree.search_visits[g, a] += 1.0
            if rules.solver and math.isnan(tree.proven[g, n]):
                best, every = -np.inf, True
                for b in range(actions):
                    if tree.legal[g, n, b]:
                        exact = tree.edge_proof[g, n, b]  # the child's proof, from n's side to move
                        if math.isnan(exact):
                            every = False
                        elif exact > best:
                            best = exact
                if best >= 1.0 or every:
                    tree.proven[g, n] = best
                    parent = tree.parent[g, n]
                    if parent >= 0:
                        same = tree.player[g, parent] == tree.player[g, n]
                        tree.edge_proof[g, parent, tree.parent_action[g, n]] = best if same else -best
            node = n


@njit(cache=True)
def improved_policies(tree, rules, games, nodes):
    """[b, A] Gumbel's improved policy at each (game, node)."""
    out = np.zeros((games.shape[0], tree.visits.shape[2]), np.float64)
    for i in range(games.shape[0]):
        improved_policy(tree, rules, games[i], nodes[i], out[i])
    return out


@njit(cache=True)
def root_gumbel_scores(tree, rules):
    """[B, A] g + logits + sigma(completed Q) at every root (-inf where illegal)."""
    out = np.empty((tree.visits.shape[0], tree.visits.shape[2]), np.float64)
    for g in range(out.shape[0]):
        gumbel_scores(tree, rules, g, out[g])
    return out


@njit(cache=True)
def child_proofs(tree, games, nodes):
    """[b, A] proven values of the children of each (game, node) from its side to move (NaN where unknown)."""
    out = np.empty((games.shape[0], tree.visits.shape[2]), np.float32)
    for i in range(games.shape[0]):
        for a in range(out.shape[1]):
            out[i, a] = tree.edge_proof[games[i], nodes[i], a]
    return out


@njit(cache=True)
def keep_subtree(tree, g, top, used, order):
    """Make node `top`'s subtree game g's whole tree, renumbered breadth-first from 0; return its size k.

    `order[:k]` receives the old number of each kept node (for the caller's states); nodes k..used-1 are cleared.
    """
    actions = tree.visits.shape[2]
    order[0], k = top, 1
    for i in range(used):  # breadth-first: `order` grows behind the cursor
        if i >= k:
            break
        for a in range(actions):
            child = tree.children[g, order[i], a]
            if child >= 0:
                order[k] = child
                k += 1
    renumber = np.full(used, -1, np.int32)
    for i in range(k):
        renumber[order[i]] = i
    per_edge = (tree.visits, tree.value_sum, tree.prior, tree.edge_proof)
    for array in per_edge:
        moved = array[g, order[:k]].copy()
        array[g, :k] = moved
    moved_legal = tree.legal[g, order[:k]].copy()
    tree.legal[g, :k] = moved_legal
    moved_children = tree.children[g, order[:k]].copy()
    for i in range(k):
        for a in range(actions):
            child = moved_children[i, a]
            tree.children[g, i, a] = renumber[child] if child >= 0 else -1
    for array in (tree.node_value, tree.proven):
        moved_values = array[g, order[:k]].copy()
        array[g, :k] = moved_values
    moved_terminal = tree.terminal[g, order[:k]].copy()
    tree.terminal[g, :k] = moved_terminal
    moved_player = tree.player[g, order[:k]].copy()
    tree.player[g, :k] = moved_player
    moved_action = tree.parent_action[g, order[:k]].copy()
    tree.parent_action[g, :k] = moved_action
    moved_parent = tree.parent[g, order[:k]].copy()
    for i in range(k):
        parent = moved_parent[i]
        tree.parent[g, i] = renumber[parent] if parent >= 0 else -1  # the old root was not kept: -1
    clear_game(tree, g, k, used)
    return k


@njit(cache=True)
def clear(tree, games, start, stop):
    """Make nodes start..stop-1 of these games empty: what every node holds before `_add_nodes` fills it."""
    for g in games:
        clear_game(tree, g, start, stop)


@njit(cache=True)
def clear_game(tree, g, start, stop):
    """`clear` for one game."""
    tree.visits[g, start:stop] = 0.0
    tree.value_sum[g, start:stop] = 0.0
    tree.prior[g, start:stop] = 0.0
    tree.children[g, start:stop] = -1
    tree.legal[g, start:stop] = False
    tree.node_value[g, start:stop] = 0.0
    tree.terminal[g, start:stop] = False
    tree.proven[g, start:stop] = np.nan
    tree.edge_proof[g, start:stop] = np.nan
    tree.player[g, start:stop] = 0
    tree.parent[g, start:stop] = -1
    tree.parent_action[g, start:stop] = 0
