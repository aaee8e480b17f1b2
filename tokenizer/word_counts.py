"""Parallel, memory-bounded word counting over a text stream.

Workers (processes: counting is CPU-bound Python) count BERT words in batches; the parent
merges their tables and prunes the rarest words whenever the table outgrows its bound, so
memory depends on the bound, not on the corpus. Optionally each word's document frequency is
counted too (how many documents hold it), so words of a single patient can be kept out of the
vocabulary. A worker that dies (e.g. killed for memory) ends the count with a clear error.
"""

from __future__ import annotations

import os
import queue
import signal
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing import get_context
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue

from gatortron_common.lifetime import end_with_parent
from gatortron_common.logging import InputError
from tokenizer.words import count_words, normalize_text, preload_unicode_tables

BATCH_CHARS = 1 << 20
# How often the parent checks that its workers are still alive while it waits on them.
LIVENESS_POLL_SECONDS = 0.5


@dataclass
class WordTable:
    """Word counts plus how they were obtained."""

    counts: Counter = field(default_factory=Counter)
    documents: Counter | None = None  # word -> documents holding it, when asked for
    words_counted: int = 0
    prunes: int = 0


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


def _count_batch(batch: list[str], lowercase: bool, unicode_form: str, counts: Counter,
                 documents: Counter | None) -> None:
    if documents is None:
        # One call per batch, not per document: per-call overhead dominated on short notes. A newline
        # between documents is whitespace, so no word spans two documents.
        count_words(normalize_text("\n".join(batch), unicode_form), lowercase, counts)
        return
    # Document frequencies need each document's distinct words: about twice the time of the above.
    for text in batch:
        words = count_words(normalize_text(text, unicode_form), lowercase)
        counts.update(words)
        documents.update(words.keys())


def _prune(counts: Counter, documents: Counter | None,
           max_table_words: int) -> tuple[Counter, Counter | None]:
    """Keep the most frequent half of the bound once the table outgrows it (the same words in both
    tables: a pruned word's document count could only be too low, which keeps it out, never in)."""
    if len(counts) <= max_table_words:
        return counts, documents
    kept = Counter(dict(counts.most_common(max_table_words // 2)))
    if documents is not None:
        documents = Counter({word: documents[word] for word in kept})
    return kept, documents


def _received(batches: Queue) -> Iterator[list[str]]:
    """Batches until the end mark."""
    while (batch := batches.get()) is not None:
        yield batch


def _count_worker(batches: Queue, results: Queue, lowercase: bool, unicode_form: str,
                  max_table_words: int, with_documents: bool, parent: int) -> None:
    # A killed run leaves no workers behind. Polling the queue for the parent was not enough: a
    # worker can block for good reading a batch that the parent was killed while writing.
    end_with_parent(parent)
    # Each worker keeps its own table and sends it once at the end: shipping a table per
    # batch made the parent's unpickling and merging the bottleneck.
    table = WordTable(documents=Counter() if with_documents else None)
    _count_into(table, _received(batches), lowercase, unicode_form, max_table_words)
    results.put(table)


def _count_into(table: WordTable, batches: Iterable[list[str]], lowercase: bool, unicode_form: str,
                max_table_words: int) -> None:
    for batch in batches:
        _count_batch(batch, lowercase, unicode_form, table.counts, table.documents)
        if len(table.counts) > max_table_words:
            table.counts, table.documents = _prune(table.counts, table.documents, max_table_words)
            table.prunes += 1


def _describe_death(number: int, count: int, process: BaseProcess) -> str:
    code = process.exitcode or 0
    how = (f"was killed by {signal.Signals(-code).name}" if code < 0 and -code in signal.valid_signals()
           else f"exited with status {code}")
    hint = " (SIGKILL: most often the out-of-memory killer)" if code == -signal.SIGKILL else ""
    return (f"word-counting worker {number} of {count} (pid {process.pid}) {how}{hint}; lower workers= "
            f"or max_table_words=, or give the job more memory, and run again")


def _check_alive(processes: list[BaseProcess]) -> None:
    """Raise if a worker ended abnormally: its batches are lost and the others may never finish."""
    for number, process in enumerate(processes, start=1):
        if process.exitcode not in (None, 0):
            raise InputError(_describe_death(number, len(processes), process))


def _put(batches: Queue, item: list[str] | None, processes: list[BaseProcess]) -> None:
    while True:
        try:
            batches.put(item, timeout=LIVENESS_POLL_SECONDS)
            return
        except queue.Full:
            _check_alive(processes)


def _get(results: Queue, processes: list[BaseProcess]) -> WordTable:
    while True:
        try:
            return results.get(timeout=LIVENESS_POLL_SECONDS)
        except queue.Empty:
            _check_alive(processes)


def count_corpus_words(texts: Iterable[str], lowercase: bool, unicode_form: str, workers: int,
                       max_table_words: int, with_documents: bool = False) -> WordTable:
    """Count the BERT words of `texts`.

    Args:
        texts: the documents (consumed once, streaming).
        lowercase: count lowercased, accent-stripped words (uncased vocabulary).
        unicode_form: Unicode normalization applied first ("NFKC" or "").
        workers: counting processes; 1 counts in this process.
        max_table_words: distinct words kept per table; beyond it the rarest half is dropped.
        with_documents: also count each word's documents (`table.documents`).

    Raises:
        InputError: a worker process died (named, with its exit signal).
    """
    table = WordTable(documents=Counter() if with_documents else None)
    if workers <= 1:
        _count_into(table, _batches(texts, BATCH_CHARS), lowercase, unicode_form, max_table_words)
    else:
        preload_unicode_tables()  # once here, inherited by the forked workers
        context = get_context("fork")
        # A bounded queue keeps memory flat: the reader waits while workers are busy.
        batches: Queue = context.Queue(maxsize=2 * workers)
        results: Queue = context.Queue()
        processes = [context.Process(target=_count_worker, daemon=True,
                                     args=(batches, results, lowercase, unicode_form, max_table_words,
                                           with_documents, os.getpid()))
                     for _ in range(workers)]
        for process in processes:
            process.start()
        try:
            for batch in _batches(texts, BATCH_CHARS):
                _put(batches, batch, processes)
            for _ in processes:
                _put(batches, None, processes)
            for _ in processes:
                part = _get(results, processes)
                table.counts.update(part.counts)
                if table.documents is not None:
                    table.documents.update(part.documents)  # documents are disjoint between workers
                table.prunes += part.prunes
            for process in processes:
                process.join()
        except BaseException:
            batches.cancel_join_thread()  # batches buffered for dead workers must not hold up the exit
            raise
        finally:
            for process in processes:
                if process.is_alive():
                    process.terminate()
        if len(table.counts) > max_table_words:
            table.counts, table.documents = _prune(table.counts, table.documents, max_table_words)
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
