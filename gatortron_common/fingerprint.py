"""A cheap identity of files: what a finished-run marker and a cache key compare."""

from __future__ import annotations

import hashlib
from pathlib import Path


def files_fingerprint(path: Path) -> tuple[str, int]:
    """A digest of the names, sizes and modification times of `path` (a file, or every file under a
    folder), and their total size (a progress bar's total: one walk of the input, not two)."""
    digest, total = hashlib.sha256(), 0
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        stat = file.stat()
        total += stat.st_size
        digest.update(f"{file.relative_to(path) if file != path else file.name}\0{stat.st_size}\0"
                      f"{stat.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest(), total
