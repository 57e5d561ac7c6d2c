"""AlphaZero: the evaluator respects masks, a short run checkpoints and resumes, a checkpoint is an Agent."""

import json

import numpy as np
import pytest
import torch

from agents.matches import play_game
from algorithms.alphazero import AZConfig, ReplayWindow, Samples, Training, build_net, pons_mistake_rates, train
from algorithms.alphazero.agent import export_model
from algorithms.alphazero.config import SelfPlayConfig, run_game
from algorithms.alphazero.learner import Learner
from algorithms.alphazero.selfplay import SelfPlayActor
from algorithms.evaluators import MirrorAveraged, TorchEvaluator
from algorithms.nets import PolicyValueNet
from algorithms.registry import make_agent
from core.checkpoint import load_checkpoint_file
from core.config import ConfigError, build_config, load_config
from core.errors import ArenaError
from core.run import Run
from envs import make_game
from runners.train import check_config

TINY = [
    "game=tictactoe",
    "net=resnet-3x32",
    "selfplay.parallel_games=8",
    "selfplay.simulations=8",
    "learn.batch_size=32",
    "learn.min_replay=64",
    "learn.replay_window=2000",
    "eval.every=10",
    "eval.games=4",
    "eval.simulations=8",
    "eval.opponents=[random]",
    "run.checkpoint_every=5",
    "run.torch_threads=1",
    "tracking.mode=disabled",
]


def test_evaluator_gives_masked_priors_and_bounded_values():
    game = make_game("connect_four")
    torch.manual_seed(0)
    evaluator = TorchEvaluator(PolicyValueNet("resnet-3x32", game.obs_shape, game.num_actions), torch.device("cpu"))
    states = [game.state_from_moves(m) for m in ("", "444444", "1234567")]
    priors, values = evaluator(np.stack([s.observation() for s in states]), np.stack([s.legal_mask() for s in states]))
    assert priors.shape == (3, 7) and values.shape == (3,)
    np.testing.assert_allclose(priors.sum(axis=1), 1.0, rtol=1e-5)
    assert priors[1, 3] == 0.0 and np.all(np.abs(values) <= 1.0)


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_the_learner_fits_a_batch_in_either_precision(precision):
    game = make_game("connect_four")
    rng = np.random.default_rng(0)
    obs = rng.integers(0, 2, (64, *game.obs_shape)).astype(np.float32)
    policy = rng.dirichlet(np.ones(game.num_actions), 64).astype(np.float32)
    batch = Samples(obs, policy, rng.choice([-1.0, 1.0], 64).astype(np.float32))
    config = load_config(AZConfig, None, [f"learn.precision={precision}", "learn.learning_rate=0.003"])
    torch.manual_seed(0)
    net = PolicyValueNet("resnet-3x32", game.obs_shape, game.num_actions)
    learner = Learner(net, config.learn, torch.device("cpu"))
    assert learner.bf16 == (precision == "bfloat16")
    first = learner.update(batch)["learn/value_loss"]
    for _ in range(40):
        last = learner.update(batch)["learn/value_loss"]
    assert last < 0.5 * first  # it memorises the outcomes of 64 positions either way
    assert all(p.dtype == torch.float32 for p in learner.net.parameters())  # the weights stay float


def test_the_draw_head_learns_which_games_were_drawn_and_leaves_the_value_loss_alone():
    game = make_game("connect_four")
    rng = np.random.default_rng(2)
    obs = rng.integers(0, 2, (64, *game.obs_shape)).astype(np.float32)
    policy = rng.dirichlet(np.ones(game.num_actions), 64).astype(np.float32)
    value, drawn = rng.choice([-1.0, 1.0], 64).astype(np.float32), (np.arange(64) % 4 == 0).astype(np.float32)
    config = load_config(AZConfig, None, ["learn.precision=float32", "learn.learning_rate=0.003"])
    figures = {}
    for draw_head in (False, True):
        torch.manual_seed(0)
        net = PolicyValueNet("resnet-3x32", game.obs_shape, game.num_actions, draw_head=draw_head)
        learner = Learner(net, config.learn, torch.device("cpu"))
        figures[draw_head] = [learner.update(Samples(obs, policy, value, drawn)) for _ in range(40)]
    assert "learn/draw_loss" not in figures[False][-1]
    assert figures[True][-1]["learn/draw_loss"] < 0.5 * figures[True][0]["learn/draw_loss"]
    assert figures[True][-1]["learn/loss"] == pytest.approx(
        sum(figures[True][-1][f"learn/{k}_loss"] for k in ("policy", "value", "draw")), rel=1e-5
    )
    _, _, logits = net.eval().heads(torch.from_numpy(obs))
    assert torch.sigmoid(logits)[drawn == 1].min() > torch.sigmoid(logits)[drawn == 0].max() - 0.5
    assert torch.sigmoid(logits)[drawn == 1].mean() > 0.6 > 0.2 > torch.sigmoid(logits)[drawn == 0].mean()


def test_the_learners_nhwc_layout_computes_the_same_loss_and_gradients_as_nchw():
    game = make_game("connect_four")
    rng = np.random.default_rng(1)
    obs = rng.integers(0, 2, (32, *game.obs_shape)).astype(np.float32)
    batch = Samples(obs, rng.dirichlet(np.ones(7), 32).astype(np.float32), rng.uniform(-1, 1, 32).astype(np.float32))
    config = load_config(AZConfig, None, ["learn.precision=float32"])
    losses, grads = [], []
    for layout in (torch.contiguous_format, torch.channels_last):
        torch.manual_seed(0)
        net = PolicyValueNet("resnet-3x32", game.obs_shape, game.num_actions)
        learner = Learner(net, config.learn, torch.device("cpu"), memory_format=layout)
        losses.append(learner.update(batch)["learn/loss"])
        grads.append({name: p.grad for name, p in learner.net.named_parameters()})
    assert learner.net.tower.stem[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert losses[1] == pytest.approx(losses[0], rel=1e-6)
    for name, grad in grads[0].items():
        torch.testing.assert_close(grads[1][name], grad, rtol=1e-4, atol=1e-6)


def test_value_targets_mix_the_outcome_with_the_root_value_by_root_value_mix():
    game = make_game("tictactoe")
    evaluator = TorchEvaluator(PolicyValueNet("resnet-3x32", game.obs_shape, game.num_actions), torch.device("cpu"))
    final = game.state_from_moves([0, 3, 1, 4, 2])  # X completes the top row
    pi = np.full(game.num_actions, 1 / game.num_actions, np.float32)
    targets = {}
    for mix in (0.0, 0.5):
        config = build_config(SelfPlayConfig, {"parallel_games": 1, "root_value_mix": mix}, source="test")
        actor = SelfPlayActor(game, evaluator, config, np.random.default_rng(0))
        actor.records[0] = [(final.observation(), pi, 0, 0.2), (final.observation(), pi, 1, -0.4)]
        samples = actor._finish(0, final)
        targets[mix] = sorted(set(np.round(samples.value.astype(np.float64), 6).tolist()))
    assert targets[0.0] == [-1.0, 1.0]  # AlphaZero: the outcome alone
    assert targets[0.5] == [-0.7, 0.6]  # (outcome + root value) / 2, for each mover
    assert not samples.draw.any()  # X won: no draw targets


def test_every_sample_of_a_drawn_game_is_a_draw_target():
    game = make_game("tictactoe")
    evaluator = TorchEvaluator(PolicyValueNet("resnet-3x32", game.obs_shape, game.num_actions), torch.device("cpu"))
    drawn = game.state_from_moves([0, 4, 8, 1, 7, 6, 2, 5, 3])  # a full board, no line
    assert drawn.is_terminal() and not np.any(drawn.returns())
    actor = SelfPlayActor(
        game, evaluator, build_config(SelfPlayConfig, {"parallel_games": 1}, source="t"), np.random.default_rng(0)
    )
    pi = np.full(game.num_actions, 1 / game.num_actions, np.float32)
    actor.records[0] = [(drawn.observation(), pi, 0, 0.1), (drawn.observation(), pi, 1, -0.1)]
    samples = actor._finish(0, drawn)
    assert len(samples) == 2 * len(drawn.symmetries(drawn.observation(), pi)) and samples.draw.tolist() == [1.0] * len(
        samples
    )


def test_replay_window_keeps_the_newest_and_survives_a_checkpoint_round_trip():
    window = ReplayWindow(5, (1, 1, 1), 2)
    for start in (0, 3, 6):
        values = np.arange(start, start + 3, dtype=np.float32)
        window.add(Samples(values.reshape(3, 1, 1, 1), np.ones((3, 2), np.float32), values))
    assert len(window) == 5 and sorted(window.value.tolist()) == [4, 5, 6, 7, 8]
    copy = ReplayWindow(5, (1, 1, 1), 2)
    copy.load_state_dict(window.state_dict())
    assert sorted(copy.value.tolist()) == [4, 5, 6, 7, 8] and copy.added == 9


def test_replay_keeps_draw_targets_and_reads_windows_saved_before_them():
    window = ReplayWindow(4, (1, 1, 1), 2)
    values = np.arange(6, dtype=np.float32)
    window.add(Samples(values.reshape(6, 1, 1, 1), np.ones((6, 2), np.float32), values, values % 2))
    assert sorted(zip(window.value.tolist(), window.draw.tolist(), strict=True)) == [(2, 0), (3, 1), (4, 0), (5, 1)]
    batch = window.sample(16, np.random.default_rng(0))
    assert (batch.draw == batch.value % 2).all()
    old = {k: v for k, v in window.state_dict().items() if k != "draw"}
    copy = ReplayWindow(4, (1, 1, 1), 2)
    copy.load_state_dict(old)
    assert sorted(copy.value.tolist()) == [2, 3, 4, 5] and not copy.draw.any()


def test_a_short_run_checkpoints_resumes_and_becomes_an_agent(tmp_path):
    config = load_config(AZConfig, None, [f"run.runs_dir={tmp_path}", "run.name=ttt", "learn.total_steps=10", *TINY])
    with Run.create(config) as run:
        result = train(config, run)
    assert result["steps"] == 10 and "eval/random/win" in result
    checkpoints = sorted(p.name for p in (tmp_path / "ttt" / "checkpoints").glob("ckpt-*.pt"))
    assert checkpoints == ["ckpt-000000000005.pt", "ckpt-000000000010.pt"]

    with Run.resume(tmp_path / "ttt", AZConfig, ["learn.total_steps=15"]) as run:
        resumed = train(run.config, run)
    assert resumed["steps"] == 15 and resumed["games"] > result["games"]

    game = make_game("tictactoe")
    agent = make_agent(f"az:{tmp_path / 'ttt'},sims=16", game)
    state = game.state_from_board("""
        . X X
        . O O
        . . .
    """)  # X to move completes the top row at cell 0 (O threatens cell 3)
    assert agent.act(state) == 0  # even a barely trained net's search, with proven values, takes the win
    final, _ = play_game(game, agent, make_agent("random", game), game.parse_moves("1425"), seed=1)
    assert final.returns()[0] == 1.0


def test_init_weights_starts_a_new_run_from_trained_weights_with_fresh_counters(tmp_path):
    base = [f"run.runs_dir={tmp_path}", "learn.total_steps=5", *TINY]
    with Run.create(load_config(AZConfig, None, [*base, "run.name=parent"])) as run:
        train(run.config, run)
    parent = load_checkpoint_file(sorted((tmp_path / "parent" / "checkpoints").glob("ckpt-*.pt"))[-1])["net"]

    child = Training(load_config(AZConfig, None, [*base, f"learn.init_weights={tmp_path / 'parent'}"]), None)
    assert child.steps == 0 and child.counters["games"] == 0 and len(child.replay) == 0
    for key, value in child.net.state_dict().items():
        assert torch.equal(value, parent[key]), key  # every tensor, BatchNorm statistics included
    fresh = Training(load_config(AZConfig, None, base), None)
    assert not all(torch.equal(v, parent[k]) for k, v in fresh.net.state_dict().items())

    other_net = load_config(AZConfig, None, [*base, "net=resnet-4x48", f"learn.init_weights={tmp_path / 'parent'}"])
    with pytest.raises(ArenaError, match="holds a resnet-3x32 net, this run builds resnet-4x48"):
        Training(other_net, None)
    other_game = load_config(AZConfig, None, [*base, "game=connect_four", f"learn.init_weights={tmp_path / 'parent'}"])
    with pytest.raises(ArenaError, match="trained on tictactoe, not connect_four"):
        Training(other_game, None)


def test_connect_four_nets_see_feature_planes_unless_told_and_play_positions_of_a_plain_board(tmp_path):
    base = [f"run.runs_dir={tmp_path}", "learn.total_steps=2", *TINY, "game=connect_four"]
    config = load_config(AZConfig, None, [*base, "run.name=c4"])
    assert run_game(config).obs_shape == (5, 6, 7)  # the registry's net_options: stones, threats, colour
    assert run_game(load_config(AZConfig, None, [*base, "game_options={}"])).obs_shape == (2, 6, 7)
    assert run_game(load_config(AZConfig, None, base[:-1])).obs_shape == (2, 3, 3)  # tictactoe has none
    with Run.create(config) as run:
        train(config, run)
    saved = load_checkpoint_file(sorted((tmp_path / "c4" / "checkpoints").glob("ckpt-*.pt"))[-1])
    assert saved["az"]["game_options"] == {"threats": True, "colour": True}

    plain = make_game("connect_four")  # a tournament's board: stones-only observations
    agent = make_agent(f"az:{tmp_path / 'c4'},sims=16", plain)
    assert agent.game.obs_shape == (5, 6, 7)
    assert agent.act(plain.state_from_moves("112233")) == 3  # the solver takes the win in column 4
    assert agent.act_batch([plain.state_from_moves("1122"), plain.state_from_moves("5566")]).shape == (2,)

    stones_only = [*base, "game_options={colour: false}", f"learn.init_weights={tmp_path / 'c4'}"]
    with pytest.raises(ArenaError, match=r"'colour': True\}, this run has \{'threats': False, 'colour': False\}"):
        Training(load_config(AZConfig, None, stones_only), None)
    with pytest.raises(ConfigError, match="game_options: unknown option 'size' for game 'connect_four'"):
        check_config(load_config(AZConfig, None, [*base, "game_options={size: 9}"]))


def test_a_checkpoint_of_another_game_is_refused(tmp_path):
    config = load_config(AZConfig, None, [f"run.runs_dir={tmp_path}", "run.name=t", "learn.total_steps=5", *TINY])
    with Run.create(config) as run:
        train(config, run)
    with pytest.raises(ArenaError, match=r"was trained on tictactoe, not connect_four"):
        make_agent(f"az:{tmp_path / 't'}", make_game("connect_four"))


def test_in_run_pons_figures_give_the_raw_net_alone_and_the_mirror_averaged_player_with_search(tmp_path):
    overrides = [f"run.runs_dir={tmp_path}", "run.name=p", "learn.total_steps=5", *TINY, "game=connect_four"]
    overrides += ["eval.pons=true", "eval.pons_positions=40", "eval.games=2", "eval.simulations=4"]
    with Run.create(load_config(AZConfig, None, overrides)) as run:
        summary = train(run.config, run)
    agent = make_agent(f"az:{tmp_path / 'p'},mirror=false", make_game("connect_four"))
    game, raw = agent.game, agent.evaluator  # the game as the net sees it: its planes fit the evaluator
    averaged = make_agent(f"az:{tmp_path / 'p'}", game).evaluator
    net_alone = {f"eval/pons_policy/{k}": v for k, v in pons_mistake_rates(raw, game, 40, None).items()}
    assert {k: summary[k] for k in net_alone} == net_alone
    assert pons_mistake_rates(averaged, game, 40, None) != pons_mistake_rates(raw, game, 40, None)
    assert {k for k in summary if k.startswith("eval/pons_search/")} == {
        k.replace("policy", "search") for k in net_alone
    }


def test_a_gumbel_trained_agent_plays_with_eval_search_unless_its_spec_says_otherwise(tmp_path):
    overrides = ["learn.total_steps=5", "selfplay.search=gumbel", *TINY]
    for name, extra in (("default", []), ("g", ["eval.search=gumbel"])):
        config = load_config(AZConfig, None, [f"run.runs_dir={tmp_path}", f"run.name={name}", *overrides, *extra])
        with Run.create(config) as run:
            train(config, run)
    game = make_game("tictactoe")
    assert make_agent(f"az:{tmp_path / 'default'},sims=8", game).config.kind == "puct"
    assert make_agent(f"az:{tmp_path / 'default'},sims=8,search=gumbel", game).config.kind == "gumbel"
    agent = make_agent(f"az:{tmp_path / 'g'},sims=8", game)
    assert agent.config.kind == "gumbel" and agent.config.gumbel_scale == 0.0  # no noise outside self-play


def test_eval_settings_are_how_a_run_and_its_exported_model_play_unless_a_spec_says_otherwise(tmp_path):
    overrides = [f"run.runs_dir={tmp_path}", "run.name=c", "learn.total_steps=5", *TINY]  # eval.mirror: on
    with Run.create(load_config(AZConfig, None, overrides)) as run:
        summary = train(run.config, run)
    assert "eval/random/win" in summary  # the run's own evaluation played through the mirror average
    game = make_game("tictactoe")
    trained = make_agent(f"az:{tmp_path / 'c'},sims=8", game)
    assert trained.config.c_puct == 1.5 and isinstance(trained.evaluator, MirrorAveraged)  # None: self-play's
    shipped = export_model(tmp_path / "c", tmp_path / "ship.pt", ["eval.c_puct=3.0", "eval.mirror=false"])
    assert load_checkpoint_file(shipped)["config"]["eval"]["c_puct"] == 3.0
    agent = make_agent(f"az:{shipped},sims=8", game)
    assert agent.config.c_puct == 3.0 and not isinstance(agent.evaluator, MirrorAveraged)
    agent = make_agent(f"az:{shipped},sims=8,c_puct=2.0,mirror=true", game)
    assert agent.config.c_puct == 2.0 and isinstance(agent.evaluator, MirrorAveraged)  # the spec wins
    with pytest.raises(ArenaError, match=r"unknown key 'c_pcut'.*did you mean 'c_puct'"):
        export_model(tmp_path / "c", tmp_path / "bad.pt", ["eval.c_pcut=3.0"])
    with pytest.raises(ArenaError, match=r"only eval.KEY=VALUE settings"):
        export_model(tmp_path / "c", tmp_path / "bad.pt", ["selfplay.c_puct=3.0"])
    assert not (tmp_path / "bad.pt").exists()


def test_a_run_with_a_draw_head_plays_with_contempt_and_resumes_only_with_its_own_head(tmp_path):
    base = [f"run.runs_dir={tmp_path}", "learn.total_steps=5", *TINY]
    with pytest.raises(ArenaError, match=r"eval\.contempt needs a net that predicts draws: set draw_head: true"):
        Training(load_config(AZConfig, None, [*base, "draw_head=false", "eval.contempt=0.2"]), None)
    with Run.create(load_config(AZConfig, None, [*base, "run.name=d", "draw_head=true", "eval.contempt=0.2"])) as run:
        summary = train(run.config, run)
    logged = [json.loads(line) for line in (tmp_path / "d" / "metrics.jsonl").read_text().splitlines()]
    assert "eval/random/win" in summary and any("learn/draw_loss" in row for row in logged)
    game = make_game("tictactoe")
    agent = make_agent(f"az:{tmp_path / 'd'},sims=8", game)
    assert agent.config.contempt == 0.2  # the run's eval.contempt, unless a spec says otherwise
    assert make_agent(f"az:{tmp_path / 'd'},sims=8,contempt=0", game).config.contempt == 0.0
    final, _ = play_game(game, agent, make_agent("random", game), game.parse_moves("5"), seed=0)
    assert final.is_terminal()
    with pytest.raises(ArenaError, match=r"contempt"):
        make_agent(f"az:{tmp_path / 'd'},sims=8,contempt=1.5", game)  # a draw is not worth a loss

    resumed = Run.resume(tmp_path / "d", AZConfig, ["draw_head=false", "eval.contempt=0"])
    with (
        resumed as run,
        pytest.raises(ArenaError, match="trained with draw_head: true; this config has draw_head: false"),
    ):
        Training(run.config, run)
    with Run.create(load_config(AZConfig, None, [*base, "run.name=plain", "draw_head=false"])) as run:
        train(run.config, run)
    with pytest.raises(ArenaError, match="contempt needs a net with a draw head"):
        make_agent(f"az:{tmp_path / 'plain'},sims=8,contempt=0.2", game)
    # a run with a draw head may start from weights without one: the head starts fresh, the rest is copied
    child = Training(
        load_config(AZConfig, None, [*base, "draw_head=true", f"learn.init_weights={tmp_path / 'plain'}"]), None
    )
    parent = load_checkpoint_file(sorted((tmp_path / "plain" / "checkpoints").glob("ckpt-*.pt"))[-1])["net"]
    assert child.net.draw_head and all(torch.equal(child.net.state_dict()[k], v) for k, v in parent.items())


@pytest.mark.slow
def test_tictactoe_in_two_minutes_never_loses_to_the_perfect_solver(tmp_path):
    import time

    config = load_config(
        AZConfig, "configs/az_tictactoe.yaml", [f"run.runs_dir={tmp_path}", "run.name=p", "tracking.mode=disabled"]
    )
    start = time.perf_counter()
    with Run.create(config) as run:
        train(config, run)
    assert time.perf_counter() - start < 120
    game = make_game("tictactoe")
    agent = make_agent(f"az:{tmp_path / 'p'},sims=48", game)
    solver = make_agent("solver", game)
    openings = [()] + [(a,) for a in range(9)]
    for opening in openings:
        for az_first in (True, False):
            first, second = (agent, solver) if az_first else (solver, agent)
            state, _ = play_game(game, first, second, opening, seed=0)
            az_player = 0 if az_first else 1
            assert state.returns()[az_player] >= 0, (
                f"lost from opening {opening} playing {'first' if az_first else 'second'}"
            )


def test_rate_puts_every_checkpoint_of_a_run_on_one_elo_scale(tmp_path, capsys):
    from runners.cli import main

    config = load_config(AZConfig, None, [f"run.runs_dir={tmp_path}", "run.name=r", "learn.total_steps=10", *TINY])
    with Run.create(config) as run:
        train(config, run)
    code = main(
        [
            "rate",
            str(tmp_path / "r"),
            "--field",
            "random",
            "minimax:depth=1",
            "--games",
            "2",
            "--agent-options",
            "sims=4",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "step 5: Elo" in out and "step 10: Elo" in out
    assert (tmp_path / "r" / "rating" / "elo.png").stat().st_size > 5000
    logged = (tmp_path / "r" / "metrics.jsonl").read_text()
    assert logged.count('"rate/elo"') == 2


def test_the_shipped_tictactoe_model_never_loses_to_the_perfect_solver():
    game = make_game("tictactoe")
    agent = make_agent("az:tictactoe,sims=48", game)
    solver = make_agent("solver", game)
    for opening in [(), *((a,) for a in range(9))]:
        for az_player in (0, 1):
            players = (agent, solver) if az_player == 0 else (solver, agent)
            state, _ = play_game(game, *players, opening, seed=3)
            assert state.returns()[az_player] >= 0, f"lost from opening {opening} as player {az_player}"


def test_gating_plays_an_sprt_and_keeps_the_acting_weights_in_the_checkpoint(tmp_path):
    overrides = ["learn.total_steps=10", "eval.gate=true", "eval.gate_every=5", "eval.gate_max_games=4", *TINY]
    config = load_config(AZConfig, None, [f"run.runs_dir={tmp_path}", "run.name=g", *overrides])
    with Run.create(config) as run:
        train(config, run)
    lines = (tmp_path / "g" / "metrics.jsonl").read_text().splitlines()
    gates = [record for record in map(json.loads, lines) if "gate/llr" in record]
    assert [g["step"] for g in gates] == [5, 10]
    # self-play's weights in the checkpoint are those of the last promotion, or the initial ones if none won
    promoted = [g["step"] for g in gates if g["gate/promoted"]]
    checkpoints = tmp_path / "g" / "checkpoints"
    if promoted:
        expected = load_checkpoint_file(checkpoints / f"ckpt-{promoted[-1]:012d}.pt")["net"]
    else:
        expected = build_net(config, make_game("tictactoe"), torch.device("cpu")).state_dict()
    acting = load_checkpoint_file(checkpoints / "ckpt-000000000010.pt")["acting_net"]
    assert set(acting) == set(expected) and all(torch.equal(acting[k], expected[k]) for k in expected)


def test_a_tournament_plays_searching_agents_in_lockstep_and_they_hold_the_solver_to_draws():
    from agents.matches import Pairing, play_lockstep
    from runners.tournament import AgentCache

    game = make_game("tictactoe")
    cache = AgentCache(game)
    az, solver = "az:tictactoe,sims=32", "solver"
    pairings = [Pairing(f"g{i}", *((az, solver) if i % 2 else (solver, az)), (), seed=i) for i in range(6)]
    records = play_lockstep(game, cache, pairings)
    assert [r.id for r in records] == [p.id for p in pairings]
    assert all(r.result == "1/2-1/2" and r.plies == 9 for r in records)
