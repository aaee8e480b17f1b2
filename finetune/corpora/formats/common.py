"""Helpers every format module shares: exact text I/O, span checks, whitespace tokens, output
directories, ids for written entities and the order of mixed annotation lines."""

from __future__ import annotations

import contextlib
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from finetune.corpora.document import Document, Entity, safe_id
from finetune.corpora.formats.report import MISMATCH, REPAIR, FormatReport
from gatortron_common.atomic import atomic_directory
from gatortron_common.logging import InputError, get_logger

logger = get_logger(__name__)
_TOKEN = re.compile(r"\S+")
_SPACES = re.compile(r"\s+")


def read_text(path: Path) -> str:
    """A file's exact text: UTF-8, line endings untouched (offsets count every character)."""
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return handle.read()
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not UTF-8 (bad byte at offset {error.start})") from None
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error.strerror})") from None


def text_files(path: Path) -> list[tuple[Path, str]]:
    """The plain-text notes of `path`: itself when it is a file, else every `.txt` file under it (any
    case: .TXT, .Txt), subfolders included, sorted by name, each with its relative POSIX name
    (`sub/a.txt`). Hidden entries (dotfiles, `.git/`), other files and linked folders are left out,
    counted and logged with the first few names (names only: never a file's text).

    Raises:
        InputError: no .txt file, or two whose names differ only in the suffix's case (their ids and
            output names would collide).
    """
    if path.is_file():
        return [(path, path.name)]
    found: list[tuple[Path, str]] = []
    left_out: list[str] = []
    for folder, folders, names in os.walk(path, onerror=_unreadable_folder):
        relative = Path(folder).relative_to(path)
        for name in sorted(folders):
            if name.startswith(".") or (Path(folder) / name).is_symlink():
                left_out.append((relative / name).as_posix() + "/")  # not walked into: hidden or linked
                folders.remove(name)
        for name in names:
            if name.lower().endswith(".txt") and not name.startswith("."):
                found.append((Path(folder) / name, (relative / name).as_posix()))
            else:
                left_out.append((relative / name).as_posix())
    if left_out:
        logger.warning("%s: left out %d entr%s that are not .txt notes (other files, hidden ones, linked "
                       "folders; first: %s)", path, len(left_out), "y" if len(left_out) == 1 else "ies",
                       ", ".join(sorted(left_out)[:3]))
    if not found:
        raise InputError(f"{path}: no .txt files")
    found.sort(key=lambda item: item[1])
    stems = Counter(name[:-len(".txt")] for _, name in found)
    clash = sorted(name for _, name in found if stems[name[:-len(".txt")]] > 1)
    if clash:
        raise InputError(f"{path}: {clash[0]} and {clash[1]} differ only in the case of the suffix; their "
                         f"outputs would collide (rename one)")
    return found


def _unreadable_folder(error: OSError) -> None:
    raise InputError(f"{error.filename}: cannot read the folder ({error.strerror}); its notes would be "
                     f"left out")


def read_lines(path: Path) -> list[str]:
    """A file's lines split at "\n" only (a trailing "\r" dropped): other separators that
    `str.splitlines` honours (U+2028, \x1c-\x1e, ...) can be inside a word of a token file."""
    lines = read_text(path).split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last line; it does not start an empty one
    return [line.rstrip("\r") for line in lines]


def write_text(path: Path, text: str) -> None:
    """Write `text` exactly (no newline translation) to a path inside a staging directory."""
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)


def require_directory(path: Path, fmt: str) -> None:
    """Raise `InputError` unless `path` is an existing directory."""
    if not path.is_dir():
        found = "a file" if path.exists() else "missing"
        raise InputError(f"{path}: {fmt} input must be a directory ({found})")


def require_file(path: Path, fmt: str) -> None:
    """Raise `InputError` unless `path` is an existing file."""
    if not path.is_file():
        found = "a directory" if path.exists() else "missing"
        raise InputError(f"{path}: {fmt} input must be a file ({found})")


def squash(text: str) -> str:
    """Runs of whitespace as one space, ends stripped: how span text is compared across lines."""
    return _SPACES.sub(" ", text).strip()


def check_span(text: str, start: int, end: int, where: str) -> None:
    """Raise `InputError` naming `where` if `start`-`end` is not a non-empty span inside `text`."""
    if not 0 <= start < end <= len(text):
        raise InputError(f"{where}: offsets {start}-{end} are outside the text (length {len(text)}) "
                         f"or the span is empty")


def compare_span_text(expected: str, actual: str, where: str, report: FormatReport, *,
                      ignore_case: bool = False) -> None:
    """Note a mismatch between the span text a file carries and the slice it points at.

    Exact equality is fine; a difference in whitespace only is counted as a repair (the slice
    wins); anything else is a mismatch (an error under strict).
    """
    if ignore_case:
        expected, actual = expected.lower(), actual.lower()
    if expected == actual:
        return
    if squash(expected) == squash(actual):
        report.note(REPAIR, "span text differs from the text slice in whitespace only (slice kept)", where)
    else:
        report.note(MISMATCH, "span text differs from the text slice", where)


def whitespace_token_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the whitespace-separated tokens of `text`."""
    return [(m.start(), m.end()) for m in _TOKEN.finditer(text)]


def entity_where(document: Document, entity: Entity, index: int) -> str:
    """`document 101 (P3)`: how writers name an entity in notes and errors, never by its text."""
    return f"document {document.id} ({safe_id(entity.id, f'entity #{index + 1}')})"


def assign_ids(current: Sequence[str | None], prefixes: Sequence[str], taken: Iterable[str] = (),
               valid: re.Pattern[str] | None = None, first: int = 0) -> list[str]:
    """Ids to write: each annotation keeps its id when valid and unique, the rest get `<prefix><n>`.

    Args:
        current: the annotations' ids (None where there is none), in order.
        prefixes: the prefix of a new id for each annotation (`T`, `P`, `E`, `R`).
        taken: ids used by other annotations of the document (kept tags).
        valid: pattern an id must fully match to be kept.
        first: number of the first new id (brat counts from 1, the i2b2 XML files from 0).
    """
    used = set(taken)
    kept: list[str | None] = []
    for identifier in current:
        keep = (identifier is not None and identifier not in used
                and (valid is None or valid.fullmatch(identifier) is not None))
        kept.append(identifier if keep else None)
        if keep:
            used.add(identifier)
    numbers: dict[str, int] = {}
    result: list[str] = []
    for identifier, prefix in zip(kept, prefixes, strict=True):
        if identifier is None:
            number = numbers.get(prefix, first)
            while f"{prefix}{number}" in used:
                number += 1
            numbers[prefix] = number
            identifier = f"{prefix}{number}"
            used.add(identifier)
        result.append(identifier)
    return result


def in_layout(layout: str | None, groups: dict[str, list]) -> Iterator[tuple[str, Any]]:
    """Items of several kinds in the order a source file had them.

    Args:
        layout: one letter per item in source order (e.g. "TTRTA"), kept by the reader; used only
            when it still matches the number of items of each kind, else kinds come in the
            order of `groups`.
        groups: kind letter -> items of that kind, in order.
    """
    if layout is not None and Counter(layout) == Counter({k: len(v) for k, v in groups.items() if v}):
        positions = dict.fromkeys(groups, 0)
        for kind in layout:
            yield kind, groups[kind][positions[kind]]
            positions[kind] += 1
        return
    for kind, items in groups.items():
        for item in items:
            yield kind, item


def layout_string(kinds: Sequence[str], groups: Sequence[str]) -> str | None:
    """The layout to keep: None when the kinds already come grouped in `groups` order."""
    layout = "".join(kinds)
    canonical = "".join(sorted(layout, key=groups.index))
    return None if layout == canonical else layout


@contextlib.contextmanager
def output_directory(path: Path, suffixes: Sequence[str], fmt: str) -> Iterator[Path]:
    """A staging directory that replaces `path` as a whole when the block ends cleanly.

    Refuses to replace an existing directory holding anything but files with `suffixes` (or
    nothing), so a mistyped output path never wipes unrelated data.
    """
    if path.exists():
        if not path.is_dir():
            raise InputError(f"{path}: {fmt} output must be a directory, found a file")
        foreign = sorted(p.name for p in path.iterdir() if not (p.is_file() and p.suffix in suffixes))
        if foreign:
            raise InputError(f"{path}: refusing to replace a directory that holds other things than "
                             f"{'/'.join(suffixes)} files (e.g. {foreign[0]}); choose a new or empty "
                             f"directory")
    with atomic_directory(path) as staging:
        yield staging


def checked(documents: Iterable[Document], unique_ids: bool = True) -> list[Document]:
    """Documents to write, with offsets inside their texts and (file per document) unique ids.

    Raises:
        InputError: naming the document and entity.
    """
    result = list(documents)
    seen: set[str] = set()
    for document in result:
        if unique_ids and document.id in seen:
            raise InputError(f"document {document.id}: the id occurs twice; file names would collide")
        seen.add(document.id)
        document.check_offsets(f"document {document.id}")
    return result


def safe_file_stem(document: Document) -> str:
    """The document id as a file stem (ids name files in file-per-document formats)."""
    stem = document.id
    if not stem or stem in (".", "..") or "/" in stem or "\\" in stem or "\0" in stem:
        # The id is not shown: one that cannot name a file is not an id of the usual shape.
        raise InputError("a document id cannot be used as a file name (empty, '.', '..', or holding '/', "
                         "'\\' or NUL)")
    return stem
