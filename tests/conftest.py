"""Shared test set-up: no test touches the network or the user's W&B settings."""

import os

os.environ["WANDB_MODE"] = "offline"
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("MPLBACKEND", "Agg")
