"""The span file beside every de-identified output: where the PHI was, never what it said.

- `jsonl` (default): one line per span: document, record (0-based position in the input), start,
  end (offsets in the input text), category, subtype, score, sources (`model`, `rule:<name>`).
- `brat`: a folder with one `<note>.ann` per note: `T1<TAB>PATIENT 10 20<TAB>` (the text column
  left empty) and an `AnnotatorNotes` line with category, score and sources. A .txt note in a
  subfolder gets its .ann in the same subfolder (`sub/a.txt` -> `sub/a.ann`); other notes are
  named by their record id (`notes.csv_12.ann`).
With `include_text=true` each span also carries its text (PHI: off by default).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import TextIO

from finetune.deid.records import NoteRecord
from finetune.deid.rules import PhiSpan
from gatortron_common.atomic import atomic_directory, atomic_open
from gatortron_common.logging import InputError

SPAN_FORMATS: tuple[str, ...] = ("jsonl", "brat")
_UNSAFE = re.compile(r"[^\w.-]")


class SpanWriter:
    """Writes the spans of each note, whole or not at all (temporary file or folder, then renamed).

    Args:
        path: the JSONL file, or the brat folder.
        fmt: `jsonl` or `brat`.
        include_text: add each span's text.
    """

    def __init__(self, path: Path, fmt: str, include_text: bool) -> None:
        self.path, self.fmt, self.include_text = path, fmt, include_text
        self._handle: TextIO | None = None
        self._folder: Path | None = None
        self._names: set[str] = set()

    @contextmanager
    def open(self) -> Iterator[SpanWriter]:
        if self.fmt == "brat":
            with atomic_directory(self.path) as folder:
                self._folder = folder
                yield self
        else:
            with atomic_open(self.path, "w", encoding="utf-8") as handle:
                self._handle = handle
                yield self

    def write(self, record: NoteRecord, position: int, spans: Sequence[PhiSpan]) -> None:
        """The spans of one note (`position`: its 0-based place in the input)."""
        if self._folder is not None:
            path = self._folder / f"{self._ann_name(record)}.ann"
            path.parent.mkdir(parents=True, exist_ok=True)
            lines = []
            for number, span in enumerate(spans, start=1):
                text = record.text[span.start:span.end].replace("\n", " ") if self.include_text else ""
                lines.append(f"T{number}\t{span.subtype} {span.start} {span.end}\t{text}")
                lines.append(f"#{number}\tAnnotatorNotes T{number}\tcategory={span.category} "
                             f"score={span.score:.4f} sources={','.join(span.sources)}")
            path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
            return
        assert self._handle is not None
        for span in spans:
            line = {"document": record.id, "record": position, "start": span.start, "end": span.end,
                    "category": span.category, "subtype": span.subtype, "score": round(span.score, 4),
                    "sources": list(span.sources)}
            if self.include_text:
                line["text"] = record.text[span.start:span.end]
            self._handle.write(json.dumps(line, ensure_ascii=False) + "\n")

    def _ann_name(self, record: NoteRecord) -> str:
        """The .ann file's path without suffix, relative to the folder; never one used before."""
        name = str(PurePosixPath(record.name).with_suffix("")) if record.name else _UNSAFE.sub("_", record.id)
        if name in self._names:
            raise InputError(f"{record.id}: its span file {name}.ann would replace another note's; "
                             f"rename one of the notes")
        self._names.add(name)
        return name
