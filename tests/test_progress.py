"""Progress off a terminal: plain lines at the start (with the resume step), every interval, and at the end."""

import io

from core.progress import ProgressBar


def test_off_a_terminal_progress_is_plain_lines_with_step_rate_and_figures():
    out = io.StringIO()
    with ProgressBar(1000, "ppo CartPole-v1", enabled=False, completed=400, plain_every=0, stream=out) as bar:
        bar.update(completed=600, return_=187.25, loss=0.0123)
    lines = out.getvalue().splitlines()
    assert lines[0] == "ppo CartPole-v1: resumed from step 400 of 1,000"
    assert lines[1].startswith("ppo CartPole-v1: step 600 of 1,000 (60%), ")
    assert lines[1].endswith(" steps/s, return=187.2 loss=0.0123")
    assert lines[2].startswith("ppo CartPole-v1: done at step 600 of 1,000 (60%)")


def test_plain_lines_wait_for_the_interval():
    out = io.StringIO()
    with ProgressBar(100, "az tictactoe", enabled=False, plain_every=3600, stream=out) as bar:
        for step in range(1, 101):
            bar.update(completed=step, loss=1.0 / step)
    lines = out.getvalue().splitlines()
    assert lines[0] == "az tictactoe: starting at step 0 of 100"
    assert len(lines) == 2 and lines[1].startswith("az tictactoe: done at step 100 of 100 (100%)")


def test_an_interrupted_run_says_where_it_stopped():
    out = io.StringIO()
    try:
        with ProgressBar(100, "dqn", enabled=False, stream=out) as bar:
            bar.update(completed=42)
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    assert out.getvalue().splitlines()[-1].startswith("dqn: stopped at step 42 of 100 (42%)")
