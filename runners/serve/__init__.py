"""`arena serve`: a local web page to play the agents, watch them compete and look at training runs.

```
arena serve                          # http://127.0.0.1:8000/
arena serve --port 0 --runs runs     # any free port; run dirs and tournament ledgers from runs/
```

- **Play**: a game, an opponent by agent spec (anything `make_agent` takes) and a side; click the board. Undo,
  new game, swap sides, copy or load the move list. After each move of a searching agent the page shows the
  visit share of every move and each side's chance (draws count half) from the search's value.
- **Watch**: a tournament ledger (`runs/<name>/ledger.jsonl`, from `arena tournament` or started on the page),
  its Elo table with 95% intervals, crosstable and rating plots, pushed to the page as games finish
  (server-sent events); any finished game replays move by move.
- **Runs**: every run dir under `runs/` with its curves from `metrics.jsonl`.

The page is plain HTML/JS in `runners/web/` (no build step, nothing from the internet). Every rule stays on the
server: the page draws the cells, legal moves and results the game engine reports. Agents think in a worker
thread, so a long search leaves the page responsive. User errors (an illegal move, an unknown spec, a malformed
request) come back as `{"error": message}` with a 4xx status; agent specs may name checkpoints only under the
runs folder and `models/`.

One concept a file: `board.py` (what the page draws, what a search thought), `sessions.py` (play sessions,
allowed checkpoint paths), `tournaments.py` (ledgers, reports, live jobs), `app.py` (the JSON API and the
static page), `server.py` (socket, uvicorn, the command).
"""

from runners.serve.app import create_app
from runners.serve.server import ServerThread, add_arguments, bind, main, make_server, url_of

__all__ = ["ServerThread", "add_arguments", "bind", "create_app", "main", "make_server", "url_of"]
