"""`arena play --game connect_four --opponent minimax:depth=4`: a human against an agent in the terminal.

Type moves in the game's notation (Connect Four `4`, Othello `d3`, Gomoku `h8`). Also: `undo` takes back
your last move (and the agent's reply), `hint` shows what the agent would play in your place, `moves` lists
the legal moves, `quit` ends. Illegal or malformed input is answered with the legal moves and asked again.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from core.errors import ArenaError, IllegalActionError
from envs import make_game


def agent_value(agent: Any, state: Any) -> float | None:
    """The agent's value estimate for the side to move in [-1, 1], if the agent offers one (`value(state)`)."""
    value = getattr(agent, "value", None)
    return float(value(state)) if callable(value) else None


def play_session(
    game: Any,
    agent: Any,
    human: int,
    read: Callable[[str], str] = input,
    write: Callable[[str], None] = print,
) -> Any:
    """Run one game with the human as player `human` (0 moves first); returns the final state."""
    agent.reset()
    history = [game.initial_state()]
    names = ("you", agent.name) if human == 0 else (agent.name, "you")
    write(f"{game.name}: {names[0]} (first) vs {names[1]} (second). Type a move, or undo, hint, moves, quit.")
    while not history[-1].is_terminal():
        state = history[-1]
        write("")
        write(str(state))
        if state.current_player() != human:
            action = int(agent.act(state))
            value = agent_value(agent, state)
            shown = "" if value is None else f"  (its value estimate: {value:+.2f})"
            write(f"{agent.name} plays {game.action_to_text(action)}{shown}")
            history.append(state.apply(action))
            continue
        legal = " ".join(game.action_to_text(a) for a in state.legal_actions())
        try:
            text = read("your move> ").strip()
        except EOFError:
            write("bye")
            return state
        command = text.lower()
        if command in ("quit", "exit", "q"):
            write("bye")
            return state
        if command == "undo":
            # take back to the previous position where it was the human's turn
            back = next((i for i in range(len(history) - 2, -1, -1) if history[i].current_player() == human), None)
            if back is None:
                write("nothing to undo")
            else:
                del history[back + 1 :]
            continue
        if command == "hint":
            write(f"hint: {game.action_to_text(int(agent.act(state)))}")
            continue
        if command in ("moves", "legal", "?", "help"):
            write(f"legal moves: {legal}")
            continue
        try:
            actions = game.parse_moves(text)
            if len(actions) != 1:
                raise ArenaError(f"type one move, not {len(actions)}")
            history.append(state.apply(actions[0]))
        except IllegalActionError as error:  # its own message holds the 0-based index and the legal list
            write(f"{text} is not legal here ({error.reason}); legal moves: {legal}")
        except ArenaError as error:
            write(f"not a move here ({error}); legal moves: {legal}")
    final = history[-1]
    write("")
    write(str(final))
    returns = final.returns()
    outcome = "draw" if returns[human] == 0 else ("you win" if returns[human] > 0 else f"{agent.name} wins")
    write(f"game over: {outcome} ({game.moves_to_text(final.moves)})")
    return final


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `arena play`."""
    parser.add_argument("--game", required=True, help="tictactoe, connect_four, othello, gomoku")
    parser.add_argument("--opponent", default="minimax:depth=4", help="agent spec (default minimax:depth=4)")
    parser.add_argument("--human", choices=["first", "second"], default="first", help="which side you play")


def main(args: argparse.Namespace) -> int:
    """Build the game and agent, then play."""
    from algorithms.registry import make_agent  # why: loads torch, which classic opponents never need

    game = make_game(args.game)
    agent = make_agent(args.opponent, game)
    play_session(game, agent, 0 if args.human == "first" else 1)
    return 0


if __name__ == "__main__":
    from runners.cli import run_module

    raise SystemExit(run_module("play"))
