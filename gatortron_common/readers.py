"""One reader abstraction for every text corpus format the chain consumes.

`read_documents(path)` yields `TextRecord`s (text + where it came from) from plain text
(documents separated by blank lines), JSONL (one object per line, text under a key),
notes CSV/TSV (text in a column, fields may span lines and be huge), PubMed baseline/update
XML (title + abstract per article) and MediaWiki `pages-articles` dumps (wikitext converted to
plain text; those two live in xml_sources.py), optionally compressed (.gz, .bz2, .xz). Bad or
unwanted records are counted in a `SkipReport` by reason and `file:line`, never shown. The
tokenizer and data_prep stages both read through here.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import glob
import gzip
import json
import lzma
import os
import re
import sys
import zlib
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import BinaryIO, TextIO

from gatortron_common.logging import InputError, SkipReport, get_logger

logger = get_logger(__name__)

TEXT_FORMATS = ("text", "jsonl", "csv", "tsv", "pubmed", "wikipedia")
_COMPRESSED = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
# gzip: BadGzipFile (an OSError), EOFError when cut short, zlib.error; bz2: OSError; xz: LZMAError.
_DECOMPRESSION_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError)
_BY_SUFFIX = {".txt": "text", ".text": "text", ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl",
              ".csv": "csv", ".tsv": "tsv"}
_BLANK_LINES = re.compile(r"\n(?:[ \t\r\f\v]*\n)+")
_READ_CHARS = 1 << 22


@dataclass(frozen=True)
class TextRecord:
    """One document of a corpus as read, before any annotation: a note, an article, a block of
    plain text, with where it came from (fine-tuning's annotated document is
    finetune.corpora.document.Document)."""

    text: str
    source: str
    line: int  # 1-based line where the record starts


def expand_inputs(patterns: str | Sequence[str]) -> list[Path]:
    """Files named by paths or glob patterns, sorted within each pattern, duplicates removed.

    Raises:
        InputError: a pattern matches nothing, or no pattern was given.
    """
    if isinstance(patterns, str | os.PathLike):
        patterns = [str(patterns)]
    patterns = [str(p) for p in patterns]
    if not patterns:
        raise InputError("no input given: set input=<file|glob> or input=[a,b,...]")
    files: list[Path] = []
    for pattern in patterns:
        matches = sorted(glob.glob(os.path.expanduser(pattern), recursive=True))
        matches = [m for m in matches if os.path.isfile(m)]
        if not matches:
            raise InputError(f"{pattern}: no such file (or the glob matched no files)")
        files.extend(Path(m) for m in matches)
    return list(dict.fromkeys(files))


def detect_format(path: Path) -> str:
    """Format from the file name: .txt / .jsonl / .csv / .tsv, optionally compressed.

    XML is only recognised by the names its publishers use: `pubmed*.xml` (PubMed baseline and
    update files) and `*pages-articles*.xml*` (MediaWiki dumps, also the split
    `...pages-articles1.xml-p1p41242.bz2` form); other XML needs an explicit format.
    """
    suffixes = path.suffixes
    if suffixes and suffixes[-1] in _COMPRESSED:
        suffixes = suffixes[:-1]
    fmt = _BY_SUFFIX.get(suffixes[-1].lower()) if suffixes else None
    if fmt is None:
        fmt = _xml_format_from_name(path)
    if fmt is None:
        raise InputError(f"{path}: cannot tell the format from the name; set format= to one of "
                         f"{', '.join(TEXT_FORMATS)}")
    return fmt


def _xml_format_from_name(path: Path) -> str | None:
    name = path.name.lower()
    if path.suffix in _COMPRESSED:
        name = name[: -len(path.suffix)]
    if name.startswith("pubmed") and name.endswith(".xml"):
        return "pubmed"
    if "pages-articles" in name and ".xml" in name:
        return "wikipedia"
    return None


def is_compressed(path: Path) -> bool:
    """Whether the reader decompresses `path` (.gz, .bz2, .xz)."""
    return path.suffix in _COMPRESSED


def open_text(path: Path, newline: str | None = None) -> TextIO:
    """Open a possibly compressed file as UTF-8 text; bad bytes become lone surrogates. A byte
    order mark at the start (Excel's "CSV UTF-8") is dropped: it would hide the first column's name."""
    opener = _COMPRESSED.get(path.suffix, open)
    return opener(path, "rt", encoding="utf-8-sig", errors="surrogateescape", newline=newline)


def open_binary(path: Path) -> BinaryIO:
    """Open a possibly compressed file as bytes (XML: the parser decodes per its declaration)."""
    opener = _COMPRESSED.get(path.suffix, open)
    return opener(path, "rb")


def estimated_text_bytes(path: Path) -> int:
    """Uncompressed size of `path`, exact for plain files, estimated for compressed ones."""
    size = path.stat().st_size
    if path.suffix == ".gz" and size >= 18:
        with open(path, "rb") as handle:  # gzip stores the input size mod 2**32 in its last 4 bytes
            handle.seek(-4, os.SEEK_END)
            isize = int.from_bytes(handle.read(4), "little")
        return isize if isize >= size else size * 4
    if path.suffix in (".bz2", ".xz"):
        return size * 5  # typical ratio for English-like text
    return size


@dataclass(frozen=True)
class LineRange:
    """The lines of an uncompressed line-based file (JSONL) that start in bytes [start, end);
    `first_line` is the 1-based number of the line at `start` (which starts a line)."""

    start: int = 0
    end: int | None = None
    first_line: int = 1


def read_documents(path: Path, fmt: str = "auto", text_key: str = "text", text_column: str = "NOTE_TEXT",
                   skips: SkipReport | None = None, max_document_chars: int = 64 << 20,
                   lines: LineRange | None = None) -> Iterator[TextRecord]:
    """Yield the documents of one file. Bad records are counted in `skips` (raises when strict).

    Args:
        path: the file.
        fmt: "auto" (from the name) or one of TEXT_FORMATS.
        text_key: JSONL key holding the text.
        text_column: CSV/TSV column holding the text.
        skips: where skipped records are counted; a fresh non-strict report if None.
        max_document_chars: plain text without blank lines is cut into pieces of at most this.
        lines: read only this part of an uncompressed JSONL file (parallel readers split files).
    """
    skips = SkipReport() if skips is None else skips
    fmt = detect_format(path) if fmt == "auto" else fmt
    if lines is not None and lines != LineRange() and (fmt != "jsonl" or is_compressed(path)):
        raise InputError(f"{path}: only uncompressed JSONL can be read in parts")
    if fmt == "text":
        documents = _read_plain_text(path, max_document_chars)
    elif fmt == "jsonl":
        documents = _read_jsonl(path, text_key, skips, lines or LineRange())
    elif fmt in ("csv", "tsv"):
        documents = _read_delimited(path, "\t" if fmt == "tsv" else ",", text_column, skips)
    elif fmt in ("pubmed", "wikipedia"):
        from gatortron_common import xml_sources  # imports readers: import here, not at the top

        documents = (xml_sources.read_pubmed if fmt == "pubmed" else xml_sources.read_wikipedia)(path, skips)
    else:
        raise InputError(f"{path}: unknown format {fmt!r}; use one of {', '.join(TEXT_FORMATS)}")
    damaged = False
    try:
        for document in documents:
            if not document.text or document.text.isspace():
                skips.skip("empty_document", document.source, document.line)
            elif not document.text.isascii() and has_surrogates(document.text):  # isascii: C speed
                skips.skip("invalid_utf8", document.source, document.line)
            else:
                yield document
    except _DECOMPRESSION_ERRORS:
        if not is_compressed(path):
            raise
        damaged = True
    if damaged:  # a truncated download or a file that is not what its name says: what was read stays
        skips.skip(f"corrupt_or_truncated{path.suffix}", str(path))


def has_surrogates(text: str) -> bool:
    """Lone surrogates: undecodable bytes (kept by surrogateescape) or broken JSON escapes."""
    try:
        text.encode("utf-8")  # C speed; a regex scan for surrogates runs at ~150 MB/s
    except UnicodeEncodeError:
        return True
    return False


def _read_plain_text(path: Path, max_document_chars: int) -> Iterator[TextRecord]:
    # Large reads + regex over blank lines: ~10x faster than iterating line by line.
    source, buffer, buffer_line, warned = str(path), "", 1, False
    with open_text(path) as handle:
        while True:
            block = handle.read(_READ_CHARS)
            buffer += block
            start = 0
            for separator in _BLANK_LINES.finditer(buffer):
                yield TextRecord(buffer[start:separator.start()], source, buffer_line)
                buffer_line += buffer.count("\n", start, separator.end())
                start = separator.end()
            buffer = buffer[start:]
            if not block:
                break
            while len(buffer) > max_document_chars:
                cut = buffer.rfind("\n", 0, max_document_chars) + 1 or max_document_chars
                if not warned:
                    logger.warning("%s: no blank line within %d characters; splitting documents there",
                                   f"{source}:{buffer_line}", max_document_chars)
                    warned = True
                yield TextRecord(buffer[:cut], source, buffer_line)
                buffer_line += buffer.count("\n", 0, cut)
                buffer = buffer[cut:]
    if buffer.strip():
        yield TextRecord(buffer.rstrip("\n"), source, buffer_line)


def _read_jsonl(path: Path, text_key: str, skips: SkipReport, lines: LineRange) -> Iterator[TextRecord]:
    source, position = str(path), lines.start
    with open_binary(path) as handle:
        if lines.start:
            handle.seek(lines.start)
        for line_number, raw in enumerate(handle, start=lines.first_line):
            if lines.end is not None and position >= lines.end:
                break
            position += len(raw)
            if line_number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8):]
            if raw.isspace():
                continue
            try:
                try:
                    record = json.loads(raw)
                except UnicodeDecodeError:  # keep bad bytes as surrogates: counted as invalid_utf8 below
                    record = json.loads(raw.decode("utf-8", "surrogateescape"))
            except ValueError:
                skips.skip("malformed_json", source, line_number)
                continue
            text = record.get(text_key) if isinstance(record, dict) else None
            if text is None:
                skips.skip(f"missing_key:{text_key}", source, line_number)
            elif not isinstance(text, str):
                skips.skip(f"not_a_string:{text_key}", source, line_number)
            else:
                yield TextRecord(text, source, line_number)


class _LineWindow:
    """The lines csv.reader reads, fetched in large blocks, keeping those from `keep_from` on so
    that a record that failed to parse can be looked at again (on errors only; no per-line cost)."""

    def __init__(self, handle: TextIO) -> None:
        self.handle = handle
        self.blocks: deque[tuple[int, list[str]]] = deque()  # (number of the first line, lines)
        self.next_line, self.keep_from = 1, 1

    def __iter__(self) -> Iterator[str]:
        return chain.from_iterable(self._blocks())

    def _blocks(self) -> Iterator[list[str]]:
        while block := self.handle.readlines(_READ_CHARS):
            while self.blocks and self.blocks[0][0] + len(self.blocks[0][1]) <= self.keep_from:
                self.blocks.popleft()
            self.blocks.append((self.next_line, block))
            self.next_line += len(block)
            yield block

    def lines(self, first: int, last: int) -> list[str]:
        """Lines `first`..`last` (1-based, inclusive), as far as they are kept."""
        found: list[str] = []
        for start, block in self.blocks:
            low, high = max(first, start), min(last, start + len(block) - 1)
            if low <= high:
                found.extend(block[low - start:high - start + 1])
        return found


@dataclass(frozen=True)
class DelimitedRow:
    """One record of a CSV/TSV file as parsed: every cell, or why it could not be read.

    Attributes:
        line: the 1-based line where the record starts (a quoted cell can span lines).
        cells: the record's cells; [] for a blank line and for a record that could not be read.
        problems: (reason, line) for each problem, when the record could not be read: `unclosed_quote`
            (then `row_inside_unclosed_quote` at each line it swallowed), `csv_parse_error`,
            `wrong_field_count:<found>!=<header's>`. Reasons name no cell.
    """

    line: int
    cells: list[str]
    problems: tuple[tuple[str, int], ...] = ()

    @property
    def blank(self) -> bool:
        """A blank line: no record, and nothing lost."""
        return not self.cells and not self.problems


def read_delimited_rows(path: Path, delimiter: str) -> Iterator[DelimitedRow]:
    """The records of a CSV/TSV file, the header first (line 1), each with all its cells.

    The csv module parses in strict mode, so a quote that is opened and never closed (which would
    swallow the following records into one) stops at the first quote that cannot close a field, or
    at the end of the file; the record is then looked at again (see `_recover`). Undecodable bytes
    are kept as lone surrogates (`has_surrogates`); a byte order mark at the start is dropped.

    Args:
        path: the file (optionally compressed).
        delimiter: "," or "\t".

    Raises:
        InputError: an empty file, or a header row that is not valid CSV (named by file:1, never
            by its cells: in a file without a header they are a note).
    """
    csv.field_size_limit(sys.maxsize)  # single notes can be tens of MB
    with open_text(path, newline="") as handle:
        window = _LineWindow(handle)
        reader = csv.reader(window, delimiter=delimiter, strict=True)
        try:
            header = next(reader)
        except StopIteration:
            raise InputError(f"{path}: empty file, expected a header row") from None
        except csv.Error:
            raise InputError(f"{path}:1: the header row is not valid CSV (a quote is not closed)") from None
        yield DelimitedRow(1, header)
        width, record_start = len(header), reader.line_num + 1
        while True:
            window.keep_from = record_start
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error:
                yield _recover(window.lines(record_start, reader.line_num), delimiter, width, record_start)
            else:
                if len(cells) in (0, width):  # 0: a blank line, which is no record
                    yield DelimitedRow(record_start, cells)
                else:
                    reason = f"wrong_field_count:{len(cells)}!={width}"
                    yield DelimitedRow(record_start, [], ((reason, record_start),))
            record_start = reader.line_num + 1


def _read_delimited(path: Path, delimiter: str, text_column: str, skips: SkipReport) -> Iterator[TextRecord]:
    """CSV/TSV notes: the text column of each record; records that cannot be read are skipped."""
    source = str(path)
    rows = read_delimited_rows(path, delimiter)
    header = next(rows).cells
    if text_column not in header:
        # Never the header's cells: in a file without a header they are the first note.
        raise InputError(f"{source}:1: no column {text_column!r} in the first row, which has "
                         f"{len(header)} column(s); the first row must be a header naming the text "
                         f"column (set text_column= to its name)")
    column = header.index(text_column)
    for row in rows:
        for reason, line in row.problems:
            skips.skip(reason, source, line)
        if row.cells:
            yield TextRecord(row.cells[column], source, row.line)


def _recover(lines: list[str], delimiter: str, width: int, first_line: int) -> DelimitedRow:
    """A record the strict parser refused (lines `first_line`.. of it): the row the lenient parser
    makes of it when it is one stray quote in one record; else the problems.

    When later lines of the record read as rows of their own, a quote was opened and never closed
    and swallowed them: the record's problem is `unclosed_quote`, and each row it swallowed is a
    `row_inside_unclosed_quote`, at its own line.
    """
    swallowed = [first_line + offset for offset, line in enumerate(lines[1:], start=1)
                 if len(next(csv.reader([line], delimiter=delimiter), [])) == width]
    if swallowed:
        return DelimitedRow(first_line, [], (("unclosed_quote", first_line),
                                             *(("row_inside_unclosed_quote", line) for line in swallowed)))
    rows = list(csv.reader(lines, delimiter=delimiter))
    if len(rows) == 1 and len(rows[0]) == width:
        return DelimitedRow(first_line, rows[0])
    return DelimitedRow(first_line, [], (("csv_parse_error", first_line),))
