"""The one rule every stage applies to where it writes.

A stage never deletes what it did not create: an existing non-empty output that is not the stage's
own earlier output is refused unless `overwrite=true`, and an output that is (or holds, or lies
inside) one of the stage's inputs is refused always, with or without `overwrite`.

    check_output_path(output, "output", overwrite, is_own_output, inputs=[notes, model],
                      kind="file", within_inputs=True)   # before any work
    with replacing(output) as staging:                  # after the work: staging takes output's place
        write_jsonl(documents, staging)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from gatortron_common.logging import InputError

KINDS = ("file", "directory")


def _resolved(path: str | Path) -> Path:
    return Path(path).expanduser().resolve()


def _is_within(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def refuse_output_that_is_input(output: str | Path, inputs: Iterable[str | Path | None], setting: str,
                                replaces_directory: bool = False, within_inputs: bool = False) -> None:
    """Refuse an output path that is an input, or (for a stage that replaces a whole directory)
    one that holds an input, or one that lies inside an input file or (`within_inputs`) directory.

    Args:
        output: the path the stage writes (file or directory).
        inputs: every file or directory the stage reads (None and "" are skipped).
        setting: the setting's name for the message (e.g. "output_dir").
        replaces_directory: the stage swaps `output` out as a whole, so an input anywhere under it
            would be deleted.
        within_inputs: also refuse an output inside an input directory (the stage would write into
            a folder it reads: a corpus, a notes folder, a model).

    Raises:
        InputError: naming the setting and the input path.
    """
    target = _resolved(output)
    for source in inputs:
        if source is None or str(source) == "":
            continue
        path = _resolved(source)
        if target == path:
            raise InputError(f"{setting}={output} is also an input; write the output somewhere else")
        if replaces_directory and _is_within(path, target):
            raise InputError(f"{setting}={output} holds the input {source}, which replacing it would "
                             f"delete; write the output somewhere else")
        if path.is_file() and _is_within(target, path):
            raise InputError(f"{setting}={output} lies inside the input file {source}")
        if within_inputs and path.is_dir() and _is_within(target, path):
            raise InputError(f"{setting}={output} lies inside the input directory {source}; write the "
                             f"output somewhere else")


def _refuse_other_kind(target: Path, setting: str, overwrite: bool, kind: str | None, what: str) -> None:
    """An existing path of the other kind (a directory where a file is written, or the reverse) is
    replaced only under overwrite=true, even when empty."""
    if kind not in KINDS:
        if kind is not None:
            raise ValueError(f"kind={kind!r}: expected one of {KINDS}")
        return
    found = "directory" if target.is_dir() else "file"
    if found == kind or overwrite or not (target.exists() or target.is_symlink()):
        return
    raise InputError(f"{setting}={target} is an existing {found}, but the {what} is a {kind}; name a "
                     f"{kind}, or pass overwrite=true to replace the {found}")


def check_output_path(output: str | Path, setting: str, overwrite: bool,
                      is_own_output: Callable[[Path], bool], inputs: Iterable[str | Path | None] = (),
                      what: str = "output", kind: str | None = None, within_inputs: bool = False) -> None:
    """Check, before any work, that the stage may write `output`.

    Args:
        output: the output file or directory.
        setting: the setting's name for the message.
        overwrite: the user's `overwrite=true`.
        is_own_output: whether an existing `output` is this stage's earlier output (by its marker
            file or metadata), which the stage may replace.
        inputs: every input path, refused as the output always.
        what: what the stage writes, for the message (e.g. "tokenizer directory").
        kind: "file" or "directory" when the stage knows which it writes: an existing path of the
            other kind is refused unless overwrite=true (write it through `replacing`).
        within_inputs: also refuse an output inside an input directory.

    Raises:
        InputError: one line naming the setting.
    """
    target = Path(output)
    replaces = target.is_dir() or not target.exists()
    refuse_output_that_is_input(target, inputs, setting, replaces_directory=replaces,
                                within_inputs=within_inputs)
    if not target.exists() and not target.is_symlink():
        return
    _refuse_other_kind(target, setting, overwrite, kind, what)
    if target.is_dir():
        if not any(target.iterdir()) or is_own_output(target) or overwrite:
            return
        raise InputError(f"{setting}={output} is a non-empty directory that is not a {what}; choose an empty "
                         f"or new path, or pass overwrite=true to replace it as a whole")
    if is_own_output(target) or overwrite:
        if target.is_file() or target.is_symlink():
            return
    found = "file" if target.is_file() else "path"
    raise InputError(f"{setting}={output} is an existing {found} that is not a {what}; choose a new path, "
                     f"or pass overwrite=true to replace it")


@contextlib.contextmanager
def replacing(output: str | Path) -> Iterator[Path]:
    """Yield a path (in a staging directory next to `output`) to write the new output at; on a clean
    exit it takes `output`'s place, whatever was there (file, directory, link or nothing), so a file
    may replace a directory and the reverse. Call `check_output_path` first: this replaces without
    asking. On an exception `output` is left as it was and the staging directory is removed.
    """
    target = Path(output)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    try:
        yield staging / target.name
        written = staging / target.name
        if not written.exists():
            raise RuntimeError(f"nothing was written for {target}")
        if target.exists() or target.is_symlink():
            os.replace(target, staging / ".previous")  # removed with the staging directory below
        os.replace(written, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
