"""The canonical JSONL form (one `Document` per line), via `finetune.corpora.document`."""

from __future__ import annotations

from pathlib import Path

from finetune.corpora.document import Document, read_jsonl, write_jsonl
from finetune.corpora.formats.common import require_file
from finetune.corpora.formats.report import FormatReport


def read(path: Path, report: FormatReport) -> list[Document]:
    """All documents of a JSONL file (bad lines and offsets raise `InputError` with `file:line`)."""
    require_file(path, "jsonl")
    return list(read_jsonl(path))


def write(documents: list[Document], path: Path, report: FormatReport) -> int:
    """Write documents to one JSONL file, atomically; returns how many."""
    documents = list(documents)
    for document in documents:
        document.check_offsets(f"document {document.id}")
    return write_jsonl(documents, path)
