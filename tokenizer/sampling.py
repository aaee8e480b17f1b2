"""Uniform, bounded sampling of a corpus stream into a training sample and a held-out set.

The corpus is read once, streaming; each document is kept with a fixed probability chosen
from the byte budget and the corpus size, so the sample spreads over every file (not just
the first ones) and its size does not grow with the corpus.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from gatortron_common.logging import SkipReport
from gatortron_common.readers import estimated_text_bytes, read_documents

# Never hold out more than this share of the corpus for quality measurement.
MAX_HELDOUT_RATE = 0.05
# Plain text without blank lines is sampled in pieces of this size (document boundaries do
# not matter for a vocabulary; a fine grain keeps sampling uniform and workers busy).
SAMPLING_GRAIN_CHARS = 1 << 18


@dataclass
class SampleStats:
    """What the sampler saw and kept (sizes in characters of document text)."""

    files: int = 0
    corpus_bytes_estimate: int = 0
    documents_read: int = 0
    chars_read: int = 0
    train_documents: int = 0
    train_chars: int = 0
    heldout_documents: int = 0
    heldout_chars: int = 0


@dataclass
class CorpusSampler:
    """Stream (is_heldout, text) pairs from `files`.

    Args:
        files: input files.
        sample_bytes: expected size of the training sample; 0 keeps everything.
        heldout_bytes: size of the held-out set (at most MAX_HELDOUT_RATE of the corpus).
        seed: sampling seed; the same seed and inputs give the same sample.
        reader_options: keyword arguments for `read_documents` (fmt, text_key, text_column).
        skips: where bad records are counted.
        progress: show a progress bar over the corpus.
    """

    files: Sequence[Path]
    sample_bytes: int
    heldout_bytes: int
    seed: int
    reader_options: dict
    skips: SkipReport
    progress: bool = True

    def __post_init__(self) -> None:
        self.stats = SampleStats(files=len(self.files),
                                 corpus_bytes_estimate=sum(estimated_text_bytes(f) for f in self.files))

    def __iter__(self) -> Iterator[tuple[bool, str]]:
        stats, rng = self.stats, random.Random(self.seed)
        total = max(1, stats.corpus_bytes_estimate)
        heldout_rate = min(MAX_HELDOUT_RATE, self.heldout_bytes / total)
        remaining = total * (1 - heldout_rate)
        keep_rate = 1.0 if self.sample_bytes <= 0 else min(1.0, self.sample_bytes / remaining)
        with tqdm(total=total, unit="B", unit_scale=True, desc="sampling corpus", mininterval=1.0,
                  disable=None if self.progress else True) as bar:
            for path in self.files:
                documents = read_documents(path, skips=self.skips, max_document_chars=SAMPLING_GRAIN_CHARS,
                                           **self.reader_options)
                for document in documents:
                    size = len(document.text)
                    stats.documents_read += 1
                    stats.chars_read += size
                    if stats.documents_read % 1024 == 0:  # a bar update per document costs more than reading
                        bar.update(stats.chars_read - bar.n)
                    draw = rng.random()
                    if draw < heldout_rate and stats.heldout_chars < self.heldout_bytes:
                        stats.heldout_documents += 1
                        stats.heldout_chars += size
                        yield True, document.text
                    elif rng.random() < keep_rate:
                        stats.train_documents += 1
                        stats.train_chars += size
                        yield False, document.text
            bar.update(stats.chars_read - bar.n)
