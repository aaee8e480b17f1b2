"""How many worker processes a command may use: the one count every stage shares."""

from __future__ import annotations

import os

from gatortron_common.logging import InputError


def usable_cpus() -> int:
    """The cores this process may run on: the Slurm allocation (SLURM_CPUS_PER_TASK), else the
    cores its CPU affinity allows (a container or `taskset` may allow fewer than the node has)."""
    allocated = int(os.environ.get("SLURM_CPUS_PER_TASK", 0) or 0)
    if allocated > 0:
        return allocated
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def resolve_workers(requested: int, setting: str = "workers") -> int:
    """`requested` worker processes, or for 0 one per usable core.

    Raises:
        InputError: a negative count (named as `setting`).
    """
    if requested < 0:
        raise InputError(f"{setting}={requested}: use 0 (all cores) or a positive count")
    return requested or usable_cpus()
