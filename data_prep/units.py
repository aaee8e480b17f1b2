"""Cut a shard's input into work units for parallel workers on one node.

A unit is a whole file, or, for an uncompressed JSONL file larger than the unit size, a range of
its lines (cut at line starts). Units are processed independently and joined in order, dropping
documents already seen in an earlier unit, so the output does not depend on how the input was cut
(the same property as shards + merge).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

from gatortron_common.readers import LineRange, detect_format, is_compressed

_SCAN_BYTES = 1 << 24


@dataclass(frozen=True)
class WorkUnit:
    """One file, or the lines of one file that start in bytes [start, end)."""

    path: str
    lines: LineRange = LineRange()

    @property
    def size(self) -> int:
        end = self.lines.end if self.lines.end is not None else os.path.getsize(self.path)
        return end - self.lines.start

    def describe(self) -> dict:
        """What identifies the unit's input, the file's size and modification time included (a
        part made from an older version of the file is never reused)."""
        stat = os.stat(self.path)
        return {"path": self.path, **asdict(self.lines), "file_size": stat.st_size,
                "mtime_ns": stat.st_mtime_ns}


def splittable(path: Path, fmt: str) -> bool:
    """Whether the file can be cut into line ranges: uncompressed JSONL."""
    if is_compressed(path):
        return False
    return (detect_format(path) if fmt == "auto" else fmt) == "jsonl"


def plan_units(files: list[Path], fmt: str, unit_bytes: int) -> list[WorkUnit]:
    """Units in input order: each file whole, or cut into ~`unit_bytes` line ranges when splittable."""
    units: list[WorkUnit] = []
    for path in files:
        size = path.stat().st_size
        pieces = max(1, -(-size // max(unit_bytes, 1)))
        if pieces == 1 or not splittable(path, fmt):
            units.append(WorkUnit(str(path)))
            continue
        units.extend(WorkUnit(str(path), part) for part in _line_ranges(path, size, pieces))
    return units


def _line_ranges(path: Path, size: int, pieces: int) -> list[LineRange]:
    """`pieces` byte ranges cut at the line start at or after each even cut, with line numbers."""
    with open(path, "rb") as handle:
        cuts = [0]
        for k in range(1, pieces):
            target = k * size // pieces
            if target <= cuts[-1]:
                continue  # a long line already reached past this cut
            handle.seek(target - 1)
            handle.readline()  # to the start of the next line
            cuts.append(handle.tell())
        cuts = [c for c in cuts if 0 < c < size]
        # Line numbers at each cut: one pass counting newlines, in large blocks.
        bounds = [0, *cuts, size]
        first_lines, line, position = [1], 1, 0
        handle.seek(0)
        for cut in cuts:
            while position < cut:
                block = handle.read(min(_SCAN_BYTES, cut - position))
                line += block.count(b"\n")
                position += len(block)
            first_lines.append(line)
    return [LineRange(start, end, first) for start, end, first in zip(bounds[:-1], bounds[1:], first_lines,
                                                                     strict=True)]
