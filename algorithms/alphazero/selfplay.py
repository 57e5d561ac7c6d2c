"""Self-play: many games in lockstep, one batched search, finished games turned into samples (symmetries too)."""

from __future__ import annotations

import numpy as np

from agents.mcts import BatchedMCTS, Evaluator, sample_action, temperature_at
from algorithms.alphazero.config import SelfPlayConfig, search_config
from algorithms.alphazero.replay import Samples
from envs.base import Game, State


class SelfPlayActor:
    """Plays `parallel_games` games at once; each `step` searches every game once and plays one move in each."""

    def __init__(self, game: Game, evaluator: Evaluator, config: SelfPlayConfig, rng: np.random.Generator) -> None:
        self.game = game
        self.config = config
        self.rng = rng
        self.mcts = BatchedMCTS(evaluator, game.num_actions, search_config(config, config.simulations), rng)
        self.states = [self._new_game() for _ in range(config.parallel_games)]
        self.mcts.reset(self.states)
        # per game: (obs, policy, player, root value) of each fully searched move
        self.records: list[list[tuple[np.ndarray, np.ndarray, int, float]]] = [[] for _ in self.states]
        self.games_played = 0
        self.moves_played = 0
        self.simulations = 0
        self.finished_lengths: list[int] = []
        self.finished_outcomes: list[float] = []  # first player's return

    def step(self) -> Samples:
        """Search every game once, play a move in each, and return the samples of the games that ended."""
        config = self.config
        full = config.fast_simulations == 0 or self.rng.random() < config.full_search_fraction
        simulations = config.simulations if full else config.fast_simulations
        # a fast search only picks a move: no root noise, and its result makes no policy target
        noise = np.full(len(self.states), full)
        if config.search == "gumbel" and config.gumbel_noise_moves:
            noise &= np.fromiter((len(s.moves) < config.gumbel_noise_moves for s in self.states), bool)
        result = self.mcts.search(simulations, noise=noise)
        self.simulations += simulations * len(self.states)
        finished: list[Samples] = []
        for g, state in enumerate(self.states):
            if full:
                self.records[g].append(
                    (state.observation(), result.policy[g], state.current_player(), float(result.value[g]))
                )
            action = int(result.action[g])
            # Gumbel's move is already a sample (the Gumbel noise); PUCT samples visits early in the game, but
            # never away from a move the solver proved best
            early = temperature_at(len(state.moves), config.temperature_moves) > 0
            if config.search == "puct" and full and early and not result.proven[g]:
                action = sample_action(result.visits[g], 1.0, self.rng)
            state = state.apply(action)
            self.moves_played += 1
            if state.is_terminal():
                finished.append(self._finish(g, state))
                state = self._new_game()
                self.mcts.replace_root(g, state)
            elif config.tree_reuse:
                self.mcts.advance(g, action)
            else:
                self.mcts.replace_root(g, state)
            self.states[g] = state
        return Samples.concatenate(finished, self.game.obs_shape, self.game.num_actions)

    def _new_game(self) -> State:
        """A fresh game, after 0..opening_plies random moves that do not end it."""
        state = self.game.initial_state()
        for _ in range(int(self.rng.integers(0, self.config.opening_plies + 1))):
            following = state.apply(int(self.rng.choice(state.legal_actions())))
            if following.is_terminal():
                break
            state = following
        return state

    def _finish(self, g: int, final: State) -> Samples:
        returns = final.returns()
        drawn = float(all(r == 0 for r in returns))
        mix = self.config.root_value_mix
        obs, policy, value = [], [], []
        for planes, pi, player, root_value in self.records[g]:
            target = (1 - mix) * float(returns[player]) + mix * root_value
            for sym_obs, sym_pi in final.symmetries(planes, pi):
                obs.append(sym_obs)
                policy.append(sym_pi)
                value.append(target)
        self.records[g] = []
        self.games_played += 1
        self.finished_lengths.append(len(final.moves))
        self.finished_outcomes.append(float(returns[0]))
        if not obs:
            return Samples.concatenate([], self.game.obs_shape, self.game.num_actions)
        value = np.asarray(value, np.float32)
        return Samples(
            np.stack(obs).astype(np.float32), np.stack(policy).astype(np.float32), value, np.full_like(value, drawn)
        )

    def take_stats(self) -> dict[str, float]:
        """Figures of the games finished since the last call."""
        stats = {}
        if self.finished_lengths:
            outcomes = np.asarray(self.finished_outcomes)
            stats = {
                "selfplay/game_length": float(np.mean(self.finished_lengths)),
                "selfplay/first_player_wins": float(np.mean(outcomes > 0)),
                "selfplay/draws": float(np.mean(outcomes == 0)),
            }
        self.finished_lengths, self.finished_outcomes = [], []
        return stats
