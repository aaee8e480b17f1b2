"""Which shard of the input this process takes (from the settings, else from a Slurm job array),
and its contiguous part of the input."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from gatortron_common.logging import InputError
from gatortron_common.readers import LineRange

Item = TypeVar("Item")


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


@dataclass(frozen=True)
class Shard:
    """This task's shard, `index` of `count`, and its contiguous part of an input: a range of a list
    (files, documents) or of a line-based file's lines."""

    index: int
    count: int

    @classmethod
    def of(cls, index: int | None, count: int | None) -> Shard:
        """From the settings (`resolve_shard`), else the Slurm array, else the only one."""
        return cls(*resolve_shard(index, count))

    def path(self, template: str, setting: str) -> Path:
        """`template` with `{shard}` filled in; several shards must each have their own.

        Raises:
            InputError: shard_count > 1 and no `{shard}` in `template` (named as `setting`).
        """
        if self.count > 1 and "{shard}" not in template:
            raise InputError(f"{setting} must contain {{shard}} when shard_count > 1 (one output per shard)")
        return Path(template.replace("{shard}", str(self.index)))

    def bounds(self, total: int) -> tuple[int, int]:
        """[start, end) of this shard's contiguous part of `total` items."""
        return self.index * total // self.count, (self.index + 1) * total // self.count

    def items(self, items: Sequence[Item]) -> Sequence[Item]:
        """This shard's contiguous part of `items` (files, documents)."""
        start, end = self.bounds(len(items))
        return items[start:end]

    def part(self, path: Path, to_end: bool = False) -> LinePart:
        """This shard's part of a line-based file: the lines that start in its range of the bytes
        (each range starts at a line start, so every line is in exactly one shard). One pass over
        the bytes ahead of it counts its first line's number and the records ahead; `to_end` counts
        on to its end (for CSV/TSV, which is parsed from the top anyway)."""
        if self.count == 1:
            return LinePart(LineRange(), 0, None)
        start, end = (_line_start(path, cut) for cut in self.bounds(path.stat().st_size))
        lines_ahead = records_ahead = lines_in = position = 0
        with open(path, "rb") as handle:
            while position < start and (raw := handle.readline()):  # start is a line start
                position += len(raw)
                lines_ahead += 1
                records_ahead += bool(raw.strip())
            while to_end and position < end and (raw := handle.readline()):
                position += len(raw)
                lines_in += 1
        first = lines_ahead + 1
        return LinePart(LineRange(start, end, first), records_ahead, first + lines_in if to_end else None)


@dataclass(frozen=True)
class LinePart:
    """A shard's part of a line-based file."""

    lines: LineRange  # the bytes [start, end) it holds, and the number of its first line
    records_ahead: int  # non-blank lines before it: the records of the shards ahead
    end_line: int | None  # the number of the first line after it (counted with to_end=True)

    def line_numbers(self) -> range:
        """The numbers of its lines: a record parsed from the top (a CSV/TSV row, whose quoted cell
        may hold a newline) is this shard's when its first line is one of them."""
        return range(self.lines.first_line, self.end_line if self.end_line is not None else 1 << 62)


def _line_start(path: Path, offset: int) -> int:
    """The first line start at or after `offset`."""
    if offset == 0:
        return 0
    with open(path, "rb") as handle:
        handle.seek(offset - 1)
        handle.readline()
        return handle.tell()


WHOLE_INPUT = Shard(0, 1)
