"""`arena serve`'s API through FastAPI's test client: whole games, clear 4xx errors, no path traversal, live ratings."""

import json
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from agents.matches import GameRecord
from algorithms.alphazero import MODELS_DIR
from core.errors import ArenaError
from envs import make_game
from runners.cli import main
from runners.plot import read_metrics
from runners.serve import bind, create_app
from runners.tournament import Ledger


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    folder = tmp_path / "runs"
    folder.mkdir()
    return folder


@pytest.fixture
def client(runs: Path) -> TestClient:
    return TestClient(create_app(runs))


def new_game(client: TestClient, **body) -> dict:
    response = client.post("/api/play", json=body)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(("human", "seed"), [(0, 1), (1, 2)])
def test_a_random_human_never_beats_the_tictactoe_solver(client, human, seed):
    rng = np.random.default_rng(seed)
    view = new_game(client, game="tictactoe", opponent="solver", human=human)
    while not view["over"]:
        if view["to_move"] == human:
            response = client.post(f"/api/play/{view['id']}/move", json={"action": int(rng.choice(view["legal"]))})
        else:
            response = client.post(f"/api/play/{view['id']}/agent")
        assert response.status_code == 200, response.text
        view = response.json()
    assert view["winner"] in (None, 1 - human)
    assert view["result"] in ("draw", "solver wins")
    final = make_game("tictactoe").state_from_moves(view["moves"])  # the move list replays to the same end
    assert final.is_terminal() and str(final) == view["text"]


def test_illegal_and_malformed_moves_get_a_4xx_with_a_message(client):
    view = new_game(client, game="connect_four", opponent="random", human=0, moves="4 4 4 4 4 4")
    assert view["cells"][0][3] == 1 and view["to_move"] == 0  # column 4 is full, Red to move
    url = f"/api/play/{view['id']}/move"
    full = client.post(url, json={"action": 3})
    assert full.status_code == 400
    assert "column is full" in full.json()["error"] and "legal: 1 2 3 5 6 7" in full.json()["error"]
    assert client.post(url, json={"move": "9"}).status_code == 400
    for bad in ({"action": "left"}, {"column": 2}, {}, [1]):
        response = client.post(url, json=bad)
        assert 400 <= response.status_code < 500 and response.json()["error"], bad
    not_json = client.post(url, content=b"{oops", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 422 and not_json.json()["error"] == "malformed request: the body is not valid JSON"
    misspelt = client.post(url, json={"column": 2})
    assert misspelt.status_code == 422 and misspelt.json()["error"] == "malformed request: column: no such field"
    assert client.post(f"/api/play/{view['id']}/agent").status_code == 409  # your turn, not the agent's
    after = client.post(url, json={"move": "3"}).json()  # the game went on untouched
    assert after["plies"] == 7 and after["last"] == {"action": 2, "text": "3", "cell": [5, 2], "by": 0}
    assert client.post(url, json={"action": 0}).status_code == 409  # now it is the agent's turn
    assert client.get("/api/play/no-such-game").status_code == 404


@pytest.mark.parametrize(
    ("opponent", "status", "message"),
    [
        ("grandmaster", 400, "unknown agent kind 'grandmaster'"),
        ("minimax:depht=3", 400, "unknown key 'depht'"),
        ("", 200, None),  # the game's default opponent
    ],
)
def test_agent_specs_are_checked(client, opponent, status, message):
    response = client.post("/api/play", json={"game": "tictactoe", "opponent": opponent})
    assert response.status_code == status
    if message:
        assert message in response.json()["error"]


def test_checkpoints_only_from_runs_and_models(client, runs, tmp_path):
    outside = tmp_path / "elsewhere.pt"
    outside.write_bytes(b"not a checkpoint")
    (runs / "link.pt").symlink_to(outside)
    refused = [
        "az:/etc/passwd",
        f"az:{outside}",
        f"az:{runs}/../elsewhere.pt,sims=4",
        f"az:{MODELS_DIR}/../README.md",
        f"az:{runs}/link.pt",  # a link inside that leads outside
        "az:~/secret.pt",
        f"az:sims=4,path={outside}",
        f"ppo:{outside}",
    ]
    for spec in refused:
        response = client.post("/api/play", json={"game": "connect_four", "opponent": spec})
        assert response.status_code == 403, spec
        assert "only under" in response.json()["error"] and "is outside" in response.json()["error"]
    # inside is fine: the shipped model by name and by its path; a missing run is a 400 saying so
    assert new_game(client, game="connect_four", opponent="az:connect_four,sims=8")["agent"] == "az:connect_four"
    assert new_game(client, game="connect_four", opponent=f"az:{MODELS_DIR / 'connect_four.pt'},sims=8")["id"]
    missing = client.post("/api/play", json={"game": "connect_four", "opponent": f"az:{runs}/nothing"})
    assert missing.status_code == 400 and "not found" in missing.json()["error"]


def test_a_searching_agent_shows_visit_shares_and_chances(client):
    view = new_game(client, game="tictactoe", opponent="az:tictactoe,sims=24", human=1)
    view = client.post(f"/api/play/{view['id']}/agent").json()
    search = view["search"]
    assert search["ply"] == 0 and search["by"] == 0 and search["played"] == view["last"]["action"]
    assert len(search["visits"]) == 9 and sum(search["visits"]) == pytest.approx(1, abs=1e-3)
    assert search["visits"][search["played"]] == max(search["visits"])
    assert sum(search["win"]) == pytest.approx(1) and -1 <= search["value"] <= 1
    plain = new_game(client, game="tictactoe", opponent="minimax:depth=2", human=1)
    assert client.post(f"/api/play/{plain['id']}/agent").json()["search"] is None  # no search to show


def test_undo_swap_new_and_load(client):
    view = new_game(client, game="connect_four", opponent="greedy", human=0)
    game_id = view["id"]
    view = client.post(f"/api/play/{game_id}/load", json={"moves": "4 4 3"}).json()
    assert view["moves"] == "4 4 3" and view["to_move"] == 1  # greedy's turn
    view = client.post(f"/api/play/{game_id}/agent").json()
    assert view["plies"] == 4 and view["search"] is None
    view = client.post(f"/api/play/{game_id}/undo").json()
    assert view["moves"] == "4 4" and view["to_move"] == 0  # back to the human's last turn
    view = client.post(f"/api/play/{game_id}/swap").json()
    assert view["human"] == 1 and client.post(f"/api/play/{game_id}/agent").json()["plies"] == 3
    bad = client.post(f"/api/play/{game_id}/load", json={"moves": "4 4 4 4 4 4 4"})
    assert bad.status_code == 400 and "column is full" in bad.json()["error"]
    assert client.get(f"/api/play/{game_id}").json()["plies"] == 3  # a bad list changes nothing
    view = client.post(f"/api/play/{game_id}/new", json={"human": 0}).json()
    assert view["plies"] == 0 and view["human"] == 0
    assert client.post(f"/api/play/{game_id}/undo").status_code == 400  # nothing to undo


def test_every_game_draws_from_the_engine(client):
    games = {g["name"]: g for g in client.get("/api/games").json()["games"]}
    assert set(games) == {"tictactoe", "connect_four", "othello", "gomoku"}
    assert games["connect_four"]["actions"] == "columns" and games["othello"]["pass"] == 64
    assert "solver" in games["tictactoe"]["opponents"]
    othello = new_game(client, game="othello", opponent="random", options={"size": 6})
    assert othello["board"] == [6, 6] and sum(c >= 0 for row in othello["cells"] for c in row) == 4
    played = client.post(f"/api/play/{othello['id']}/move", json={"action": othello["legal"][0]}).json()
    assert sum(c == 0 for row in played["cells"] for c in row) == 4  # one placed, one flipped, by the engine
    assert client.post("/api/play", json={"game": "othello", "options": {"size": 7}}).status_code == 400


def read_events(client: TestClient, url: str) -> list[tuple[str, dict]]:
    events = []
    with client.stream("GET", url) as response:
        assert response.status_code == 200
        kind = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line[len("event: ") :]
            elif line.startswith("data: "):
                events.append((kind, json.loads(line[len("data: ") :])))
                if kind == "done":
                    break
    return events


def test_a_tournament_started_from_the_page_streams_ratings_and_replays(client, runs):
    agents = ["random", "greedy", "minimax:depth=2"]
    start = client.post("/api/tournaments", json={"game": "tictactoe", "agents": agents, "games": 4, "name": "t1"})
    assert start.status_code == 200, start.text
    assert start.json()["total"] == 12
    events = read_events(client, "/api/tournaments/t1/events?poll=0.05")
    assert events[-1][0] == "done"
    final = [data for kind, data in events if kind == "standings"][-1]
    assert final["games"] == 12 and final["job"]["played"] == 12 and not final["job"]["running"]
    rows = {r["agent"]: r for r in final["ratings"]}
    assert set(rows) == set(agents) and rows["random"]["elo"] == 0  # the anchor
    assert rows["minimax:depth=2"]["elo"] > rows["random"]["elo"] and rows["greedy"]["ci95"] > 0
    assert final["crosstable"][0][0] == "agent" and len(final["crosstable"]) == 4
    history = final["history"]
    assert history["games"][-1] == 12 and all(len(v) == len(history["games"]) for v in history["elo"].values())
    assert len(Ledger(runs / "t1" / "ledger.jsonl").records()) == 12
    games = client.get("/api/tournaments/t1/games").json()["games"]
    assert len(games) == 12 and client.get("/api/tournaments/t1/games?since=10").json()["games"][0]["index"] == 10
    replay = client.get("/api/tournaments/t1/games/5").json()
    record = replay["record"]
    frames = replay["frames"]
    assert len(frames) == record["plies"] + 1 and frames[0]["last"] is None
    assert [sum(c >= 0 for row in f["cells"] for c in row) for f in frames] == list(range(len(frames)))
    winner = {"1-0": 0, "0-1": 1, "1/2-1/2": None}[record["result"]]
    assert replay["outcome"] == {"over": True, "winner": winner}
    assert client.get("/api/tournaments/t1/games/99").status_code == 404
    bad = client.post("/api/tournaments", json={"game": "tictactoe", "agents": ["random", "nobody"], "games": 2})
    assert bad.status_code == 400 and "unknown agent kind 'nobody'" in bad.json()["error"]
    odd = client.post("/api/tournaments", json={"game": "tictactoe", "agents": ["random", "greedy"], "games": 3})
    assert odd.status_code == 400 and "even" in odd.json()["error"]


def test_ledgers_written_elsewhere_are_read_without_touching_them(client, runs):
    ledger = Ledger(runs / "tournament-tictactoe" / "ledger.jsonl")
    for i, (first, second, score) in enumerate([("a", "b", 1.0), ("b", "a", 0.5), ("c", "d", 1.0)]):
        result = {1.0: "1-0", 0.5: "1/2-1/2"}[score]
        ledger.append(GameRecord(str(i), "tictactoe", first, second, "", "a1 b1", result, score, 2, 0, 0.0))
    with open(ledger.path, "a") as handle:
        handle.write('{"id": "3", "game": "tic')  # another process mid-write
    size = ledger.path.stat().st_size
    assert client.get("/api/tournaments").json()["tournaments"][0]["name"] == "tournament-tictactoe"
    report = client.get("/api/tournaments/tournament-tictactoe").json()
    assert report["games"] == 3 and [r["agent"] for r in report["ratings"]] == ["a", "b"]
    assert report["unrated"] == ["c", "d"]  # not linked to a and b by any game: no common scale
    assert ledger.path.stat().st_size == size  # the partial line is the writer's business
    for name in ("..", "../x", ".hidden", "missing"):
        assert client.get(f"/api/tournaments/{name}").status_code in (400, 404)


def test_runs_list_their_curves(client, runs):
    run = runs / "ppo-demo"
    run.mkdir()
    (run / "config.yaml").write_text("algo: ppo\nenv:\n  id: arena/ConnectFour-v0\n")
    lines = [{"step": s, "train/loss": 1.0 / (s + 1), "eval/return": float(s)} for s in range(0, 1000, 10)]
    (run / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    listed = client.get("/api/runs").json()["runs"]
    assert [r["name"] for r in listed] == ["ppo-demo"] and listed[0]["spec"] is None  # no checkpoint to play
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "ckpt-000000000010.pt").write_bytes(b"")
    listed = client.get("/api/runs").json()["runs"]
    assert listed[0]["game"] == "connect_four" and listed[0]["spec"] == f"ppo:{run}"
    assert f"ppo:{run}" in client.get("/api/games").json()["games"][1]["opponents"]
    series = client.get("/api/runs/ppo-demo?points=20").json()["series"]
    steps, values = read_metrics(run / "metrics.jsonl")["eval/return"]
    assert set(series) == {"train/loss", "eval/return"} and len(series["eval/return"]["steps"]) == 20
    assert series["eval/return"]["steps"][-1] == steps[-1] and series["eval/return"]["values"][0] == values[0]
    assert client.get("/api/runs/nothing").status_code == 404


def test_serve_help_and_a_taken_port(capsys):
    with pytest.raises(SystemExit) as done:
        main(["serve", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "--host" in out and "127.0.0.1" in out and "--port" in out and "--runs" in out
    sock = bind("127.0.0.1", 0)
    try:
        with pytest.raises(ArenaError, match=r"cannot listen on 127\.0\.0\.1"):
            bind("127.0.0.1", sock.getsockname()[1])
    finally:
        sock.close()
