"""Where a corpus may be written, and writing it there: the one output rule
(`gatortron_common.outputs`) for corpus formats, shared by `finetune.convert` and `finetune.predict`."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from finetune.corpora.document import Document
from finetune.corpora.formats import FormatReport, write_corpus
from gatortron_common.logging import InputError
from gatortron_common.outputs import check_output_path, replacing

FILE_FORMATS = ("jsonl", "conll")  # written as one file; the other formats as a directory
NEMO_FILE = re.compile(r"(text|labels)_[^/]+\.txt")


def output_kind(fmt: str) -> str:
    """What a format's writer writes: "file" (jsonl, conll) or "directory"."""
    return "file" if fmt in FILE_FORMATS else "directory"


def is_nemo_directory(path: Path) -> bool:
    """A directory holding nothing but NeMo split files (`text_<split>.txt`, `labels_<split>.txt`)."""
    return path.is_dir() and all(entry.is_file() and NEMO_FILE.fullmatch(entry.name)
                                 for entry in path.iterdir())


def check_output(output: Path, output_format: str, overwrite: bool, inputs: list[str | Path],
                 write_options: dict[str, Any] | None = None) -> None:
    """The one output rule for a corpus written in `output_format` (before any work): never an input,
    a path holding one or inside one; an existing output only with overwrite=true (nothing is this
    stage's own earlier output); a file where a directory is written, or the reverse, likewise.
    NeMo adds a split to a directory of NeMo files: refused only if that split is there already."""
    if output_format == "nemo" and is_nemo_directory(output) and not overwrite:
        split = (write_options or {}).get("split", "train")
        if any((output / f"{part}_{split}.txt").exists() for part in ("text", "labels")):
            raise InputError(f"output={output} already holds the nemo {split} split; pass overwrite=true to "
                             f"replace that split (the other splits are kept)")
    own = is_nemo_directory if output_format == "nemo" else (lambda _: False)
    check_output_path(output, "output", overwrite, own, inputs=inputs, what=f"{output_format} output",
                      kind=output_kind(output_format), within_inputs=True)


def write_output(documents: Iterable[Document], output: Path, output_format: str,
                 report: FormatReport | None = None, **options: Any) -> None:
    """Write a corpus `check_output` allowed: in place of whatever is at `output`, except a NeMo split
    added to a NeMo directory (the writer replaces that split's two files only)."""
    if output_format == "nemo" and is_nemo_directory(output):
        write_corpus(documents, output, output_format, report=report, **options)
        return
    with replacing(output) as staging:
        write_corpus(documents, staging, output_format, report=report, **options)
