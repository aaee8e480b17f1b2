"""One work unit's documents through the chain: read, clean, de-duplicate, split into sentences,
tokenize and write (what a worker, or the only process, does with a unit)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from data_prep.clean import DOCUMENT_MARK, SENTENCE_MARK, clean_document, content_hash
from data_prep.config import SOURCE_FORMATS, DataPrepConfig
from data_prep.documents import DocumentTokenizer
from data_prep.encode import TextEncoder
from data_prep.indexed_writer import IndexedDatasetWriter
from data_prep.sentences import ClinicalSentenceSplitter
from data_prep.units import WorkUnit
from gatortron_common.logging import SkipReport
from gatortron_common.readers import read_documents
from tokenizer.vocab import Vocabulary

# Settings that change a part's bytes: a part is reused only when all of them match, and the
# vocabulary's content (not its path: a vocab.txt rebuilt in place is another vocabulary).
PART_SETTINGS = ("source", "text_key", "text_column", "min_document_chars", "max_document_chars", "dedup",
                 "strict")


@dataclass(frozen=True)
class VocabularyRef:
    """What a worker needs of the checked vocabulary (not its tokens: jobs are pickled)."""

    path: Path
    size: int
    lowercase: bool
    normalization: str
    identity: dict

    @classmethod
    def of(cls, vocabulary: Vocabulary) -> VocabularyRef:
        return cls(vocabulary.path, vocabulary.size, vocabulary.lowercase, vocabulary.normalization,
                   vocabulary.identity())


@dataclass(frozen=True)
class UnitJob:
    """Everything a worker needs to turn one unit into a dataset (picklable)."""

    unit: WorkUnit
    cfg: DataPrepConfig
    vocabulary: VocabularyRef

    def key(self) -> dict:
        """What decides the part's bytes (a complete part is reused only when it matches)."""
        settings = dataclasses.asdict(self.cfg)
        return {"unit": self.unit.describe(), **{key: settings[key] for key in PART_SETTINGS},
                "vocabulary": self.vocabulary.identity,
                "unicode_normalization": self.vocabulary.normalization}


@dataclass
class UnitResult:
    """What a unit gave besides its dataset: its skips, the characters read, the encoder used."""

    skips: SkipReport
    chars_in: int = 0
    backend: str = ""


class CleanDocument(NamedTuple):
    """A usable document of a unit: its cleaned text, content hash and where it came from."""

    text: str
    key: bytes
    source: str
    line: int


_ENCODERS: dict[tuple, TextEncoder] = {}  # one per process and vocabulary


def fill_unit(writer: IndexedDatasetWriter, job: UnitJob, progress: Callable[[int], object]) -> UnitResult:
    """Read, clean, de-duplicate, split, tokenize and write the documents of one unit;
    `progress` gets the characters done after each batch."""
    cfg, vocabulary = job.cfg, job.vocabulary
    key = (str(vocabulary.path), vocabulary.identity["sha256"], vocabulary.lowercase, cfg.tokenizer_backend)
    if key not in _ENCODERS:
        _ENCODERS[key] = TextEncoder(vocabulary.path, vocabulary.lowercase, cfg.tokenizer_backend,
                                     marks=(SENTENCE_MARK, DOCUMENT_MARK))
    encoder = _ENCODERS[key]
    tokenize = DocumentTokenizer(encoder, ClinicalSentenceSplitter())
    result = UnitResult(SkipReport(strict=cfg.strict), backend=encoder.backend)
    for batch in _batches(clean_documents(job, result), cfg.batch_chars):
        texts = [document.text for document in batch]
        ids, lengths, counts = tokenize(texts)
        empty = writer.add_documents(ids, lengths, counts, [document.key for document in batch])
        for index in empty:
            result.skips.skip("no_tokens", batch[index].source, batch[index].line)
        progress(sum(len(text) for text in texts))
    result.backend = encoder.backend
    return result


def clean_documents(job: UnitJob, result: UnitResult) -> Iterator[CleanDocument]:
    """The usable documents of the unit, cleaned; counts the characters of all cleaned documents
    long enough to keep (duplicates included, so the count does not depend on how the input was
    cut into units)."""
    cfg, skips = job.cfg, result.skips
    seen: set[bytes] = set()
    documents = read_documents(Path(job.unit.path), fmt=SOURCE_FORMATS[cfg.source], skips=skips,
                               text_key=cfg.text_key, text_column=cfg.text_column, lines=job.unit.lines)
    for document in documents:
        if len(document.text) > cfg.max_document_chars:
            skips.skip("longer_than_max_document_chars", document.source, document.line)
            continue
        text = clean_document(document.text, job.vocabulary.normalization)
        if len(text) < cfg.min_document_chars:
            skips.skip("shorter_than_min_document_chars", document.source, document.line, by_design=True)
            continue
        result.chars_in += len(text)
        key = content_hash(text)
        if cfg.dedup:
            if key in seen:
                skips.skip("duplicate", document.source, document.line, by_design=True)
                continue
            seen.add(key)
        yield CleanDocument(text, key, document.source, document.line)


def _batches(documents: Iterator[CleanDocument], max_chars: int) -> Iterator[list[CleanDocument]]:
    """Documents in batches of at least `max_chars` characters (the last one may be smaller)."""
    batch: list[CleanDocument] = []
    chars = 0
    for document in documents:
        batch.append(document)
        chars += len(document.text)
        if chars >= max_chars:
            yield batch
            batch, chars = [], 0
    if batch:
        yield batch
