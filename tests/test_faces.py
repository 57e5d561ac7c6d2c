"""Ecosystem faces: PettingZoo AEC envs, our Agents inside PettingZoo's own games, Gymnasium single-agent envs."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import api_test

import envs
from agents import make_agent
from envs import GAME_REGISTRY, GYM_IDS, IllegalActionError, make_aec, make_game
from envs.pettingzoo_env import PettingZooPlayer

AEC_GAMES = [("tictactoe", {}), ("connect_four", {}), ("othello", {"size": 6}), ("gomoku", {"size": 9})]


def test_the_pettingzoo_list_covers_every_registered_game():
    assert {name for name, _ in AEC_GAMES} == set(GAME_REGISTRY)


@pytest.mark.parametrize(("name", "options"), AEC_GAMES)
def test_aec_env_passes_pettingzoo_api_test(name, options):
    api_test(make_aec(name, **options), num_cycles=200)


def test_aec_env_plays_a_whole_othello_game_with_passes_and_rewards():
    env = make_aec("othello", size=6)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    final_rewards = {}
    for agent in env.agent_iter():
        obs, reward, terminated, truncated, _ = env.last()
        if terminated or truncated:
            final_rewards[agent] = reward
            env.step(None)
            continue
        env.step(int(rng.choice(np.flatnonzero(obs["action_mask"]))))
    final = env.state_
    assert final.is_terminal()
    assert [final_rewards[a] for a in env.possible_agents] == final.returns().tolist()


def test_aec_env_illegal_action_raises_with_legal_moves():
    env = make_aec("connect_four")
    env.reset(options={"moves": "444444"})
    with pytest.raises(IllegalActionError, match=r"column 4\).*column is full; legal: 1 2 3 5 6 7"):
        env.step(3)


@pytest.mark.parametrize(("pz_name", "game_name"), [("connect_four_v3", "connect_four"), ("tictactoe_v3", "tictactoe")])
def test_our_agents_play_full_games_inside_pettingzoo(pz_name, game_name):
    classic = pytest.importorskip("pettingzoo.classic", reason="PettingZoo's classic games need pygame")
    module = getattr(classic, pz_name)
    game = make_game(game_name)
    results = []
    for seed in range(4):
        env = module.env()
        env.reset(seed=seed)
        # Our minimax player moves first against our random player, each seeing PettingZoo's observations.
        first, second = env.possible_agents
        players = {
            first: PettingZooPlayer(make_agent(f"minimax:depth=3,seed={seed}", game), game, pz_name),
            second: PettingZooPlayer(make_agent(f"random:seed={seed}", game), game, pz_name),
        }
        moves, final = 0, {}
        for agent in env.agent_iter():
            obs, reward, terminated, truncated, _ = env.last()
            if terminated or truncated:
                final[agent] = reward
                env.step(None)
                continue
            env.step(players[agent].act(obs))
            moves += 1
        results.append(final[first])
        assert moves >= 5
        env.close()
    # PettingZoo's own referee scores the games: minimax wins them all or draws (tic-tac-toe) against random.
    assert all(r >= 0 for r in results) and sum(results) >= 2, results


@pytest.mark.parametrize("env_id", list(GYM_IDS))
def test_gymnasium_env_passes_check_env(env_id):
    kwargs = {"size": 9} if env_id == "arena/Gomoku-v0" else {}
    if env_id == "arena/Othello-v0":
        # check_env replays an action sampled in one position after a reset; in Othello that move may be
        # illegal at the start, so this check runs in the mode where an illegal move loses the game.
        kwargs["illegal_action"] = "lose"
    env = gymnasium.make(env_id, **kwargs)
    check_env(env.unwrapped)


def test_gymnasium_env_registered_ids_and_opponent_spec():
    assert set(GYM_IDS) <= set(gymnasium.registry)
    env = gymnasium.make("arena/ConnectFour-v0", opponent="greedy", learner_side="second")
    obs, info = env.reset(seed=3)
    assert info["learner"] == 1
    assert obs["observation"][1].sum() == 1  # the opponent's first stone is on the board
    assert obs["action_mask"].tolist() == [1] * 7
    with pytest.raises(envs.ArenaError, match="learner_side"):
        gymnasium.make("arena/ConnectFour-v0", learner_side="left")


def test_gymnasium_episode_against_the_solver_ends_with_the_true_result():
    env = gymnasium.make("arena/TicTacToe-v0", opponent="solver", learner_side="first")
    rng = np.random.default_rng(0)
    for seed in range(5):
        obs, _ = env.reset(seed=seed)
        done, reward = False, 0.0
        while not done:
            action = int(rng.choice(np.flatnonzero(obs["action_mask"])))
            obs, reward, terminated, truncated, info = env.step(action)
            done = terminated or truncated
        assert reward <= 0  # nobody beats the tic-tac-toe solver
        assert info["winner"] in (-1, 1)  # a draw or the solver's win


def test_gymnasium_illegal_action_raises_or_loses_and_sample_is_legal():
    env = gymnasium.make("arena/Othello-v0", learner_side="first")
    obs, _ = env.reset(seed=0)
    with pytest.raises(IllegalActionError, match="legal: d3 c4 f5 e6"):
        env.step(0)
    env.action_space.seed(0)
    for _ in range(20):
        assert obs["action_mask"][env.action_space.sample()] == 1
    env = gymnasium.make("arena/Othello-v0", learner_side="first", illegal_action="lose")
    env.reset(seed=0)
    obs, reward, terminated, _, info = env.step(0)
    assert (reward, terminated, info["illegal_action"]) == (-1.0, True, 0)
    assert not obs["action_mask"].any()


def test_gymnasium_vector_env_with_same_step_autoreset():
    fns = [lambda: gymnasium.make("arena/ConnectFour-v0", opponent="greedy") for _ in range(3)]
    vec = gymnasium.vector.SyncVectorEnv(fns, autoreset_mode=gymnasium.vector.AutoresetMode.SAME_STEP)
    obs, _ = vec.reset(seed=0)
    rng, rewards = np.random.default_rng(0), []
    for _ in range(150):
        assert obs["observation"].shape == (3, 2, 6, 7) and obs["action_mask"].any(axis=1).all()
        actions = [int(rng.choice(np.flatnonzero(m))) for m in obs["action_mask"]]
        obs, reward, terminated, _, _ = vec.step(actions)
        rewards += reward[terminated].tolist()
    assert len(rewards) > 10 and set(rewards) <= {-1.0, 0.0, 1.0}
    assert np.mean(rewards) < 0  # random play loses to greedy
