"""NeMo token classification: `text_{split}.txt` (one sentence of space-separated words per line)
and `labels_{split}.txt` (the matching BIO labels) in one directory.

One `Document` per line: `id` = `text_<split>:<line>`, text = the words joined by single spaces,
entities from the labels. Writing splits each document's text at whitespace into words; spans
not on word boundaries widen to whole words and overlapping entities are left out (reported).
"""

from __future__ import annotations

from pathlib import Path

from finetune.corpora.document import Document
from finetune.corpora.formats import bio
from finetune.corpora.formats.common import checked, read_lines, require_directory
from finetune.corpora.formats.report import FormatReport
from gatortron_common.atomic import atomic_write_text
from gatortron_common.logging import InputError, location


def _check_split(split: str) -> None:
    if not split or any(char in split for char in "/\\\0"):
        raise InputError(f"nemo option split={split!r} cannot be part of a file name")


def read(path: Path, report: FormatReport, *, split: str = "train", gold: bool = True) -> list[Document]:
    """Read `text_<split>.txt` and `labels_<split>.txt` from directory `path`.

    Args:
        path: the directory.
        report: `I-` labels without a `B-` are noted here.
        split: train, dev, test (or any name used in the file names).
        gold: a missing labels file is an error; with False the sentences have no entities.

    Raises:
        InputError: missing files, line counts that differ, or a line whose word and label counts
            differ (names the file and line).
    """
    _check_split(split)
    require_directory(path, "nemo")
    text_file, labels_file = path / f"text_{split}.txt", path / f"labels_{split}.txt"
    if not text_file.is_file():
        raise InputError(f"{text_file}: missing (nemo split {split})")
    sentences = read_lines(text_file)
    if not labels_file.is_file():
        if gold:
            raise InputError(f"{labels_file}: missing (gold=false reads text_{split}.txt alone)")
        return [Document(id=f"{text_file.stem}:{number}", text=" ".join(line.split()))
                for number, line in enumerate(sentences, start=1)]
    label_lines = read_lines(labels_file)
    if len(label_lines) != len(sentences):
        raise InputError(f"{labels_file}: {len(label_lines)} lines, but {text_file.name} has "
                         f"{len(sentences)}")
    documents = []
    for number, (line, label_line) in enumerate(zip(sentences, label_lines, strict=True), start=1):
        words, labels = line.split(), label_line.split()
        if len(words) != len(labels):
            raise InputError(f"{location(labels_file, number)}: {len(labels)} labels for {len(words)} words "
                             f"in {location(text_file.name, number)}")
        text, entities = bio.sentence(words, labels, location(labels_file, number), report)
        documents.append(Document(id=f"{text_file.stem}:{number}", text=text, entities=entities))
    return documents


def write(documents: list[Document], path: Path, report: FormatReport, *, split: str = "train") -> int:
    """Write `text_<split>.txt` and `labels_<split>.txt` into directory `path`, one line per document.

    Each file is replaced atomically; other splits in the directory are left alone.
    """
    _check_split(split)
    if path.exists() and not path.is_dir():
        raise InputError(f"{path}: nemo output must be a directory, found a file")
    documents = checked(documents, unique_ids=False)
    text_lines, label_lines = [], []
    for document in documents:
        words, labels = bio.labels(document, report)
        text_lines.append(" ".join(words) + "\n")
        label_lines.append(" ".join(labels) + "\n")
    atomic_write_text(path / f"text_{split}.txt", "".join(text_lines))
    atomic_write_text(path / f"labels_{split}.txt", "".join(label_lines))
    return len(documents)
