"""Readers and writers for the clinical NER benchmark formats, all through one `Document` model.

    docs = read_corpus("i2b2_2014/train", "i2b2_2014")
    write_corpus(predictions, "out/xml", "i2b2_2014")

| format | path | one document per |
|---|---|---|
| jsonl | a .jsonl file | line (the canonical form) |
| i2b2_2010 | dir of .txt + .con (or the release's `txt/` + `concept/`) | file pair |
| i2b2_2012 | dir of .xml | file |
| i2b2_2014 | dir of .xml | file |
| brat | dir of .txt + .ann (n2c2 2018) | file pair |
| nemo | dir of text_{split}.txt + labels_{split}.txt | line (sentence) |
| conll | a file of `word ... label` lines | sentence |

Offsets are character offsets into `Document.text`, end exclusive, in every format. Each module's
docstring gives its entity conventions and options; `read_corpus`/`write_corpus` pass `**options`
on and reject unknown ones. What a reader or writer had to report (span-text mismatches, repairs
of malformed files, spans widened to tokens, skips) goes to a `FormatReport`: pass `report=` to
collect it, else it is logged. Writers replace their output (file or directory) atomically.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

from finetune.corpora.document import Document
from finetune.corpora.formats import brat, conll, i2b2_2010, i2b2_2012, i2b2_2014, jsonl, nemo
from finetune.corpora.formats.report import FormatReport
from gatortron_common.logging import InputError, get_logger

FORMATS: tuple[str, ...] = ("jsonl", "i2b2_2010", "i2b2_2012", "i2b2_2014", "brat", "nemo", "conll")
_MODULES: dict[str, ModuleType] = {"jsonl": jsonl, "i2b2_2010": i2b2_2010, "i2b2_2012": i2b2_2012,
                                   "i2b2_2014": i2b2_2014, "brat": brat, "nemo": nemo, "conll": conll}
_logger = get_logger(__name__)

__all__ = ["FORMATS", "FormatReport", "read_corpus", "write_corpus", "options_of", "without_annotations"]

# Metadata parts that are annotations of their own (they name the source's entity ids): brat's
# A/E/M/N lines, i2b2 2012's TLINK/SECTIME tags, and the order they were interleaved in.
_ANNOTATION_METADATA: dict[str, tuple[str, ...]] = {brat.METADATA_KEY: ("other_lines", "order"),
                                                    i2b2_2012.METADATA_KEY: ("other_tags", "order")}


def without_annotations(metadata: dict[str, Any]) -> dict[str, Any]:
    """A document's metadata less the annotations it carries, for writing predictions over its text
    (what is left keeps the file's own layout, e.g. XML whitespace, CoNLL -DOCSTART- lines)."""
    kept: dict[str, Any] = {}
    for key, value in metadata.items():
        dropped = _ANNOTATION_METADATA.get(key, ())
        value = {k: v for k, v in value.items() if k not in dropped} if isinstance(value, dict) else value
        if value or key not in _ANNOTATION_METADATA:
            kept[key] = value
    return kept


def _module(fmt: str) -> ModuleType:
    if fmt not in _MODULES:
        raise InputError(f"unknown format {fmt!r}; known formats: {', '.join(FORMATS)}")
    return _MODULES[fmt]


def options_of(fmt: str, direction: str) -> dict[str, Any]:
    """The options (with defaults) a format's reader (`direction="read"`) or writer accepts."""
    function = getattr(_module(fmt), direction)
    return {name: parameter.default for name, parameter in inspect.signature(function).parameters.items()
            if parameter.kind is inspect.Parameter.KEYWORD_ONLY}


def _call(fmt: str, direction: str, function: Callable[..., Any], options: dict[str, Any], *args: Any) -> Any:
    known = options_of(fmt, direction)
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise InputError(f"format {fmt} has no {direction} option {', '.join(unknown)} "
                         f"(known: {', '.join(known) or 'none'})")
    return function(*args, **options)


def read_corpus(path: str | Path, fmt: str, *, strict: bool = False, report: FormatReport | None = None,
                **options: Any) -> list[Document]:
    """Read a corpus in `fmt` into documents.

    Args:
        path: directory or file, as the format wants (see the module docstring's table).
        fmt: one of `FORMATS`.
        strict: span-text mismatches and skipped entities raise `InputError` instead of being counted.
        report: collects what was noted; when None, a summary is logged instead.
        **options: format options (e.g. i2b2_2012 `tags`, `types`; nemo `split`; i2b2_2010 `gold`).

    Raises:
        InputError: unknown format or option, missing input, or input that cannot be read.
    """
    module = _module(fmt)
    source = Path(path)
    if not source.exists():
        raise InputError(f"{source}: {fmt} input does not exist")
    own_report = report is None
    report = FormatReport(strict=strict) if report is None else report
    report.strict = report.strict or strict
    documents = _call(fmt, "read", module.read, options, source, report)
    _logger.info("read %d document(s), %d entities from %s (%s)", len(documents),
                 sum(len(d.entities) for d in documents), source, fmt)
    if own_report:
        report.log_summary(_logger)
    return documents


def write_corpus(documents: Iterable[Document], path: str | Path, fmt: str, *,
                 report: FormatReport | None = None, **options: Any) -> None:
    """Write documents in `fmt`, replacing `path` atomically.

    Args:
        documents: what to write; ids name the files of file-per-document formats.
        path: output directory or file, as the format wants.
        fmt: one of `FORMATS`.
        report: collects adjustments (spans widened to token boundaries, discontinuous spans
            joined, overlapping entities left out of BIO labels); when None they are logged.
        **options: format options (e.g. nemo `split`).

    Raises:
        InputError: unknown format or option, or documents the format cannot hold.
    """
    module = _module(fmt)
    own_report = report is None
    report = FormatReport() if report is None else report
    count = _call(fmt, "write", module.write, options, list(documents), Path(path), report)
    _logger.info("wrote %d document(s) to %s (%s)", count, path, fmt)
    if own_report:
        report.log_summary(_logger)
