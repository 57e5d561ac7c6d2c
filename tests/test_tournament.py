"""Tournaments: fair schedules, a ledger that resumes without replaying, ratings in the expected order."""

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from agents.matches import GameRecord, run_sprt
from core.errors import ArenaError
from envs import make_game
from runners.cli import main
from runners.play import play_session
from runners.tournament import Ledger, schedule

FIELD = ["random", "greedy", "minimax:depth=2"]


def test_each_pair_plays_both_colours_from_shared_openings():
    game = make_game("connect_four")
    pairings = schedule(game, FIELD, 6, opening_plies=3, seed=1)
    assert len(pairings) == 3 * 6 and len({p.id for p in pairings}) == len(pairings)
    firsts = Counter((p.first, p.second) for p in pairings)
    assert all(firsts[(a, b)] == firsts[(b, a)] == 3 for a, b in [("random", "greedy"), ("greedy", "minimax:depth=2")])
    for a, b in zip(pairings[::2], pairings[1::2], strict=True):
        assert (a.first, a.second) == (b.second, b.first) and a.opening == b.opening and len(a.opening) == 3
    assert len({p.opening for p in pairings[:6]}) == 3  # openings differ between the pair's game pairs


def test_another_seed_schedules_new_games_not_the_ledgers_old_ones():
    game = make_game("connect_four")
    again = {p.id for p in schedule(game, FIELD, 6, seed=1)}
    assert again == {p.id for p in schedule(game, FIELD, 6, seed=1)}  # a rerun resumes its own games
    assert not again & {p.id for p in schedule(game, FIELD, 6, seed=2)}
    assert not again & {p.id for p in schedule(game, FIELD, 6, seed=1, opening_plies=3)}


def test_gauntlet_plays_only_the_candidate():
    pairings = schedule(make_game("tictactoe"), FIELD, 2, gauntlet="greedy")
    assert all("greedy" in (p.first, p.second) for p in pairings) and len(pairings) == 4


def test_bad_schedules_are_refused():
    game = make_game("tictactoe")
    with pytest.raises(ArenaError, match="--games must be even"):
        schedule(game, FIELD, 3)
    with pytest.raises(ArenaError, match="an agent is listed twice"):
        schedule(game, ["random", "random"], 2)


def run_tournament(tmp_path, games, capsys, *extra):
    code = main(
        ["tournament", "--game", "tictactoe", "--agents", *FIELD, "--games", str(games), "--out", str(tmp_path), *extra]
    )
    out = capsys.readouterr().out
    assert code == 0
    return out


def test_round_robin_orders_the_field_and_writes_every_report(tmp_path, capsys):
    out = run_tournament(tmp_path, 40, capsys, "--export", str(tmp_path / "games.txt"))
    ratings = json.loads((tmp_path / "ratings.json").read_text())["ratings"]
    assert [r["agent"] for r in ratings][-1] == "random"
    by_name = {r["agent"]: r for r in ratings}
    assert by_name["random"]["elo"] == 0 and by_name["minimax:depth=2"]["elo"] > by_name["random"]["elo"] + 200
    assert by_name["greedy"]["elo"] > by_name["random"]["elo"]
    assert "Score of random vs greedy:" in out and "Elo difference:" in out and "LOS:" in out
    for name in ("ratings.md", "ratings.csv", "ratings.png", "ledger.jsonl"):
        assert (tmp_path / name).stat().st_size > 0
    assert len((tmp_path / "games.txt").read_text().splitlines()) == 120


def test_rerunning_continues_the_ledger_without_replaying(tmp_path, capsys):
    run_tournament(tmp_path, 2, capsys)
    ledger = Ledger(tmp_path / "ledger.jsonl")
    first = ledger.records()
    assert len(first) == 6
    run_tournament(tmp_path, 2, capsys)  # nothing left to play
    assert ledger.records() == first
    with open(ledger.path, "a") as handle:  # a kill mid-write leaves half a line; it is skipped
        handle.write('{"id": "random|greedy|9a", "ga')
    run_tournament(tmp_path, 4, capsys)  # twice the games: only the new ones are played
    records = ledger.records()
    assert records[:6] == first and len(records) == 12
    assert len({r.id for r in records}) == 12


def test_a_ledger_record_reads_back_as_written(tmp_path):
    record = GameRecord("a|b|0a", "tictactoe", "a", "b", "b2", "a1 c3", "1-0", 1.0, 3, 7, 0.01)
    ledger = Ledger(tmp_path / "l.jsonl")
    ledger.append(record)
    assert ledger.records() == [record]


def test_sprt_accepts_that_minimax_beats_random():
    game = make_game("tictactoe")
    from agents import make_agent

    result = run_sprt(game, make_agent("minimax:depth=2", game), make_agent("random", game), elo0=0, elo1=50)
    assert result.accepted == "H1" and result.llr >= result.bounds[1]
    assert result.wins > 3 * result.losses


def test_human_play_answers_bad_input_with_the_legal_moves_and_supports_undo_and_hint():
    game = make_game("tictactoe")
    from agents import make_agent

    typed = iter(["b2", "zz", "b2", "hint", "undo", "a1", "quit"])
    shown: list[str] = []
    play_session(game, make_agent("minimax:depth=2", game), human=0, read=lambda _: next(typed), write=shown.append)
    text = "\n".join(shown)
    taken = next(line for line in shown if line.startswith("b2 is not legal here"))
    assert taken.count("legal moves:") == 1 and "legal:" not in taken  # the list once, not twice
    assert "illegal move 4" not in text  # the engine's 0-based index is not what the player typed
    assert any(line.startswith("not a move here (cannot parse 'zz'") for line in shown)
    assert text.count("hint: ") == 1
    assert text.endswith("bye")


@pytest.mark.mpi
@pytest.mark.skipif(shutil.which("mpirun") is None, reason="mpirun not installed (pip install mpich)")
def test_under_mpirun_the_games_spread_over_ranks_into_one_ledger(tmp_path):
    root = Path(__file__).resolve().parents[1]
    command = [
        "mpirun",
        "-n",
        "2",
        sys.executable,
        "-m",
        "runners.tournament",
        "--game",
        "tictactoe",
        "--agents",
        *FIELD,
        "--games",
        "4",
        "--out",
        str(tmp_path),
    ]
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    records = Ledger(tmp_path / "ledger.jsonl").records()
    assert len(records) == 12 and len({r.id for r in records}) == 12
    assert "Score of random vs greedy" in done.stdout
