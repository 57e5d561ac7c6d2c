"""`arena <command>`: the one entry point. Each command lives in `runners/<command>.py` (`serve`: a package).

A command module exposes `add_arguments(parser)` and `main(args) -> exit code`, and ends with
`raise SystemExit(run_module("<command>"))` so `python -m runners.<command>` works the same as `arena <command>`.
Only the chosen command's module is imported, so `arena --help` answers without loading torch.

Any `ArenaError` (bad config, illegal move, corrupt checkpoint, wrong shape) ends the program with one line on
stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from collections.abc import Sequence

from core.errors import ArenaError

COMMANDS: dict[str, str] = {
    "train": "train an agent (PPO, DQN, AlphaZero) from a YAML config, or resume a run",
    "selfplay": "under mpirun, actor ranks feed learner ranks: AlphaZero self-play, PPO, DQN (one process works too)",
    "tournament": "play agents against each other and rate them: Elo with error bars, crosstable, plots",
    "rate": "rate every checkpoint of a board-game run against a fixed field: Elo against training steps",
    "sprt": "play a candidate against a baseline until a sequential probability ratio test decides",
    "play": "play a board game against an agent in the terminal",
    "bench": "measure agents against exact references (e.g. Connect Four mistake rates on Pons' sets)",
    "plot": "draw a run's curves from metrics.jsonl to PNG",
    "serve": "a local web page: play agents by clicking, watch tournaments live, see runs' curves",
}
"""Subcommands in the order `arena --help` lists them; each is the module `runners.<name>`."""


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The `arena` parser; only `command`'s own options are loaded (all commands are listed)."""
    parser = argparse.ArgumentParser(
        prog="arena",
        description="arena: deep RL agents that learn to play and compete.",
        epilog="Run `arena <command> --help` for a command's options.",
    )
    commands = parser.add_subparsers(dest="command", metavar="<command>", required=True)
    for name, summary in COMMANDS.items():
        sub = commands.add_parser(name, help=summary, description=_describe(name, summary))
        if name == command:
            _module(name).add_arguments(sub)
    return parser


def _describe(name: str, summary: str) -> str:
    return summary[0].upper() + summary[1:] + "."


def _module(name: str):
    return importlib.import_module(f"runners.{name}")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, run the command, and turn user errors into exit code 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    command = command if command in COMMANDS else None
    parser = build_parser(command)
    args = parser.parse_args(argv)
    # a user's warning (say, a corrupt checkpoint skipped) is one line, not a source listing
    warnings.formatwarning = lambda message, category, *_, **__: f"arena {args.command}: warning: {message}\n"
    try:
        return int(_module(args.command).main(args) or 0)
    except ArenaError as error:
        print(f"arena {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"arena {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `arena ... | head` closed the pipe; nothing left to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def run_module(command: str) -> int:
    """Entry for `python -m runners.<command> ...`: the same as `arena <command> ...`."""
    return main([command, *sys.argv[1:]])


if __name__ == "__main__":
    raise SystemExit(main())
