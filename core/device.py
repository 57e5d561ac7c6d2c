"""Where a process computes: the torch device of `run.device`, whether MPI launched it, its share of cores,
and what the CPU can do natively (bf16 and int8 dot products), which decides the fast paths on it."""

from __future__ import annotations

import os
from functools import cache
from typing import Any, Literal

import torch

from core.config import ConfigError

MPI_LAUNCH_VARIABLES = ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "SLURM_PROCID", "HYDI_CONTROL_FD")
"""Set by mpirun (MPICH/Hydra, Open MPI, PMIx) or srun in each rank it starts."""

MPI_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE")
"""The number of ranks mpirun started (MPICH/Hydra, Open MPI), to check against what the MPI library sees."""


def resolve_device(name: str) -> torch.device:
    """`run.device` as a torch device: `auto` takes CUDA when present, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("run.device=cuda but no CUDA device is visible; use run.device=auto or cpu")
    return torch.device(name)


def describe_device(device: torch.device) -> str:
    """`cuda:0 (NVIDIA H200)` or `cpu`: how a run names where its learner computes."""
    if device.type != "cuda":
        return device.type
    index = device.index if device.index is not None else torch.cuda.current_device()
    return f"cuda:{index} ({torch.cuda.get_device_name(index)})"


def mpi_world() -> Any:
    """COMM_WORLD when launched by mpirun/srun, else None (MPI is not even initialised)."""
    if not any(k in os.environ for k in MPI_LAUNCH_VARIABLES):
        return None
    from mpi4py import MPI  # why: an optional extra, and importing it initialises MPI

    launched = next((int(os.environ[k]) for k in MPI_SIZE_VARIABLES if os.environ.get(k, "").isdigit()), 0)
    if launched > 1 and MPI.COMM_WORLD.Get_size() == 1:
        # every rank would run alone, all into the same run dir
        library = MPI.Get_library_version().split("\n")[0].strip()
        raise ConfigError(
            f"mpirun started {launched} ranks but MPI here sees a world of 1: mpi4py loaded another MPI library "
            f"({library}) than the one whose mpirun started it; use that library's mpirun, or point mpi4py at "
            "mpirun's library (for the mpich wheel: MPI4PY_MPIABI=mpich and its lib folder on LD_LIBRARY_PATH)"
        )
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


@cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (x86 Linux); empty elsewhere, so fast paths stay off."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            return frozenset(next((line.split() for line in info if line.startswith("flags")), []))
    except OSError:
        return frozenset()


def cpu_has_vnni() -> bool:
    """Whether the CPU has x86's VNNI int8 dot products (AVX-512 or AVX), where int8 inference pays off."""
    return bool(cpu_flags() & {"avx512_vnni", "avx_vnni"})


def cpu_has_bf16() -> bool:
    """Whether the CPU computes bfloat16 natively (AVX-512 BF16 or AMX), where bf16 autocast pays off."""
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})


Precision = Literal["auto", "float32", "bfloat16"]


def use_bf16(device: torch.device, precision: Precision) -> bool:
    """Whether to train under bf16 autocast: `auto` does on CUDA and on CPUs with native bf16, never elsewhere."""
    if precision == "auto":
        return device.type == "cuda" or (device.type == "cpu" and cpu_has_bf16())
    return precision == "bfloat16"
