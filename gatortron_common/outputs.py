"""The one rule every stage applies to where it writes.

A stage never deletes what it did not create: an existing non-empty output that is not the stage's
own earlier output is refused unless `overwrite=true`, and an output that is (or holds, or lies
inside) one of the stage's inputs is refused always, with or without `overwrite`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from gatortron_common.logging import InputError


def _resolved(path: str | Path) -> Path:
    return Path(path).expanduser().resolve()


def _is_within(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def refuse_output_that_is_input(output: str | Path, inputs: Iterable[str | Path], setting: str,
                                replaces_directory: bool = False) -> None:
    """Refuse an output path that is an input, or (for a stage that replaces a whole directory)
    one that holds an input, or an output written inside an input directory that is replaced.

    Args:
        output: the path the stage writes (file or directory).
        inputs: every file or directory the stage reads.
        setting: the setting's name for the message (e.g. "output_dir").
        replaces_directory: the stage swaps `output` out as a whole, so an input anywhere under it
            would be deleted.

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


def check_output_path(output: str | Path, setting: str, overwrite: bool,
                      is_own_output: Callable[[Path], bool], inputs: Iterable[str | Path] = (),
                      what: str = "output") -> None:
    """Check, before any work, that the stage may write `output`.

    Args:
        output: the output file or directory.
        setting: the setting's name for the message.
        overwrite: the user's `overwrite=true`.
        is_own_output: whether an existing `output` is this stage's earlier output (by its marker
            file or metadata), which the stage may replace.
        inputs: every input path, refused as the output always.
        what: what the stage writes, for the message (e.g. "tokenizer directory").

    Raises:
        InputError: one line naming the setting.
    """
    target = Path(output)
    replaces = target.is_dir() or not target.exists()
    refuse_output_that_is_input(target, inputs, setting, replaces_directory=replaces)
    if not target.exists() and not target.is_symlink():
        return
    if target.is_dir():
        if not any(target.iterdir()) or is_own_output(target) or overwrite:
            return
        raise InputError(f"{setting}={output} is a non-empty directory that is not a {what}; choose an empty "
                         f"or new path, or pass overwrite=true to replace it as a whole")
    if is_own_output(target) or overwrite:
        if target.is_file() or target.is_symlink():
            return
    kind = "file" if target.is_file() else "path"
    raise InputError(f"{setting}={output} is an existing {kind} that is not a {what}; choose a new path, "
                     f"or pass overwrite=true to replace it")
