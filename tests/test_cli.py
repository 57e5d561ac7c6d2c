"""The CLI: every command is listed, and bad input ends in one line on stderr with exit code 2."""

import subprocess
import sys

import pytest

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
