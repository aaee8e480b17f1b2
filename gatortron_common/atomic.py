"""Atomic writes: a killed job never leaves a file or directory that looks complete.

Everything is written to a temporary sibling first and renamed into place only when whole;
`os.replace` is atomic on POSIX filesystems (same directory, same filesystem).

Permissions follow one rule: a stage's outputs are no more readable than its inputs.
`restrict_outputs_to(inputs)` narrows the process umask once the inputs are known, and everything
written afterwards gets the mode a plain `open()` / `mkdir()` would give under that umask,
including files that writers create 0600 on their own (mkstemp, safetensors).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from gatortron_common.logging import get_logger

logger = get_logger(__name__)
_GROUP_OTHER_READ_WRITE = 0o066


def _umask() -> int:
    """The process umask, read without setting it where Linux shows it: `os.umask` can only set
    it, and the instant it is 0 another thread's new file would be created world-writable."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    mask = os.umask(0)
    os.umask(mask)
    return mask


def default_file_mode() -> int:
    """The mode a plain `open()` would give a new file (0o666 less the umask); outputs are shared
    on clusters, and some writers (mkstemp, safetensors) create files 0600."""
    return 0o666 & ~_umask()


def restrict_outputs_to(inputs: Iterable[str | Path | None]) -> int:
    """Narrow the process umask so that every file and directory created from now on lacks each
    group/other permission that some input file lacks: read and write bits as the inputs have
    them, and a directory's search (x) bit with its read bit. The umask only ever narrows.

    A command-line stage calls this once, when its inputs are known and before it writes; the
    narrowed umask then lasts for the process. A caller that runs stages in-process (tests) and
    wants the old umask back restores the returned value with `os.umask`.

    Args:
        inputs: the files the outputs derive from; a directory counts by every file under it; None,
            "" and missing paths are skipped (a stage checks its inputs itself).

    Returns:
        The umask before the call.
    """
    previous = _umask()
    narrowed, example = _narrowed_umask(previous, inputs)
    if narrowed != previous:
        os.umask(narrowed)
        logger.info("outputs are kept as private as the inputs (e.g. %s, mode %04o): umask %04o",
                    *example, narrowed)
    return previous


def _narrowed_umask(umask: int, inputs: Iterable[str | Path | None]) -> tuple[int, tuple[Path, int]]:
    """`umask` with the group/other read and write bits some input file lacks (x where r goes), and
    the last file that took bits away, with its mode (for the log)."""
    lacking, example = 0, (Path(), 0)
    for file in _files(inputs):
        with contextlib.suppress(OSError):
            mode = stat.S_IMODE(file.stat().st_mode)
            missing = ~mode & _GROUP_OTHER_READ_WRITE
            if missing & ~(umask | lacking):
                example = (file, mode)
            lacking |= missing
        if lacking == _GROUP_OTHER_READ_WRITE:
            break
    # Whoever may not read a directory's listing gets no search bit either: 0600 notes -> 0700 folders.
    return umask | lacking | (lacking & 0o044) >> 2, example


def _files(inputs: Iterable[str | Path | None]) -> Iterator[Path]:
    for given in inputs:
        if given is None or str(given) == "":
            continue
        path = Path(given)
        if not path.is_dir():
            yield path
            continue
        for folder, _, names in os.walk(path):
            yield from (Path(folder) / name for name in names)


def _apply_umask(root: Path) -> None:
    """Give everything under `root` the mode the umask gives a new file or directory (x bits of
    files kept): writers that create files 0600 themselves (mkstemp, safetensors) follow the rule."""
    mask = _umask()
    for folder, _, names in os.walk(root):
        os.chmod(folder, 0o777 & ~mask)
        for name in names:
            path = Path(folder) / name
            if not path.is_symlink():
                os.chmod(path, (0o666 | stat.S_IMODE(path.stat().st_mode) & 0o111) & ~mask)


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", **open_kwargs) -> Iterator[IO]:
    """Open a temporary file next to `path`; on clean exit fsync it and rename it to `path`.

    On an exception the temporary file is removed and `path` is left untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    os.close(fd)
    os.chmod(tmp_name, default_file_mode())
    try:
        with open(tmp_name, mode, **open_kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    with atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


@contextlib.contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Yield a staging directory that replaces `path` as a whole on clean exit.

    Its files and folders then get the modes the umask gives (see `restrict_outputs_to`). An
    existing `path` is swapped out only after the new content is complete, so readers see either
    the old directory or the new one, never a half-written one.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    try:
        yield staging
        _apply_umask(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    previous = None
    if target.exists():
        previous = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, previous)
    os.replace(staging, target)
    if previous is None:
        return
    if previous.is_dir() and not previous.is_symlink():
        shutil.rmtree(previous, ignore_errors=True)
    else:  # a file or link replaced under overwrite=true: rmtree would leave it behind
        previous.unlink(missing_ok=True)


def remove_stale_partials(paths: Iterable[Path]) -> int:
    """Remove the hidden temporary files and folders a killed run left beside `paths` (the
    `.NAME.*.partial` siblings of the atomic writers); return how many."""
    removed = 0
    for path in paths:
        for stale in path.parent.glob(f".{glob.escape(path.name)}.*.partial"):
            if stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)
            removed += 1
    return removed
