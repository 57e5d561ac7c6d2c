"""Rules of the board games: conformance over random playouts, and known facts from hand-built positions."""

from __future__ import annotations

import numpy as np
import pytest

from envs import GAME_REGISTRY, ArenaError, IllegalActionError, make_game
from envs.check import check_game

GAMES = [
    ("tictactoe", {}, 30),
    ("connect_four", {}, 30),
    ("connect_four", {"threats": True, "colour": True}, 30),
    ("othello", {}, 6),
    ("othello", {"size": 6}, 10),
    ("gomoku", {}, 3),
    ("gomoku", {"size": 7}, 15),
]


def from_ascii(game, text: str):
    """A position from an ASCII board: X = stones of the side to move, O = the opponent's, `.` = empty."""
    rows = [r.split() for r in text.strip().splitlines()]
    grid = np.array(rows)
    assert grid.shape == game.board_shape, grid.shape
    obs = np.stack([(grid == "X"), (grid == "O")]).astype(np.float32)
    return game.state_from_observation(obs)


@pytest.mark.parametrize(("name", "options", "games"), GAMES)
def test_random_playouts_keep_every_invariant(name, options, games):
    game = make_game(name, **options)
    assert check_game(game, games=games, seed=1) > games


def test_registry_names_valid_games_and_options():
    with pytest.raises(ArenaError, match="connect_four"):
        make_game("chess")
    with pytest.raises(ArenaError, match="size"):
        make_game("othello", sise=6)
    with pytest.raises(ArenaError, match="even"):
        make_game("othello", size=7)


# --- Tic-tac-toe ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moves", "winner"),
    [
        ("a1 a2 b1 b2 c1", 0),  # top row
        ("a3 a1 b3 b1 a2 c1", 1),  # second player, top row
        ("b1 a1 b2 a2 b3", 0),  # middle column
        ("a1 b1 b2 c1 c3", 0),  # main diagonal
        ("c1 a1 b2 a2 a3", 0),  # anti-diagonal
    ],
)
def test_tictactoe_lines_win(moves, winner):
    state = make_game("tictactoe").state_from_moves(moves)
    assert state.is_terminal() and state.winner == winner
    assert state.returns()[winner] == 1 and state.returns()[1 - winner] == -1


def test_tictactoe_full_board_draw():
    state = make_game("tictactoe").state_from_moves("b2 a1 c1 a3 a2 c2 b1 b3 c3")
    assert state.is_terminal() and state.winner is None
    assert state.returns().tolist() == [0, 0]
    assert str(state) == "O X X\nX X O\nO O X"


# --- Connect Four ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moves", "winner"),
    [
        ("4545454", 0),  # vertical
        ("1122334", 0),  # horizontal
        ("12233434414", 0),  # diagonal /
        ("76655454474", 0),  # diagonal \\
        ("71727364", 1),  # horizontal, second player
    ],
)
def test_connect_four_lines_win(moves, winner):
    game = make_game("connect_four")
    state = game.state_from_moves(moves)
    assert state.is_terminal() and state.winner == winner
    assert state.returns()[winner] == 1 and state.returns()[1 - winner] == -1
    assert game.state_from_moves(moves[:-1]).winner is None


def test_connect_four_board_text():
    state = make_game("connect_four").state_from_moves("76655454474")
    assert str(state) == "\n".join(
        [
            ". . . . . . .",
            ". . . . . . .",
            ". . . X . . .",
            ". . . X X . .",
            ". . . O X X O",
            ". . . O O O X",
            "1 2 3 4 5 6 7",
        ]
    )


def test_connect_four_stones_do_not_wrap_between_columns():
    # X holds the top two cells of column 1 and the bottom two of column 2: adjacent bits without the
    # spare bit on top of each column.
    board = """
        X . . . . . .
        X . . . . . .
        O . . . . . .
        O . . . . . .
        X X . . . . .
        O X . . O O O
    """
    state = from_ascii(make_game("connect_four"), board)
    assert not state.is_terminal() and state.legal_actions() == [1, 2, 3, 4, 5, 6]  # column 1 is full


def test_connect_four_full_column_error_names_the_legal_moves():
    state = make_game("connect_four").state_from_moves("555555")
    with pytest.raises(IllegalActionError, match=r"illegal move 4 \(column 5\).*column is full; legal: 1 2 3 4 6 7"):
        state.apply(4)


def test_connect_four_full_board_draw():
    # A random game that filled the board without four in a row.
    state = make_game("connect_four").state_from_moves("666165577462463234152541333211132724554777")
    assert len(state.moves) == 42
    assert state.is_terminal() and state.winner is None and state.returns().tolist() == [0, 0]


def test_connect_four_feature_planes_mark_each_sides_winning_cells_and_whether_the_mover_moved_first():
    game = make_game("connect_four", threats=True, colour=True)
    state = game.state_from_moves("112233")  # X (to move) holds row 1's columns 1-3, O row 2's
    obs = state.observation()
    assert obs.shape == game.obs_shape == (5, 6, 7)
    assert np.argwhere(obs[2]).tolist() == [[5, 3]]  # X completes the bottom row in column 4, playable now
    assert np.argwhere(obs[3]).tolist() == [[4, 3]]  # O's cell above it: a threat for later
    assert obs[4].min() == 1 and state.apply(0).observation()[4].max() == 0  # X moved first, O did not
    assert np.array_equal(obs[:2], make_game("connect_four").state_from_moves("112233").observation())
    assert make_game("connect_four", colour=True).obs_shape == (3, 6, 7)
    with pytest.raises(ArenaError, match=r"unknown option 'threat' for game 'connect_four'; valid: threats"):
        make_game("connect_four", threat=True)


def test_a_position_reads_under_another_instance_of_its_game_but_not_another_game():
    plain, threats = make_game("connect_four"), make_game("connect_four", threats=True)
    state = plain.state_from_moves("4455")
    moved = state.with_game(threats)
    assert moved.observation().shape == (4, 6, 7) and moved.moves == state.moves and state.game is plain
    assert moved.apply(3).game is threats and state.with_game(plain) is state
    with pytest.raises(ArenaError, match="cannot be read as tictactoe"):
        state.with_game(make_game("tictactoe"))


def test_connect_four_mirror_symmetry_moves_policy_with_board():
    state = make_game("connect_four").state_from_moves("1")
    obs, policy = state.observation(), np.arange(7, dtype=np.float32)
    (o0, p0), (o1, p1) = state.symmetries(obs, policy)
    assert np.array_equal(o0, obs) and np.array_equal(p0, policy)
    assert o1[1, 5, 6] == 1 and o1[1, 5, 0] == 0  # the opponent's stone moved to column 7
    assert p1.tolist() == [6, 5, 4, 3, 2, 1, 0]


@pytest.mark.parametrize(("name", "options", "games"), GAMES)
def test_mirror_actions_follow_the_mirrored_board_through_the_rules(name, options, games):
    game, rng = make_game(name, **options), np.random.default_rng(3)
    mirror_of = game.mirror_actions(np.arange(game.num_actions))
    assert np.array_equal(game.mirror_actions(mirror_of), np.arange(game.num_actions))
    state = game.initial_state()
    for _ in range(12):
        mirrored = game.state_from_observation(state.observation()[..., ::-1])
        assert np.array_equal(mirrored.legal_mask(), game.mirror_actions(state.legal_mask()))
        action = int(rng.choice(state.legal_actions()))
        after, mirrored_after = state.apply(action), mirrored.apply(int(mirror_of[action]))
        assert np.array_equal(mirrored_after.observation(), after.observation()[..., ::-1])
        state = game.initial_state() if after.is_terminal() else after


# --- Othello --------------------------------------------------------------------------------------------------


def perft(state, depth: int) -> int:
    """Leaf positions `depth` plies ahead (passes count as plies)."""
    if depth == 1:
        return len(state.legal_actions())
    return sum(perft(state.apply(a), depth - 1) for a in state.legal_actions())


def test_othello_perft_from_the_start():
    start = make_game("othello").initial_state()
    counts = [perft(start, d) for d in range(1, 9)]
    assert counts == [4, 12, 56, 244, 1396, 8200, 55092, 390216]


def test_othello_notation_and_flips():
    game = make_game("othello")
    assert [game.action_to_text(a) for a in game.initial_state().legal_actions()] == ["d3", "c4", "f5", "e6"]
    state = game.state_from_moves("f5d6c3d3c4")
    assert state.disc_counts() == (6, 3) and state.current_player() == 1
    assert game.state_from_moves("f5 d6 c3 d3 c4").moves == state.moves


def test_othello_pass_is_forced_and_only_then_legal():
    game = make_game("othello")
    # X to move has one disc at b1 beside O's a1: no line through O ends on an empty cell, so X must pass.
    state = from_ascii(game, "\n".join([". . . . . . . ."] * 7 + ["O X . . . . . ."]))
    assert state.legal_actions() == [game.pass_action] and state.must_pass and not state.is_terminal()
    with pytest.raises(IllegalActionError, match="must pass"):
        state.apply(game.text_to_action("c8"))
    after = state.apply(game.pass_action)
    assert after.legal_actions() == [game.text_to_action("c8")]
    end = after.apply(game.text_to_action("c8"))  # O takes b1: X has no disc left, nobody can move
    assert end.is_terminal() and end.winner == after.current_player()
    start = game.initial_state()
    with pytest.raises(IllegalActionError, match="only allowed without any move"):
        start.apply(game.pass_action)


def test_othello_game_ends_when_neither_side_can_move_even_with_empty_cells():
    game = make_game("othello")
    state = from_ascii(game, "\n".join(["X . . . . . . ."] + [". . . . . . . ."] * 6 + [". . . . . . . O"]))
    assert state.is_terminal() and state.winner is None  # one disc each: a draw
    state = from_ascii(game, "\n".join(["X X . . . . . ."] + [". . . . . . . ."] * 6 + [". . . . . . . O"]))
    assert state.is_terminal() and state.returns()[state.current_player()] == 1


def test_othello_full_board_by_disc_count():
    game = make_game("othello", size=4)
    rng = np.random.default_rng(0)
    for _ in range(20):
        state = game.initial_state()
        while not state.is_terminal():
            state = state.apply(int(rng.choice(state.legal_actions())))
        black, white = state.disc_counts()
        expected = None if black == white else (0 if black > white else 1)
        assert state.winner == expected


def test_othello_six_by_six_start():
    game = make_game("othello", size=6)
    state = game.initial_state()
    assert game.num_actions == 37 and state.observation().shape == (2, 6, 6)
    assert [game.action_to_text(a) for a in state.legal_actions()] == ["c2", "b3", "e4", "d5"]


# --- Gomoku ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "black",
    [
        "h8 i8 j8 k8 l8",  # row
        "h4 h5 h6 h7 h8",  # column
        "d4 e5 f6 g7 h8",  # diagonal
        "a5 b4 c3 d2 e1",  # anti-diagonal into the corner
    ],
)
def test_gomoku_five_wins_on_every_line(black):
    game = make_game("gomoku")
    white = ["a15", "c15", "e15", "g15"]
    moves = [m for pair in zip(black.split(), [*white, None], strict=True) for m in pair if m]
    state = game.state_from_moves(moves)
    assert state.is_terminal() and state.winner == 0


def test_gomoku_overline_wins_in_freestyle():
    game = make_game("gomoku")
    # Black fills the gap between two pairs: six in a row.
    state = game.state_from_moves("a8 a1 b8 a2 d8 a3 e8 a4 f8 o15 c8")
    assert state.winner == 0


def test_gomoku_rows_do_not_wrap():
    game = make_game("gomoku")
    # Black holds l8..o8 (right edge) and a7 (left edge of the next row down): adjacent bits without padding.
    state = game.state_from_moves("l8 a1 m8 b1 n8 c1 o8 e1 a7")
    assert not state.is_terminal()


def test_gomoku_center_notation_and_draw_on_full_small_board():
    game = make_game("gomoku")
    assert game.action_to_text(7 * 15 + 7) == "h8" and game.text_to_action("a15") == 0
    small = make_game("gomoku", size=5)
    # Columns alternate XOXOX / OXOXO by pairs of rows: no five anywhere.
    rows = ["X X O O X", "O O X X O", "X X O O X", "O O X X O", "X X O O X"]
    grid = np.array([r.split() for r in rows])
    x = [int(i) for i in np.flatnonzero(grid == "X")]
    o = [int(i) for i in np.flatnonzero(grid == "O")]
    moves = [m for pair in zip(x, [*o, None], strict=True) for m in pair if m is not None]
    state = small.state_from_moves(moves)
    assert state.is_terminal() and state.winner is None and state.returns().tolist() == [0, 0]


def test_check_game_catches_a_mask_that_lies_and_a_mutating_apply(monkeypatch):
    from envs.tictactoe import TicTacToeState

    game = make_game("tictactoe")
    with monkeypatch.context() as m:
        m.setattr(TicTacToeState, "legal_actions", lambda self: [] if self.is_terminal() else list(range(9)))
        with pytest.raises(AssertionError):
            check_game(game, games=2)
    original = TicTacToeState.apply

    def mutating_apply(self, action):
        child = original(self, action)
        self.moves = child.moves  # a bug: the parent's history changes
        return child

    with monkeypatch.context() as m:
        m.setattr(TicTacToeState, "apply", mutating_apply)
        with pytest.raises(AssertionError, match="changed the state"):
            check_game(game, games=2)


@pytest.mark.parametrize(("name", "options"), [(name, options) for name, options, _ in GAMES])
def test_a_printed_board_parses_back_to_the_same_position(name, options):
    game = make_game(name, **options)
    rng = np.random.default_rng(0)
    for _ in range(20):
        state = game.initial_state()
        for _ in range(int(rng.integers(0, 12))):
            if state.is_terminal():
                break
            state = state.apply(int(rng.choice(state.legal_actions())))
        parsed = game.state_from_board(str(state))
        assert parsed.current_player() == state.current_player()
        assert np.array_equal(parsed.observation(), state.observation())
        assert np.array_equal(parsed.legal_mask(), state.legal_mask())


def test_the_conformance_list_covers_every_registered_game():
    assert {name for name, _, _ in GAMES} == set(GAME_REGISTRY)
