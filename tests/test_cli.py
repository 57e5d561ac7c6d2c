"""The CLI: every command is listed, and bad input ends in one line on stderr with exit code 2."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import ArenaError
from runners.cli import COMMANDS, main


def run_cli(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    listed = {line.split()[0] for line in out.splitlines() if line.startswith("    ") and line.split()}
    assert set(COMMANDS) <= listed


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("algo: ppo\nrun:\n  sede: 3\n", "unknown key 'sede' in {path} [run]; did you mean 'seed'?"),
        ("algo: ppo\nrun:\n  seed: three\n", "{path} [run.seed]: expected int, got str 'three'"),
        ("algo: ppo\nrun:\n  seed: -1\n", "{path} [run.seed]: -1 is out of range; must be >= 0"),
        ("algo: tabular\n", "unknown algo 'tabular'; valid: ppo, dqn"),
    ],
)
def test_bad_configs_exit_2_with_one_line(tmp_path, capsys, yaml_text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text)
    code, out, err = run_cli(["train", str(path), f"run.runs_dir={tmp_path}"], capsys)
    assert code == 2
    assert err.startswith("arena train: error: " + message.format(path=path))
    assert err.count("\n") == 1 and not out
    assert not list(tmp_path.glob("*/")), "nothing may be created before the config is valid"


def test_missing_config_file(tmp_path, capsys):
    code, _, err = run_cli(["train", str(tmp_path / "nope.yaml")], capsys)
    assert (code, err) == (2, f"arena train: error: config file not found: {tmp_path / 'nope.yaml'}\n")


def test_a_bad_override_names_itself(tmp_path, capsys):
    code, _, err = run_cli(["train", "--algo", "ppo", "run.seeed=2"], capsys)
    assert code == 2 and "unknown key 'seeed' in override 'run.seeed=2' [run]; did you mean 'seed'?" in err


def test_plot_of_a_folder_without_metrics(tmp_path, capsys):
    code, _, err = run_cli(["plot", str(tmp_path)], capsys)
    assert (code, err) == (2, f"arena plot: error: no metrics.jsonl in {tmp_path} (is it a run dir?)\n")


def test_a_real_process_exits_2_without_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("algo: ppo\ntracking:\n  mode: cloud\n")
    done = subprocess.run([sys.executable, "-m", "runners.train", str(bad)], capture_output=True, text=True)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "[tracking.mode]: str 'cloud' is not one of 'offline', 'online', 'disabled'" in done.stderr


def test_resuming_from_only_corrupt_checkpoints_names_them_and_exits_2(tmp_path, capsys):
    tiny = [
        "selfplay.parallel_games=8",
        "selfplay.simulations=4",
        "learn.batch_size=16",
        "learn.min_replay=32",
        "learn.total_steps=4",
        "eval.every=1000",
        "run.checkpoint_every=2",
        "tracking.mode=disabled",
    ]
    code, _, _ = run_cli(
        ["train", "configs/az_tictactoe.yaml", f"run.runs_dir={tmp_path}", "run.name=c", *tiny], capsys
    )
    assert code == 0
    for checkpoint in (tmp_path / "c" / "checkpoints").glob("ckpt-*.pt"):
        checkpoint.write_bytes(checkpoint.read_bytes()[:300])
    with pytest.warns(UserWarning, match="trying the previous checkpoint"):
        code, _, err = run_cli(["train", "--resume", str(tmp_path / "c")], capsys)
    assert code == 2
    assert f"arena train: error: no loadable checkpoint in {tmp_path / 'c' / 'checkpoints'}" in err
    assert "ckpt-000000000004.pt is unreadable (truncated or corrupt?)" in err


# --- bad input that used to end in a traceback or be accepted silently ---------------------------------------


def one_error_line(err: str, command: str = "train") -> str:
    """The single error line of a failed command (after any `run dir:` or warning lines)."""
    lines = [line for line in err.splitlines() if line.startswith(f"arena {command}: error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0].removeprefix(f"arena {command}: error: ")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"algo: ppo\nrun:\n  seed: [1, 2\n", "{path}: not valid YAML at line 4, column 1: expected ',' or ']'"),
        (b"algo: ppo\nrun:\n  seed: 1\nalgo: dqn\n", "{path}: duplicate key 'algo' at line 4 (first given at line 1)"),
        (b"algo: ppo\nrun:\n  name: caf\xe9\n", "{path}: not UTF-8 text (byte 0xe9 at line 3)"),
        (b"", "{path} is empty; leave the file out to use the defaults"),
        (b"algo: ppo\nrun:\n  name: ../../etc/x\n", "{path} [run]: run.name '../../etc/x' must be one plain folder"),
    ],
)
def test_bad_config_files_exit_2_naming_the_file_and_place(tmp_path, capsys, content, message):
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    code, out, err = run_cli(["train", str(path), f"run.runs_dir={tmp_path / 'runs'}"], capsys)
    assert code == 2 and not out
    assert one_error_line(err).startswith(message.format(path=path))
    assert "<unicode string>" not in err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("config", "overrides", "message"),
    [
        ("configs/az_tictactoe.yaml", ["game=chess"], "game: unknown game 'chess'"),
        ("configs/az_tictactoe.yaml", ["net=resnet-9x9"], "net: unknown network preset 'resnet-9x9'"),
        ("configs/az_tictactoe.yaml", ["eval.opponents=[minimax:depth=x]"], "eval.opponents: agent spec 'minimax"),
        ("configs/ppo_cartpole.yaml", ["env.id=NoSuchEnv-v0"], "env: cannot make env 'NoSuchEnv-v0'"),
        ("configs/ppo_cartpole.yaml", ["net.preset=mlp-9"], "net.preset: unknown network preset 'mlp-9'"),
        ("configs/dqn_cartpole.yaml", ["net.preset=lstm-64"], "net.preset: 'lstm-64' is recurrent"),
        ("configs/ppo_cartpole.yaml", ["run.name=../../etc/x"], "override 'run.name=../../etc/x' [run]: run.name"),
    ],
)
def test_what_types_cannot_catch_is_refused_before_the_run_dir_exists(tmp_path, capsys, config, overrides, message):
    code, _, err = run_cli(["train", config, f"run.runs_dir={tmp_path}", "run.name=x", *overrides], capsys)
    assert code == 2
    assert one_error_line(err).startswith(message)
    assert not list(tmp_path.iterdir()), "nothing may be created before the config is valid"


def test_algo_given_twice_must_agree(tmp_path, capsys):
    code, _, err = run_cli(["train", "--algo", "dqn", "configs/ppo_cartpole.yaml", f"run.runs_dir={tmp_path}"], capsys)
    assert code == 2
    assert one_error_line(err) == "--algo dqn contradicts algo ppo in configs/ppo_cartpole.yaml; drop one of them"


@pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None, reason="mpi4py not installed (pip install mpi4py)")
def test_a_rank_whose_mpi_library_is_not_mpiruns_stops_instead_of_training_alone(tmp_path):
    # What Open MPI's mpirun looks like to an MPICH mpi4py (and the reverse): every rank a world of one, all
    # writing one run dir. Seen on a GPU machine whose image had Open MPI beside the mpich wheel.
    env = {**os.environ, "OMPI_COMM_WORLD_SIZE": "3", "OMPI_COMM_WORLD_RANK": "0"}
    command = [sys.executable, "-m", "runners.selfplay", "configs/az_tictactoe.yaml", f"run.runs_dir={tmp_path}"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2, done.stderr
    assert one_error_line(done.stderr, "selfplay").startswith("mpirun started 3 ranks but MPI here sees a world of 1")
    assert not list(tmp_path.iterdir())


def test_one_process_refuses_several_learners(tmp_path, capsys):
    # `mpirun -n 1` takes the same path as no mpirun: one process, so one learner
    code, _, err = run_cli(
        ["selfplay", "configs/az_tictactoe.yaml", "distributed.learners=2", f"run.runs_dir={tmp_path}"], capsys
    )
    assert code == 2
    assert one_error_line(err, "selfplay").startswith("1 ranks cannot give each of 2 learner(s) an actor")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--agents", "minimax:depth=abc", "random"], "agent spec 'minimax:depth=abc': depth='abc' is not a whole"),
        (["--agents", "minimax:depth=-1", "random"], "agent spec 'minimax:depth=-1': depth=-1 is out of range"),
        (["--agents", "minimax:depth=2.5", "random"], "agent spec 'minimax:depth=2.5': depth=2.5 is not a whole"),
        (["--agents", "mcts:sims=0", "random"], "agent spec 'mcts:sims=0': sims=0 is out of range; must be >= 1"),
        (["--agents", "az:connect_four,sims=abc", "random"], "agent spec 'az:connect_four,sims=abc': sims='abc'"),
        (
            ["--agents", "az:connect_four,device=tpu", "random"],
            "agent spec 'az:connect_four,device=tpu': device='tpu' is not one of cpu, cuda",
        ),
        (["--agents", "random", "greedy", "--workers", "0"], "--workers must be at least 1, got 0"),
        (["--agents", "random", "greedy", "--anchor", "random"], "--anchor expects NAME=ELO, e.g. random=0; got"),
    ],
)
def test_bad_agent_specs_and_options_exit_2_before_any_game(tmp_path, capsys, args, message):
    code, _, err = run_cli(
        ["tournament", "--game", "connect_four", "--games", "2", "--out", str(tmp_path / "t"), *args], capsys
    )
    assert code == 2
    assert one_error_line(err, "tournament").startswith(message)
    assert not (tmp_path / "t").exists()


TINY_AZ = [
    "selfplay.parallel_games=8",
    "selfplay.simulations=4",
    "learn.batch_size=16",
    "learn.min_replay=32",
    "learn.total_steps=4",
    "eval.every=1000",
    "run.checkpoint_every=2",
    "tracking.mode=disabled",
]


@pytest.fixture(scope="module")
def az_run(tmp_path_factory):
    """A finished tiny AlphaZero tic-tac-toe run with checkpoints at steps 2 and 4 (copied by each test)."""
    runs = tmp_path_factory.mktemp("runs")
    assert main(["train", "configs/az_tictactoe.yaml", f"run.runs_dir={runs}", "run.name=az", *TINY_AZ]) == 0
    return runs / "az"


def copy_run(source, tmp_path):
    import shutil

    return Path(shutil.copytree(source, tmp_path / source.name))


@pytest.mark.parametrize(
    ("command", "content", "message"),
    [
        ("train", "", "cannot resume {run}: {run}/config.yaml is empty"),
        ("train", "algo: az\ngame: [tictactoe\n", "{run}/config.yaml: not valid YAML at line 3, column 1"),
        ("selfplay", "- a list\n", "cannot resume {run}: {run}/config.yaml is not a mapping of keys"),
        ("selfplay", "algo: az\ngame: tictactoe\ngame: gomoku\n", "{run}/config.yaml: duplicate key 'game' at line 3"),
    ],
)
def test_resume_of_a_run_dir_with_a_broken_config_exits_2(az_run, tmp_path, capsys, command, content, message):
    run = copy_run(az_run, tmp_path)
    (run / "config.yaml").write_text(content)
    code, _, err = run_cli([command, "--resume", str(run)], capsys)
    assert code == 2
    assert one_error_line(err, command).startswith(message.format(run=run))


def test_resume_refuses_a_checkpoint_of_another_game(az_run, tmp_path, capsys):
    run = copy_run(az_run, tmp_path)
    config = run / "config.yaml"
    config.write_text(config.read_text().replace("game: tictactoe", "game: connect_four"))
    code, _, err = run_cli(["train", "--resume", str(run)], capsys)
    assert code == 2
    assert one_error_line(err) == (
        f"the checkpoint of step 4 in {run / 'checkpoints'} was trained on game tictactoe, "
        "but the config says game connect_four"
    )


def test_an_az_run_dir_with_a_truncated_newest_checkpoint_plays_with_the_previous_one(az_run, tmp_path):
    from algorithms.registry import make_agent
    from envs import make_game

    run = copy_run(az_run, tmp_path)
    newest = run / "checkpoints" / "ckpt-000000000004.pt"
    newest.write_bytes(newest.read_bytes()[:300])
    for spec in (f"az:{run},sims=4", f"az:{run / 'latest'},sims=4"):
        with pytest.warns(UserWarning, match=rf"checkpoint {newest} is unreadable.*trying the previous"):
            agent = make_agent(spec, make_game("tictactoe"))
        assert agent.name == f"az:{spec[3:].split(',')[0]}"
        assert agent.act(make_game("tictactoe").initial_state()) in range(9)
    with pytest.raises(ArenaError, match=rf"checkpoint {newest} is unreadable"):  # a file asked for by name
        make_agent(f"az:{newest}", make_game("tictactoe"))


def test_rate_skips_a_corrupt_checkpoint_with_a_warning_and_rates_the_rest(az_run, tmp_path, capsys):
    run = copy_run(az_run, tmp_path)
    bad = run / "checkpoints" / "ckpt-000000000002.pt"
    bad.write_bytes(bad.read_bytes()[:300])
    with pytest.warns(UserWarning, match=rf"checkpoint {bad} is unreadable.*skipping it"):
        code, out, _ = run_cli(["rate", str(run), "--field", "random", "--games", "2", "--agent-options", "sims=2"],
                               capsys)  # fmt: skip
    assert code == 0
    assert "step 4: Elo" in out and "step 2:" not in out
