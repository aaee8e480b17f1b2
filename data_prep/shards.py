"""Which part of the input one data_prep job takes, and where it writes.

The shard's index and count come from the settings, else from the Slurm job array
(`gatortron_common.shards.resolve_shard`). Shard i of n takes the i-th contiguous range of the
sorted input files, so merging the shards in order gives what a single run gives.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from data_prep.config import DataPrepConfig
from gatortron_common.shards import resolve_shard as resolve_index


class Shard(NamedTuple):
    """This job's shard: `index` of `count`, written to `prefix`."""

    index: int
    count: int
    prefix: str

    def files(self, all_files: list[Path]) -> list[Path]:
        """This shard's contiguous range of the (sorted) input files."""
        total = len(all_files)
        return all_files[self.index * total // self.count:(self.index + 1) * total // self.count]


def resolve_shard(cfg: DataPrepConfig) -> Shard:
    """The shard from the settings, else from the Slurm array environment, else the only one.

    Raises:
        InputError: not 0 <= shard_index < shard_count.
    """
    index, count = resolve_index(cfg.shard_index, cfg.shard_count)
    # One shard writes the prefix itself; several write <prefix>_shard<i>of<n> for data_prep.merge.
    prefix = cfg.output_prefix if count == 1 else f"{cfg.output_prefix}_shard{index:05d}of{count:05d}"
    return Shard(index, count, prefix)
