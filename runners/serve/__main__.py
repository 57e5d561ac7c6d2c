"""`python -m runners.serve`: the same as `arena serve`."""

from runners.cli import run_module

raise SystemExit(run_module("serve"))
