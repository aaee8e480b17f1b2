"""Which shard of the input this process takes: from the settings, else from a Slurm job array."""

from __future__ import annotations

import os

from gatortron_common.logging import InputError


def resolve_shard(index: int | None, count: int | None) -> tuple[int, int]:
    """(index, count): the given values, else SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN and
    SLURM_ARRAY_TASK_COUNT (so `--array=1-3` gives shards 0..2), else (0, 1).

    Raises:
        InputError: not 0 <= index < count.
    """
    if count is None:
        count = int(os.environ.get("SLURM_ARRAY_TASK_COUNT", 1))
    if index is None:
        index = int(os.environ.get("SLURM_ARRAY_TASK_ID", 0)) - int(os.environ.get("SLURM_ARRAY_TASK_MIN", 0))
    if count < 1 or not 0 <= index < count:
        raise InputError(f"shard_index={index} shard_count={count}: need 0 <= shard_index < shard_count")
    return index, count
