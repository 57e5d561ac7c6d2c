# Two commands do everything on a fresh machine with Python 3.11+:
#   make run    set up .venv, then train the main job on embedded defaults (CPU, W&B offline, small config)
#   make test   set up .venv, then lint (ruff, import-linter) and run the default test suite
#   make test-slow  the learning tests (minutes each)
# Set-up installs the CPU torch wheel first (torch==2.13.0), so the open torch range in pyproject pulls no CUDA.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0
EXTRAS ?= mpi,dev,atari,box2d,reference
STAMP := $(VENV)/.installed-$(EXTRAS)

.PHONY: setup run test test-slow test-all lint format bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "arena needs Python 3.11+, found " + sys.version.split()[0])'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q "$(TORCH)" -e ".[$(EXTRAS)]"
	$(BIN)/python -m agents.mcts  # compiles the search tree's numba kernels into their cache (~12 s, once)
	touch $@

# The main job: AlphaZero self-play on Connect Four under MPI (one learner, two actors: the learner waits on
# samples, so a third rank keeps both cores busy), embedded defaults.
run: setup
	WANDB_MODE=$${WANDB_MODE:-offline} $(BIN)/mpirun -n 3 $(BIN)/arena selfplay run.device=cpu

test: setup lint
	WANDB_MODE=offline PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest

test-slow: setup
	WANDB_MODE=offline PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -m slow

test-all: setup
	WANDB_MODE=offline PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -m ""

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports  # the floors: imports only go down, no cycles (pyproject's [tool.importlinter])

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
