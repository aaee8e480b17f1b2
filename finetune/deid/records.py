"""Notes in, notes out, in the input's own layout: a folder of .txt files, CSV/TSV, JSONL, or a folder
of i2b2 2014 XML files.

Only the note text of each record changes; every other column or key, the row order, the header,
the delimiter and the file names stay as they were. i2b2 2014 XML comes out as a de-identified
corpus: each file's TEXT replaced and its TAGS the PHI found, at their offsets in the new text.
Outputs are written to a temporary path and renamed into place when whole. A record whose text
cannot be found (a missing column or key, a value that is not a string) is an error naming file and
line: a de-identification tool must never pass a note through untouched.

Nothing is dropped without a word. A CSV/TSV row that cannot be read (a quote never closed, a wrong
number of fields, broken quoting, bad bytes), a header naming a column twice, a JSONL line that is
not one JSON object or holds a key twice: each stops the run with an `InputError` naming file and
line (the outputs, written atomically, do not appear). A blank line holds no note: it is counted
(`blank_line`) and reported, and not written back. A folder of .txt notes is read with its
subfolders (`finetune.corpora.formats.common.text_files`); the output folder mirrors them.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from finetune.corpora.document import Document, Entity, json_lines
from finetune.corpora.formats import read_corpus, write_corpus
from finetune.corpora.formats.common import read_text, text_files, write_text
from gatortron_common.atomic import atomic_directory, atomic_open
from gatortron_common.logging import InputError, SkipReport, get_logger, location
from gatortron_common.readers import has_surrogates, read_delimited_rows
from gatortron_common.shards import WHOLE_INPUT, Shard

logger = get_logger(__name__)
FORMATS: tuple[str, ...] = ("txt", "jsonl", "csv", "tsv", "i2b2_2014")
_DELIMITERS = {"csv": ",", "tsv": "\t"}
_JSON_TYPES = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "true or false",
               type(None): "null"}


@dataclass
class NoteRecord:
    """One note and what is needed to write it back.

    Args:
        id: a stable name for span files (txt: the file's path relative to the input folder, POSIX
            separators; rows and lines: `file:line`, a row's first line).
        text: the note text.
        patient: the value under the patient key, when one is set (surrogates consistent per patient).
        fields: the whole row / object (csv, tsv, jsonl); the text is replaced in it on output.
        name: the file's relative path (txt), which the output folder mirrors.
        position: its 0-based place among the notes of the whole input (whatever the shard).
    """

    id: str
    text: str
    patient: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    name: str | None = None
    position: int = 0


def detect_format(path: Path) -> str:
    """`i2b2_2014` for a directory of .xml files, `txt` for other directories, else from the suffix."""
    if path.is_dir():
        return "i2b2_2014" if any(path.glob("*.xml")) and not any(path.glob("*.txt")) else "txt"
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("jsonl", "csv", "tsv"):
        return suffix
    if suffix == "txt":
        return "txt"
    raise InputError(f"input={path}: cannot tell the format from the name; set input_format="
                     f"{'|'.join(FORMATS)}")


def read_records(path: Path, fmt: str, text_key: str = "text", text_column: str = "NOTE_TEXT",
                 patient_key: str | None = None, skips: SkipReport | None = None,
                 shard: Shard = WHOLE_INPUT) -> Iterator[NoteRecord]:
    """The notes of `path` (of `shard`'s contiguous part of it), streamed.

    Args:
        path: a .txt file or a folder of them (subfolders included), or a .jsonl / .csv / .tsv file.
        fmt: one of `FORMATS`.
        text_key: JSONL key holding the note.
        text_column: CSV/TSV column holding the note.
        patient_key: key / column naming the patient (not for txt).
        skips: where blank lines (no note) are counted, for the caller's summary; None counts them
            here and logs the count once the notes are read.
        shard: the part to read: a range of a folder's files or of XML documents, the lines of a
            JSONL file in a range of its bytes (only those are read), the rows of a CSV/TSV file
            whose first line is in that range (parsed from the top: a quoted cell may hold a newline).

    Raises:
        InputError: a note that cannot be read, named by file and line.
    """
    report = SkipReport() if skips is None else skips
    if fmt == "txt":
        if patient_key is not None:
            raise InputError("patient_key: .txt notes have no fields; use CSV/TSV or JSONL")
        files = text_files(path)
        first = shard.bounds(len(files))[0]
        for position, (file, name) in enumerate(shard.items(files), start=first):
            yield NoteRecord(id=name, text=read_text(file), name=name, position=position)
    elif fmt == "i2b2_2014":
        if patient_key is not None:
            raise InputError("patient_key: i2b2 2014 XML has no patient field")
        documents = read_corpus(path, "i2b2_2014", allow_unknown=True)
        first = shard.bounds(len(documents))[0]
        for position, document in enumerate(shard.items(documents), start=first):
            yield NoteRecord(id=document.id, text=document.text, fields={"document": document},
                             position=position)
    elif fmt == "jsonl":
        yield from _read_jsonl(path, text_key, patient_key, report, shard)
    elif fmt in _DELIMITERS:
        yield from _read_delimited(path, _DELIMITERS[fmt], text_column, patient_key, report, shard)
    else:
        raise InputError(f"input_format={fmt}: expected one of {', '.join(FORMATS)}")
    if skips is None:
        report.log_summary(logger)


def _patient(record: dict[str, Any], patient_key: str | None, where: str) -> str | None:
    if patient_key is None:
        return None
    if record.get(patient_key) in (None, ""):
        raise InputError(f"{where}: no value under patient_key={patient_key}")
    return str(record[patient_key])


def _read_jsonl(path: Path, text_key: str, patient_key: str | None,
                skips: SkipReport, shard: Shard) -> Iterator[NoteRecord]:
    def blank(number: int) -> None:
        skips.skip("blank_line", path, number, by_design=True)

    part = shard.part(path)
    position = part.records_ahead
    for number, where, record in json_lines(path, on_blank=blank, lines=part.lines):
        if not isinstance(record, dict):
            kind = _JSON_TYPES.get(type(record), "another value")
            raise InputError(f"{where}: not a JSON object but {kind}")
        if not isinstance(record.get(text_key), str):
            raise InputError(f"{where}: no string under text_key={text_key}")
        yield NoteRecord(id=f"{path.name}:{number}", text=record[text_key],
                         patient=_patient(record, patient_key, where), fields=record, position=position)
        position += 1


def _read_delimited(path: Path, delimiter: str, text_column: str, patient_key: str | None,
                    skips: SkipReport, shard: Shard) -> Iterator[NoteRecord]:
    """Every row of a CSV/TSV file (of the shard's part) through the project's one checked reader; a
    row it cannot read stops the run (a de-identification run never skips a note, nor passes one
    through)."""
    rows = read_delimited_rows(path, delimiter)
    header = next(rows).cells
    _check_header(path, header, text_column, patient_key)
    mine = shard.part(path, to_end=True).line_numbers() if shard.count > 1 else None
    position = 0
    for row in rows:
        if mine is not None and row.line not in mine:
            if row.line >= mine.stop:
                return
            position += not row.blank  # another shard's note
            continue
        where = location(path, row.line)
        if row.problems:
            raise InputError(f"{where}: {_describe(row.problems)}; fix the file (a de-identification run "
                             f"reads every note or none)")
        if row.blank:
            skips.skip("blank_line", path, row.line, by_design=True)
            continue
        if any(not cell.isascii() and has_surrogates(cell) for cell in row.cells):
            raise InputError(f"{where}: not UTF-8 (a bad byte in this row)")
        fields = dict(zip(header, row.cells, strict=True))
        yield NoteRecord(id=f"{path.name}:{row.line}", text=fields[text_column],
                         patient=_patient(fields, patient_key, where), fields=fields, position=position)
        position += 1


def _check_header(path: Path, header: list[str], text_column: str, patient_key: str | None) -> None:
    """The named columns are there, and no name is there twice. Never a cell in a message: in a
    file without a header line they are a note."""
    for setting, column in (("text_column", text_column), ("patient_key", patient_key)):
        if column is not None and column not in header:
            raise InputError(f"{location(path, 1)}: the header has no column {setting}={column} (a file "
                             f"without a header line cannot be read)")
    first: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if name in first:
            raise InputError(f"{location(path, 1)}: columns {first[name]} and {position} of the header have "
                             f"the same name; rename one (a row would lose one of its values)")
        first[name] = position


def _describe(problems: tuple[tuple[str, int], ...]) -> str:
    """Words for a row's problems (reasons from `gatortron_common.readers.DelimitedRow`)."""
    reason = problems[0][0]
    if reason == "unclosed_quote":
        swallowed = [line for _, line in problems[1:]]
        return (f"a quote opened in this row is never closed: it swallows the {len(swallowed)} row(s) "
                f"at lines {swallowed[0]}-{swallowed[-1]}")
    if reason.startswith("wrong_field_count:"):
        found, expected = reason.removeprefix("wrong_field_count:").split("!=")
        return f"the row has {found} fields, the header {expected}"
    return "not a readable CSV/TSV row (broken quoting)"


def _header(path: Path, delimiter: str) -> list[str]:
    with closing(read_delimited_rows(path, delimiter)) as rows:
        return next(rows).cells


def _layout(path: Path) -> tuple[bool, str]:
    """Whether the file starts with a UTF-8 byte order mark, and its line ending (from the header)."""
    with open(path, "rb") as handle:
        first = handle.readline()
    return first.startswith(codecs.BOM_UTF8), "\r\n" if first.endswith(b"\r\n") else "\n"


class RecordWriter:
    """Writes de-identified records in the input's layout; the output appears only when complete.

    Args:
        source: the input path (its header, delimiter and line endings are copied).
        target: the output path: a folder for txt input, a file otherwise.
        fmt: the input format.
        text_key: JSONL key of the note.
        text_column: CSV/TSV column of the note.
    """

    def __init__(self, source: Path, target: Path, fmt: str, text_key: str, text_column: str) -> None:
        self.source, self.target, self.fmt = source, target, fmt
        self.text_key, self.text_column = text_key, text_column
        self._stack = ExitStack()
        self._handle: TextIO | None = None
        self._writer: Any = None
        self._folder: Path | None = None
        self._documents: list[Document] = []

    @contextmanager
    def open(self) -> Iterator[RecordWriter]:
        with self._stack:
            if self.fmt == "txt" and self.source.is_dir():
                self._folder = self._stack.enter_context(atomic_directory(self.target))
            elif self.fmt != "i2b2_2014":
                self._handle = self._stack.enter_context(atomic_open(self.target, "w", encoding="utf-8",
                                                                     newline=""))
                if self.fmt in _DELIMITERS:
                    bom, line_ending = _layout(self.source)
                    if bom:
                        self._handle.write("\ufeff")  # the reader drops it; Excel wants it back
                    self._writer = csv.DictWriter(self._handle, delimiter=_DELIMITERS[self.fmt],
                                                  fieldnames=_header(self.source, _DELIMITERS[self.fmt]),
                                                  lineterminator=line_ending)
                    self._writer.writeheader()
            yield self
            if self.fmt == "i2b2_2014":

                write_corpus(self._documents, self.target, "i2b2_2014", allow_unknown=True)

    def write(self, record: NoteRecord, text: str, entities: list[Entity]) -> None:
        """Write `record` with its note replaced by `text`; `entities` are the PHI spans in `text`
        (kept where the format has annotations: i2b2 2014 XML)."""
        if self.fmt == "i2b2_2014":
            source = record.fields["document"]
            self._documents.append(Document(id=source.id, text=text, entities=entities,
                                            metadata=source.metadata))
        elif self._folder is not None:
            assert record.name is not None
            target = self._folder / record.name  # a relative path: the output mirrors the subfolders
            target.parent.mkdir(parents=True, exist_ok=True)
            write_text(target, text)
        elif self.fmt == "txt":
            assert self._handle is not None
            self._handle.write(text)
        elif self.fmt == "jsonl":
            assert self._handle is not None
            self._handle.write(json.dumps({**record.fields, self.text_key: text}, ensure_ascii=False) + "\n")
        else:
            self._writer.writerow({**record.fields, self.text_column: text})
