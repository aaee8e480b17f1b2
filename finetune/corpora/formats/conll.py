"""CoNLL-style token files: one `word ... label` line per word (the label is the last column),
a blank line between sentences, `-DOCSTART-` lines tolerated.

One `Document` per sentence: `id` = `<file stem>:<line of its first word>`, text = the words joined
by single spaces, entities from the BIO labels. Middle columns (POS, chunk), a tab separator and a
preceding `-DOCSTART-` line are kept in `Document.metadata["conll"]` and written back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from finetune.corpora.document import Document
from finetune.corpora.formats import bio
from finetune.corpora.formats.common import checked, read_text, require_file
from finetune.corpora.formats.report import SKIP, FormatReport
from gatortron_common.atomic import atomic_write_text
from gatortron_common.logging import InputError, location

METADATA_KEY = "conll"
DOCSTART = "-DOCSTART-"


class _Sentence:
    def __init__(self, line: int, docstart: str | None) -> None:
        self.line = line
        self.docstart = docstart
        self.words: list[str] = []
        self.labels: list[str] = []
        self.middle: list[list[str]] = []
        self.tab = False


def read(path: Path, report: FormatReport) -> list[Document]:
    """Read every sentence of a CoNLL file.

    Args:
        path: the file.
        report: `I-` labels without a `B-` are noted here.

    Raises:
        InputError: a line with fewer than two columns or a label that is not BIO (names file:line).
    """
    require_file(path, "conll")
    documents: list[Document] = []
    current: _Sentence | None = None
    docstart: str | None = None
    for number, line in enumerate(read_text(path).split("\n"), start=1):
        line = line.rstrip("\r")
        columns = line.split()
        if not columns or columns[0] == DOCSTART:
            if current is not None:
                documents.append(_document(path, current, report))
                current = None
            if columns:
                docstart = line
            continue
        if len(columns) < 2:
            raise InputError(f"{location(path, number)}: expected a word and a label")
        if current is None:
            current, docstart = _Sentence(number, docstart), None
        current.words.append(columns[0])
        current.labels.append(columns[-1])
        current.middle.append(columns[1:-1])
        current.tab = current.tab or "\t" in line
    if current is not None:
        documents.append(_document(path, current, report))
    return documents


def _document(path: Path, sentence: _Sentence, report: FormatReport) -> Document:
    text, entities = bio.sentence(sentence.words, sentence.labels, location(path, sentence.line), report)
    kept: dict[str, Any] = {}
    if sentence.docstart is not None:
        kept["docstart"] = sentence.docstart
    if any(sentence.middle):
        kept["columns"] = sentence.middle
    if sentence.tab:
        kept["sep"] = "\t"
    return Document(id=f"{path.stem}:{sentence.line}", text=text, entities=entities,
                    metadata={METADATA_KEY: kept} if kept else {})


def write(documents: list[Document], path: Path, report: FormatReport) -> int:
    """Write all documents to one CoNLL file (replaced atomically), one sentence per document.

    A document without any word is left out (a blank sentence cannot be told from a separator)
    and reported; see `bio.labels` for how spans become word labels.
    """
    if path.is_dir():
        raise InputError(f"{path}: conll output must be a file, found a directory")
    documents = checked(documents, unique_ids=False)
    parts: list[str] = []
    written = 0
    for document in documents:
        words, labels = bio.labels(document, report)
        if not words:
            report.note(SKIP, "document without words left out", f"document {document.id}")
            continue
        kept = document.metadata.get(METADATA_KEY) or {}
        sep = str(kept.get("sep", " "))
        middle = kept.get("columns")
        if middle is not None and len(middle) != len(words):
            middle = None  # the words changed; the kept columns no longer line up
        if kept.get("docstart"):
            parts.append(f"{kept['docstart']}\n\n")
        for index, (word, label) in enumerate(zip(words, labels, strict=True)):
            columns = [word, *(middle[index] if middle else []), label]
            parts.append(sep.join(columns) + "\n")
        parts.append("\n")
        written += 1
    atomic_write_text(path, "".join(parts))
    return written

