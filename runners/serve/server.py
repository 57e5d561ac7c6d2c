"""Serving the app: the socket, uvicorn, a server thread for tests, and the `arena serve` command."""

from __future__ import annotations

import argparse
import itertools
import socket
import threading
import time
import webbrowser
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from core.errors import ArenaError
from runners.serve.app import create_app
from runners.serve.sessions import GRACE_SECONDS


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0 picks a free one); a taken port is a one-line ArenaError."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise ArenaError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    """`http://host:port/` of a bound socket."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def make_server(app: FastAPI, **config: Any) -> uvicorn.Server:
    """A uvicorn server that, on Ctrl-C, first tells the live feeds to end (they never end by themselves)."""

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            app.state.closing.set()
            super().handle_exit(sig, frame)

    options = {"log_level": "warning", "timeout_graceful_shutdown": GRACE_SECONDS, **config}
    return Server(uvicorn.Config(app, **options))


class ServerThread:
    """The app served from a background thread (for tests and notebooks): `with ServerThread(app) as url: ...`."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sock = bind(host, port)
        self.url = url_of(self.sock)
        self.app = app
        self.server = make_server(app, lifespan="off")
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        for _ in itertools.repeat(None, 200):
            if self.server.started:
                break
            time.sleep(0.05)
        return self.url

    def __exit__(self, *exc: object) -> None:
        self.app.state.closing.set()
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `arena serve`."""
    parser.description = (
        "Serve a local web page to play any agent by clicking the board (with what its search thought), "
        "watch tournaments fill in live (Elo with 95% intervals, crosstable, replays), and see runs' curves."
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 opens it to the network)",
    )
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    parser.add_argument(
        "--runs",
        type=Path,
        default=Path("runs"),
        metavar="DIR",
        help="folder of run dirs and tournament ledgers (default runs/); agent specs may name checkpoints only "
        "here and under the shipped models/",
    )
    parser.add_argument("--open", action="store_true", help="open the page in the default web browser")


def main(args: argparse.Namespace) -> int:
    """Bind, print the URL, serve until Ctrl-C."""
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"arena serve: warning: listening on {args.host}: anyone who can reach it can run agents here")
    sock = bind(args.host, args.port)
    url = url_of(sock)
    # the URL first: the socket already queues connections while the app (and torch) load
    print(f"arena serve: {url}  (runs from {args.runs}/; Ctrl-C stops)", flush=True)
    app = create_app(args.runs)
    if args.open:
        webbrowser.open(url)
    make_server(app).run(sockets=[sock])
    return 0
