"""Parallel, memory-bounded word counting over a text stream.

Workers (processes: counting is CPU-bound Python) count BERT words in batches; the parent
merges their tables and prunes the rarest words whenever the table outgrows its bound, so
memory depends on the bound, not on the corpus.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from multiprocessing import get_context
from multiprocessing.queues import Queue

from tokenizer.words import count_words, normalize_text, preload_unicode_tables

BATCH_CHARS = 1 << 20


@dataclass
class WordTable:
    """Word counts plus how they were obtained."""

    counts: Counter = field(default_factory=Counter)
    words_counted: int = 0
    prunes: int = 0


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _batches(texts: Iterable[str], batch_chars: int) -> Iterable[list[str]]:
    batch, size = [], 0
    for text in texts:
        batch.append(text)
        size += len(text)
        if size >= batch_chars:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _count_batch(batch: list[str], lowercase: bool, unicode_form: str, counts: Counter) -> None:
    # One call per batch, not per document: per-call overhead dominated on short notes. A newline
    # between documents is whitespace, so no word spans two documents.
    count_words(normalize_text("\n".join(batch), unicode_form), lowercase, counts)


def _prune(counts: Counter, max_table_words: int) -> Counter:
    """Keep the most frequent half of the bound once the table outgrows it."""
    if len(counts) <= max_table_words:
        return counts
    return Counter(dict(counts.most_common(max_table_words // 2)))


def _count_worker(batches: Queue, results: Queue, lowercase: bool, unicode_form: str,
                  max_table_words: int) -> None:
    # Each worker keeps its own table and sends it once at the end: shipping a table per
    # batch made the parent's unpickling and merging the bottleneck.
    counts: Counter = Counter()
    prunes = 0
    while (batch := batches.get()) is not None:
        _count_batch(batch, lowercase, unicode_form, counts)
        if len(counts) > max_table_words:
            counts = _prune(counts, max_table_words)
            prunes += 1
    results.put((counts, prunes))


def count_corpus_words(texts: Iterable[str], lowercase: bool, unicode_form: str, workers: int,
                       max_table_words: int) -> WordTable:
    """Count the BERT words of `texts`.

    Args:
        texts: the documents (consumed once, streaming).
        lowercase: count lowercased, accent-stripped words (uncased vocabulary).
        unicode_form: Unicode normalization applied first ("NFKC" or "").
        workers: counting processes; 1 counts in this process.
        max_table_words: distinct words kept per table; beyond it the rarest half is dropped.
    """
    table = WordTable()
    if workers <= 1:
        for batch in _batches(texts, BATCH_CHARS):
            _count_batch(batch, lowercase, unicode_form, table.counts)
            if len(table.counts) > max_table_words:
                table.counts = _prune(table.counts, max_table_words)
                table.prunes += 1
    else:
        preload_unicode_tables()  # once here, inherited by the forked workers
        context = get_context("fork")
        # A bounded queue keeps memory flat: the reader waits while workers are busy.
        batches: Queue = context.Queue(maxsize=2 * workers)
        results: Queue = context.Queue()
        processes = [context.Process(target=_count_worker, daemon=True,
                                     args=(batches, results, lowercase, unicode_form, max_table_words))
                     for _ in range(workers)]
        for process in processes:
            process.start()
        try:
            for batch in _batches(texts, BATCH_CHARS):
                batches.put(batch)
            for _ in processes:
                batches.put(None)
            for _ in processes:
                counts, prunes = results.get()
                table.counts.update(counts)
                table.prunes += prunes
            for process in processes:
                process.join()
        finally:
            for process in processes:
                if process.is_alive():
                    process.terminate()
        if len(table.counts) > max_table_words:
            table.counts = _prune(table.counts, max_table_words)
            table.prunes += 1
    table.words_counted = table.counts.total()
    return table


def alphabet_from_counts(counts: Counter, coverage: float) -> list[str]:
    """Characters of the counted words, most frequent first, covering `coverage` of all
    character occurrences; ASCII characters seen are always kept."""
    ascii_chars = {char for char in set("".join(counts)) if char.isascii()}
    other: Counter = Counter()
    total = 0
    for word, count in counts.items():
        total += len(word) * count
        if not word.isascii():
            for char in word:
                if not char.isascii():
                    other[char] += count
    kept = sorted(ascii_chars)
    missing = sum(other.values())
    for char, count in sorted(other.items(), key=lambda item: (-item[1], item[0])):
        if total and (total - missing) / total >= coverage:
            break
        kept.append(char)
        missing -= count
    return kept
