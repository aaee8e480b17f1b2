"""Leftovers of killed runs: the hidden staging folder `atomic_directory` writes next to the output.

A run killed (SIGKILL, node failure) before its output was swapped in leaves `.NAME.XXXXXXXX.partial`
(possibly holding a copy of sampled notes). The next run for the same output removes such folders, and
only those: the exact naming `tempfile.mkdtemp` gives them, a real directory (not a link), and not
locked by a run still in progress (each run holds a lock on its own staging folder).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from gatortron_common.logging import get_logger

logger = get_logger(__name__)

# tempfile's random part: 8 characters of [a-z0-9_].
_RANDOM_PART = r"[a-z0-9_]{8}"


def _staging_pattern(output: Path) -> re.Pattern:
    return re.compile(rf"\.{re.escape(output.name)}\.{_RANDOM_PART}\.partial")


def _in_use(path: Path) -> bool:
    """Whether a running build holds the lock on `path` (or the lock cannot be checked here)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:  # a live run holds it
        return True
    except OSError:  # no locks on this file system: cannot tell, so leave it
        logger.warning("%s: left by an earlier run, or in use by one (locks unavailable here); remove it "
                       "by hand if no run is writing this output", path)
        return True
    finally:
        os.close(fd)  # closing releases the lock
    return False


def _holds(directory: Path, inputs: Iterable[Path]) -> bool:
    inside = directory.resolve()
    return any(inside == p or inside in p.parents for p in (Path(i).resolve() for i in inputs))


def remove_stale_staging(output: str | Path, inputs: Iterable[Path] = ()) -> int:
    """Remove staging folders of earlier killed runs writing `output` (never one holding an input);
    return how many."""
    target = Path(output)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir() or not target.name:
        return 0
    pattern = _staging_pattern(target)
    inputs = list(inputs)
    removed = 0
    for entry in parent.iterdir():
        if (pattern.fullmatch(entry.name) and entry.is_dir() and not entry.is_symlink()
                and not _holds(entry, inputs) and not _in_use(entry)):
            shutil.rmtree(entry)
            removed += 1
    if removed:
        logger.info("removed %d staging folder(s) left by earlier killed run(s) for %s", removed, target)
    return removed


@contextlib.contextmanager
def hold(staging: Path) -> Iterator[None]:
    """Hold the lock on our own staging folder for the run, so another run never removes it."""
    fd = os.open(staging, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with contextlib.suppress(OSError):  # no locks on this file system: nothing to hold
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield
    finally:
        os.close(fd)
