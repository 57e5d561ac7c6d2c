"""The Pons benchmark: the shipped per-move values are right, and the bench reports mistake rates from them."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from agents.c4_solver import ConnectFourSolver
from benchmarks import gen_pons_values
from envs import ArenaError, make_game
from runners import bench


@pytest.fixture(scope="module")
def pons():
    return bench.load_pons()


def test_shipped_values_cover_the_easy_sets_and_agree_with_pons_scores(pons):
    assert {"Test_L3_R1", "Test_L2_R1", "Test_L2_R2"} <= set(pons)
    for data in pons.values():
        values, score = data["values"].astype(int), data["score"].astype(int)
        assert values.shape == (len(data["moves"]), 7)
        # The best move's value is the sign of the exact score in Pons' file.
        assert np.array_equal(values.max(axis=1), np.sign(score))
        assert set(np.unique(values)) <= {-2, -1, 0, 1}


def test_shipped_values_match_the_solver_on_a_sample(pons):
    game, solver = make_game("connect_four"), ConnectFourSolver(tt_size=1_000_003)
    for name in ("Test_L3_R1", "Test_L2_R1"):
        data = pons[name]
        for i in range(0, 1000, 50):
            state = game.state_from_moves(str(data["moves"][i]))
            weak = solver.move_scores(state.cur, state.mask, weak=True)
            assert [-2 if v is None else v for v in weak] == data["values"][i].tolist()


@pytest.mark.parametrize("workers", [1, 2])
def test_generator_remakes_the_shipped_values_and_resumes(pons, tmp_path, workers):
    data = pons["Test_L3_R1"]
    lines = [f"{m} {s}" for m, s in zip(data["moves"][:12], data["score"][:12], strict=True)]
    (tmp_path / "Test_L3_R1").write_text("\n".join(lines) + "\n")
    out = tmp_path / "values.npz"
    args = ["--src", str(tmp_path), "--sets", "Test_L3_R1", "--out", str(out)]
    assert gen_pons_values.main([*args, "--limit", "5"]) == 0
    assert gen_pons_values.main([*args, "--workers", str(workers)]) == 0  # resumes at position 6
    made = gen_pons_values.load(out)
    assert made["Test_L3_R1.moves"].tolist() == data["moves"][:12].tolist()
    assert np.array_equal(made["Test_L3_R1.values"], data["values"][:12])


def test_perfect_play_makes_no_mistake_and_random_makes_many():
    rows = bench.bench_pons("solver:weak=true", sets=["End-Easy", "L2_R1"], limit=30)
    assert [r["set"] for r in rows] == ["Test_L3_R1", "Test_L2_R1"]
    assert all(r["mistakes"] == 0 and r["positions"] == 30 for r in rows)
    rows = bench.bench_pons("random", sets=["Middle-Medium"], limit=200, seed=1)
    assert 0.2 < rows[0]["rate"] < 0.9


def test_cli_prints_a_table_and_rejects_unknown_sets(capsys):
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    args = parser.parse_args(["pons", "minimax:depth=2", "--sets", "End-Easy", "--limit", "10"])
    assert bench.main(args) == 0
    out = capsys.readouterr().out
    assert "End-Easy" in out and "minimax:depth=2" in out and "%" in out
    with pytest.raises(ArenaError, match=r"unknown Pons set 'Beginner'.*Begin-Hard"):
        bench.main(parser.parse_args(["pons", "random", "--sets", "Beginner"]))
