"""`python -m algorithms.alphazero SOURCE TARGET`: export a run's weights for shipping under models/."""

import argparse

from algorithms.alphazero.agent import export_model

parser = argparse.ArgumentParser(description="Export AlphaZero weights for shipping under models/.")
parser.add_argument("source", help="checkpoint file or run dir")
parser.add_argument("target", help="e.g. models/connect_four.pt")
cli = parser.parse_args()
print(export_model(cli.source, cli.target))
