"""Shared test set-up: no test touches the network or the user's W&B settings."""

import os

os.environ["WANDB_MODE"] = "offline"
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("MPLBACKEND", "Agg")

import torch  # after the environment above, which W&B reads when it is imported

# The nets in tests are tiny: one thread is fastest, and it keeps timings sane beside other processes.
torch.set_num_threads(1)
