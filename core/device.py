"""Where a process computes: the torch device of `run.device`, whether MPI launched it, and its share of cores."""

from __future__ import annotations

import os
from typing import Any

import torch

from core.config import ConfigError

MPI_LAUNCH_VARIABLES = ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "SLURM_PROCID", "HYDI_CONTROL_FD")
"""Set by mpirun (MPICH/Hydra, Open MPI, PMIx) or srun in each rank it starts."""


def resolve_device(name: str) -> torch.device:
    """`run.device` as a torch device: `auto` takes CUDA when present, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("run.device=cuda but no CUDA device is visible; use run.device=auto or cpu")
    return torch.device(name)


def mpi_world() -> Any:
    """COMM_WORLD when launched by mpirun/srun, else None (MPI is not even initialised)."""
    if not any(k in os.environ for k in MPI_LAUNCH_VARIABLES):
        return None
    from mpi4py import MPI  # why: an optional extra, and importing it initialises MPI

    return MPI.COMM_WORLD


def share_cores(comm: Any, configured: int) -> int:
    """torch threads for this rank: the configured number, else the node's cores split among its ranks."""
    if configured:
        threads = configured
    else:
        from mpi4py import MPI  # why: only reached under mpirun

        on_node = comm.Split_type(MPI.COMM_TYPE_SHARED).Get_size()
        threads = max(1, (os.cpu_count() or 1) // on_node)
    torch.set_num_threads(threads)
    return threads
