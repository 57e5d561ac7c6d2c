"""`python -m algorithms.alphazero SOURCE TARGET [eval.KEY=VALUE ...]`: export a run's weights under models/."""

import argparse
import sys

from algorithms.alphazero.agent import export_model
from core.errors import ArenaError

parser = argparse.ArgumentParser(description="Export AlphaZero weights for shipping under models/.")
parser.add_argument("source", help="checkpoint file or run dir")
parser.add_argument("target", help="e.g. models/connect_four.pt")
parser.add_argument("play", nargs="*", help="how the shipped agent plays, e.g. eval.c_puct=3.0")
cli = parser.parse_args()
try:
    print(export_model(cli.source, cli.target, cli.play))
except ArenaError as error:
    print(f"error: {error}", file=sys.stderr)
    sys.exit(2)
