"""Notes in, notes out, in the input's own layout: a folder of .txt files, CSV/TSV, JSONL, or a folder
of i2b2 2014 XML files.

Only the note text of each record changes; every other column or key, the row order, the header,
the delimiter and the file names stay as they were. i2b2 2014 XML comes out as a de-identified
corpus: each file's TEXT replaced and its TAGS the PHI found, at their offsets in the new text.
Outputs are written to a temporary path and renamed into place when whole. A record whose text
cannot be found (a missing column or key, a value that is not a string) is an error naming file and
line: a de-identification tool must never pass a note through untouched.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from finetune.document import Document, Entity, json_lines
from finetune.formats.common import read_text, write_text
from gatortron_common.atomic import atomic_directory, atomic_open
from gatortron_common.logging import InputError, location

FORMATS: tuple[str, ...] = ("txt", "jsonl", "csv", "tsv", "i2b2_2014")
_DELIMITERS = {"csv": ",", "tsv": "\t"}


@dataclass
class NoteRecord:
    """One note and what is needed to write it back.

    Args:
        id: a stable name for span files (`file` for txt, `file:line` for rows and lines; a row's
            first line).
        text: the note text.
        patient: the value under the patient key, when one is set (surrogates consistent per patient).
        fields: the whole row / object (csv, tsv, jsonl); the text is replaced in it on output.
        name: the file name (txt).
    """

    id: str
    text: str
    patient: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    name: str | None = None


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


def _text_files(path: Path) -> list[Path]:
    files = [path] if path.is_file() else sorted(path.glob("*.txt"))
    if not files:
        raise InputError(f"input={path}: no .txt files")
    return files


def read_records(path: Path, fmt: str, text_key: str = "text", text_column: str = "NOTE_TEXT",
                 patient_key: str | None = None) -> Iterator[NoteRecord]:
    """The notes of `path`, streamed.

    Args:
        path: a .txt file or a folder of them, or a .jsonl / .csv / .tsv file.
        fmt: one of `FORMATS`.
        text_key: JSONL key holding the note.
        text_column: CSV/TSV column holding the note.
        patient_key: key / column naming the patient (not for txt).
    """
    if fmt == "txt":
        if patient_key is not None:
            raise InputError("patient_key: .txt notes have no fields; use CSV/TSV or JSONL")
        for file in _text_files(path):
            yield NoteRecord(id=file.name, text=read_text(file), name=file.name)
    elif fmt == "i2b2_2014":
        if patient_key is not None:
            raise InputError("patient_key: i2b2 2014 XML has no patient field")
        from finetune.formats import read_corpus

        for document in read_corpus(path, "i2b2_2014", allow_unknown=True):
            yield NoteRecord(id=document.id, text=document.text, fields={"document": document})
    elif fmt == "jsonl":
        yield from _read_jsonl(path, text_key, patient_key)
    elif fmt in _DELIMITERS:
        yield from _read_delimited(path, _DELIMITERS[fmt], text_column, patient_key)
    else:
        raise InputError(f"input_format={fmt}: expected one of {', '.join(FORMATS)}")


def _patient(record: dict[str, Any], patient_key: str | None, where: str) -> str | None:
    if patient_key is None:
        return None
    if record.get(patient_key) in (None, ""):
        raise InputError(f"{where}: no value under patient_key={patient_key}")
    return str(record[patient_key])


def _read_jsonl(path: Path, text_key: str, patient_key: str | None) -> Iterator[NoteRecord]:
    for number, where, record in json_lines(path):
        if not isinstance(record, dict) or not isinstance(record.get(text_key), str):
            raise InputError(f"{where}: no string under text_key={text_key}")
        yield NoteRecord(id=f"{path.name}:{number}", text=record[text_key],
                         patient=_patient(record, patient_key, where), fields=record)


def _read_delimited(path: Path, delimiter: str, text_column: str,
                    patient_key: str | None) -> Iterator[NoteRecord]:
    csv.field_size_limit(sys.maxsize)  # a note can be far longer than csv's 128 KB default
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        with _named_errors(path, 1):
            header = reader.fieldnames
        # The first line's values (in a headerless file: note text) never go into a message.
        for setting, column in (("text_column", text_column), ("patient_key", patient_key)):
            if column is not None and (header is None or column not in header):
                raise InputError(f"{location(path, 1)}: the header has no column {setting}={column} (a file "
                                 f"without a header line cannot be read)")
        end, rows = reader.line_num, iter(reader)
        while True:
            with _named_errors(path, end + 1):
                row = next(rows, None)
            if row is None:
                break
            start, end = end + 1, reader.line_num  # a quoted note spans lines: name the row by its first
            where = location(path, start)
            if None in row or any(value is None for value in row.values()):
                raise InputError(f"{where}: the row has a different number of fields than the header")
            yield NoteRecord(id=f"{path.name}:{start}", text=row[text_column],
                             patient=_patient(row, patient_key, where), fields=row)


@contextmanager
def _named_errors(path: Path, line: int) -> Iterator[None]:
    """Undecodable bytes and unreadable rows as an `InputError` naming the row's first line."""
    try:
        yield
    except UnicodeDecodeError:
        raise InputError(f"{location(path, line)}: not UTF-8 (a bad byte in this row or soon "
                         f"after it)") from None
    except csv.Error:
        raise InputError(f"{location(path, line)}: not a readable CSV/TSV row (broken quoting or a NUL "
                         f"byte)") from None


def _line_ending(path: Path) -> str:
    with open(path, "rb") as handle:
        return "\r\n" if b"\r\n" in handle.readline() else "\n"


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
                    with open(self.source, encoding="utf-8", newline="") as handle:
                        header = next(csv.reader(handle, delimiter=_DELIMITERS[self.fmt]))
                    self._writer = csv.DictWriter(self._handle, fieldnames=header,
                                                  delimiter=_DELIMITERS[self.fmt],
                                                  lineterminator=_line_ending(self.source))
                    self._writer.writeheader()
            yield self
            if self.fmt == "i2b2_2014":
                from finetune.formats import write_corpus

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
            write_text(self._folder / record.name, text)
        elif self.fmt == "txt":
            assert self._handle is not None
            self._handle.write(text)
        elif self.fmt == "jsonl":
            assert self._handle is not None
            self._handle.write(json.dumps({**record.fields, self.text_key: text}, ensure_ascii=False) + "\n")
        else:
            self._writer.writerow({**record.fields, self.text_column: text})
