"""Corpus → cleaned documents → sentences → WordPiece ids → Megatron .bin/.idx + stats.json.

One shard's input is cut into work units (data_prep.units). With one unit the dataset is written
in place; with several, each unit becomes a part under <prefix>.parts/ (by `workers` processes),
then the parts are joined in order with cross-part de-duplication, giving the bytes a single
pass would. A killed run keeps its complete parts; the rerun reuses those made with the same
settings and redoes the rest.
"""

from __future__ import annotations

import dataclasses
import hashlib
import multiprocessing
import os
import shutil
import signal
import time
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from data_prep.clean import DOCUMENT_MARK, SENTENCE_MARK, clean_document, content_hash
from data_prep.config import SOURCE_FORMATS, DataPrepConfig
from data_prep.documents import DocumentTokenizer
from data_prep.encode import BACKENDS, TextEncoder
from data_prep.indexed_writer import (
    IndexedDatasetWriter,
    check_dataset_files,
    is_complete,
    read_stats,
    token_dtype,
)
from data_prep.merge import append_datasets
from data_prep.sentences import ClinicalSentenceSplitter
from data_prep.units import WorkUnit, plan_units
from gatortron_common.logging import InputError, SkipReport, get_logger
from gatortron_common.readers import expand_inputs, read_documents
from gatortron_common.shards import resolve_shard as shard_of
from tokenizer.vocab import Vocabulary, load_vocabulary

logger = get_logger(__name__)

# Settings that change a part's bytes: a part is reused only when all of them match, and the
# vocabulary's content (not its path: a vocab.txt rebuilt in place is another vocabulary).
_PART_SETTINGS = ("source", "text_key", "text_column", "min_document_chars", "max_document_chars", "dedup",
                  "strict")


def validate(cfg: DataPrepConfig) -> Vocabulary:
    """Check every setting before any work; return the checked vocabulary.

    Raises:
        InputError: one line naming the first bad setting (or the vocabulary's problem).
    """
    if cfg.source not in SOURCE_FORMATS:
        raise InputError(f"source={cfg.source!r}: use one of {', '.join(SOURCE_FORMATS)}")
    if cfg.tokenizer_backend not in BACKENDS:
        raise InputError(f"tokenizer_backend={cfg.tokenizer_backend!r}: use one of {', '.join(BACKENDS)}")
    if cfg.workers < 0:
        raise InputError(f"workers={cfg.workers}: use 0 (all cores) or a positive count")
    for name in ("min_document_chars", "max_document_chars", "batch_chars", "unit_mb"):
        value = getattr(cfg, name)
        if not value > 0:  # also catches NaN
            raise InputError(f"{name}={value}: must be positive")
    if cfg.max_document_chars < cfg.min_document_chars:
        raise InputError(f"max_document_chars={cfg.max_document_chars} is below "
                         f"min_document_chars={cfg.min_document_chars}")
    for name in ("text_key", "text_column", "output_prefix"):
        if not str(getattr(cfg, name)).strip():
            raise InputError(f"{name}= is empty")
    resolve_shard(cfg)
    return load_vocabulary(cfg.vocab)


def resolve_shard(cfg: DataPrepConfig) -> tuple[int, int]:
    """(index, count) from the config, else from the Slurm array environment, else (0, 1)."""
    return shard_of(cfg.shard_index, cfg.shard_count)


def resolve_workers(requested: int) -> int:
    """`workers`, or for 0 the Slurm allocation (SLURM_CPUS_PER_TASK), else every core."""
    if requested < 0:
        raise InputError(f"workers={requested}: use 0 (all cores) or a positive count")
    return requested or int(os.environ.get("SLURM_CPUS_PER_TASK", 0)) or os.cpu_count() or 1


def shard_prefix(output_prefix: str, index: int, count: int) -> str:
    """Where shard `index` of `count` writes (the prefix itself when there is one shard)."""
    return output_prefix if count == 1 else f"{output_prefix}_shard{index:05d}of{count:05d}"


@dataclass(frozen=True)
class VocabularyRef:
    """What a worker needs of the checked vocabulary (not its tokens: jobs are pickled)."""

    path: Path
    sha256: str
    size: int
    lowercase: bool
    normalization: str

    @classmethod
    def of(cls, vocabulary: Vocabulary) -> VocabularyRef:
        return cls(vocabulary.path, vocabulary.sha256, vocabulary.size, vocabulary.lowercase,
                   vocabulary.normalization)

    def identity(self) -> dict[str, object]:
        return {"sha256": self.sha256, "size": self.size, "lowercase": self.lowercase}


@dataclass(frozen=True)
class UnitJob:
    """Everything a worker needs to turn one unit into a dataset (picklable)."""

    unit: WorkUnit
    cfg: DataPrepConfig
    vocabulary: VocabularyRef


@dataclass
class UnitResult:
    skips: SkipReport
    chars_in: int = 0
    backend: str = ""


def output_job_key(cfg: DataPrepConfig, vocabulary: Vocabulary, files: list[Path],
                   shard: tuple[int, int]) -> dict:
    """What decides a shard's output bytes: settings, the vocabulary's content and every input
    file's size and modification time (a rerun reuses a complete output only when all match)."""
    settings = dataclasses.asdict(cfg)
    inputs = hashlib.sha256()
    for path in files:
        stat = path.stat()
        inputs.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
    return {**{key: settings[key] for key in _PART_SETTINGS}, "vocabulary": vocabulary.identity(),
            "unicode_normalization": vocabulary.normalization, "shard": list(shard),
            "inputs_sha256": inputs.hexdigest()}


def build_dataset(cfg: DataPrepConfig) -> dict:
    """Write this shard's <prefix>.bin/.idx/.hashes.npy/.stats.json from `cfg.input`; return the stats.

    A rerun returns the stats of an output that is already complete, made from the same inputs
    with the same settings and vocabulary, without redoing it; any other complete output of its
    own is rebuilt.

    Raises:
        InputError: bad settings, missing inputs or vocabulary, no document left to write.
    """
    started = time.perf_counter()
    vocabulary = validate(cfg)
    index, count = resolve_shard(cfg)
    prefix = shard_prefix(cfg.output_prefix, index, count)
    all_files = expand_inputs(cfg.input)
    # Contiguous ranges: merging shards in order then gives the same dataset as one run.
    files = all_files[index * len(all_files) // count:(index + 1) * len(all_files) // count]
    job = output_job_key(cfg, vocabulary, files, (index, count))
    if is_complete(prefix) and not cfg.overwrite:
        earlier = read_stats(prefix)
        if earlier.get("job") == job:
            logger.info("%s is complete; skipping (overwrite=true rebuilds it)", prefix)
            return earlier
        logger.info("%s was made from other inputs, settings or vocabulary; rebuilding it", prefix)
    workers = resolve_workers(cfg.workers)
    bytes_in = sum(f.stat().st_size for f in files)
    units = plan_units(files, SOURCE_FORMATS[cfg.source], _unit_bytes(cfg, workers, bytes_in))
    jobs = [UnitJob(unit, cfg, VocabularyRef.of(vocabulary)) for unit in units]
    writer = IndexedDatasetWriter(prefix, token_dtype(vocabulary.size))
    try:
        with tqdm(total=bytes_in, unit="B", unit_scale=True, desc=f"data_prep {cfg.source}", mininterval=1.0,
                  disable=None) as bar:
            if len(jobs) == 1:
                results = [_fill(writer, jobs[0], bar.update)]
                bar.update(max(0, bytes_in - bar.n))  # progress counted characters; the total is bytes
                duplicates = 0
            else:
                results, parts = _prepare_parts(jobs, Path(f"{prefix}.parts"), workers, bar.update)
                duplicates = append_datasets(writer, parts, dedup=cfg.dedup)
        skips = SkipReport(strict=cfg.strict)
        for result in results:
            skips.merge(result.skips)
        if duplicates:  # across units: the same reason a single pass would give
            skips.counts["duplicate"] += duplicates
            skips.filtered_reasons.add("duplicate")
        if writer.documents == 0 and count == 1:
            raise InputError(f"nothing to write: no usable document in {len(files)} file(s) "
                             f"({skips.total} record(s) skipped: {dict(skips.counts)})")
        seconds = time.perf_counter() - started
        stats = {
            "source": cfg.source, "output_prefix": prefix, "shard": {"index": index, "count": count},
            "files": len(files), "bytes_in": bytes_in, "chars_in": sum(r.chars_in for r in results),
            "documents": writer.documents, "sentences": writer.sentences, "tokens": writer.tokens,
            "token_dtype": writer.dtype.__name__, "vocab": str(cfg.vocab),
            "vocabulary": vocabulary.identity(), "lowercase": vocabulary.lowercase,
            "unicode_normalization": vocabulary.normalization,
            "skipped": skips.as_dict(), "seconds": round(seconds, 3), "workers": workers, "units": len(units),
            "tokenizer_backend": sorted({r.backend for r in results if r.backend}), "job": job,
        }
        writer.commit(stats)
    except BaseException:
        writer.abort()
        raise
    shutil.rmtree(f"{prefix}.parts", ignore_errors=True)
    skips.log_summary(logger)
    logger.info("%s: %d documents, %d sentences, %d tokens (%s) from %.1f MB in %.1f s (%.1f MB/s, %d "
                "worker(s), %d unit(s)) -> %s.bin/.idx",
                cfg.source, writer.documents, writer.sentences, writer.tokens, stats["token_dtype"],
                bytes_in / 1e6, seconds, bytes_in / 1e6 / max(seconds, 1e-9), workers, len(units), prefix)
    return stats


def _unit_bytes(cfg: DataPrepConfig, workers: int, total: int) -> int:
    """Unit size: `unit_mb`, smaller when needed to give every worker about four units."""
    unit = max(1, int(cfg.unit_mb * (1 << 20)))
    return unit if workers == 1 else min(unit, max(1 << 20, -(-total // (4 * workers))))


def _prepare_parts(jobs: list[UnitJob], directory: Path, workers: int,
                   progress) -> tuple[list[UnitResult], list[str]]:
    """Write one part dataset per job (reusing complete ones from a killed run); in job order."""
    directory.mkdir(parents=True, exist_ok=True)
    parts = [str(directory / f"unit{i:05d}") for i in range(len(jobs))]
    results: list[UnitResult | None] = [None] * len(jobs)
    todo = []
    for i, (job, part) in enumerate(zip(jobs, parts, strict=True)):
        if is_complete(part) and read_stats(part).get("job") == _job_key(job) and _intact(part):
            results[i] = _result_from_stats(read_stats(part))
            progress(job.unit.size)
        else:
            todo.append(i)
    if len(todo) < len(jobs):
        logger.info("%s: reusing %d complete part(s) of an earlier run", directory, len(jobs) - len(todo))
    tasks = [(jobs[i], parts[i]) for i in todo]
    if workers == 1 or len(tasks) <= 1:
        for i, result in zip(todo, map(_prepare_part, tasks), strict=True):
            results[i] = result
            progress(jobs[i].unit.size)
    else:
        _run_in_workers(tasks, todo, min(workers, len(tasks)), results, lambda i: progress(jobs[i].unit.size))
    return [r for r in results if r is not None], parts


def _run_in_workers(tasks: list[tuple[UnitJob, str]], todo: list[int], workers: int,
                    results: list[UnitResult | None], done) -> None:
    """Make the parts in worker processes. A worker that dies (the OOM killer, a signal) fails the
    run at once with one line naming it, where multiprocessing.Pool would wait forever."""
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    executor = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method))
    processes: dict = {}  # pid -> process, to name a dead one
    finished = 0
    try:
        try:
            futures: list[Future] = []
            for task in tasks:
                futures.append(executor.submit(_prepare_part, task))
                processes.update(getattr(executor, "_processes", None) or {})
            for i, future in zip(todo, futures, strict=True):
                results[i] = future.result()
                finished += 1
                done(i)
        except BrokenProcessPool:
            raise InputError(_dead_worker_message(processes, tasks[finished][1])) from None
    except BaseException:
        executor.shutdown(wait=False, cancel_futures=True)
        for process in processes.values():  # stop the parts still being made (a broken pool's too)
            if process.is_alive():
                process.terminate()
        raise
    executor.shutdown(wait=True)


def _dead_worker_message(processes: dict, part: str) -> str:
    dead = [(pid, p.exitcode) for pid, p in processes.items() if p.exitcode not in (None, 0)]
    dead.sort(key=lambda found: found[1] == -signal.SIGTERM)  # the pool SIGTERMs the others once broken
    if dead:
        pid, code = dead[0]
        how = (f"was killed by {signal.Signals(-code).name}" if code < 0 and -code in signal.valid_signals()
               else f"exited with status {code}")
        who = f"worker process {pid} {how}"
    else:
        who = "a worker process died"
    return (f"data_prep {who} (out of memory? see the kernel log); the first unfinished part is {part}; "
            f"rerun to resume from the complete parts, with fewer workers or a smaller batch_chars")


def _intact(part: str) -> bool:
    """Whether a complete part's files agree with its index (a part cut short is made again)."""
    try:
        check_dataset_files(part)
    except InputError:
        return False
    return True


def _job_key(job: UnitJob) -> dict:
    settings = dataclasses.asdict(job.cfg)
    return {"unit": job.unit.describe(), **{key: settings[key] for key in _PART_SETTINGS},
            "vocabulary": job.vocabulary.identity(), "unicode_normalization": job.vocabulary.normalization}


def _result_from_stats(stats: dict) -> UnitResult:
    skips = SkipReport()
    skips.counts.update(stats["skipped"]["by_reason"])
    skips.examples = stats["skipped"]["examples"]
    skips.filtered_reasons = set(stats["skipped"]["by_design"])
    return UnitResult(skips, stats["chars_in"], stats["tokenizer_backend"])


def _prepare_part(task: tuple[UnitJob, str]) -> UnitResult:
    """Worker: one unit → one complete part dataset (with its stats)."""
    job, part = task
    writer = IndexedDatasetWriter(part, token_dtype(job.vocabulary.size))
    try:
        result = _fill(writer, job, lambda _: None)
        writer.commit({"job": _job_key(job), "chars_in": result.chars_in, "documents": writer.documents,
                       "sentences": writer.sentences, "tokens": writer.tokens,
                       "tokenizer_backend": result.backend, "skipped": result.skips.as_dict()})
    except BaseException:
        writer.abort()
        raise
    return result


_ENCODERS: dict[tuple, TextEncoder] = {}  # one per process and vocabulary


def _fill(writer: IndexedDatasetWriter, job: UnitJob, progress) -> UnitResult:
    """Read, clean, de-duplicate, split, tokenize and write the documents of one unit."""
    cfg, vocabulary = job.cfg, job.vocabulary
    key = (str(vocabulary.path), vocabulary.sha256, vocabulary.lowercase, cfg.tokenizer_backend)
    if key not in _ENCODERS:
        _ENCODERS[key] = TextEncoder(vocabulary.path, vocabulary.lowercase, cfg.tokenizer_backend,
                                     marks=(SENTENCE_MARK, DOCUMENT_MARK))
    encoder = _ENCODERS[key]
    documents = DocumentTokenizer(encoder, ClinicalSentenceSplitter())
    result = UnitResult(SkipReport(strict=cfg.strict), backend=encoder.backend)
    for batch in _batches(_clean_documents(job, result), cfg.batch_chars):
        texts = [text for text, _, _ in batch]
        ids, lengths, counts = documents(texts)
        empty = writer.add_documents(ids, lengths, counts, [key for _, key, _ in batch])
        for document in empty:
            result.skips.skip("no_tokens", *batch[document][2])
        progress(sum(len(text) for text in texts))
    result.backend = encoder.backend
    return result


def _clean_documents(job: UnitJob, result: UnitResult) -> Iterator[tuple[str, bytes, tuple[str, int]]]:
    """(cleaned text, content hash, (file, line)) of each usable document of the unit; counts the
    characters of all cleaned documents long enough to keep (duplicates included, so the count
    does not depend on how the input was cut into units)."""
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
        yield text, key, (document.source, document.line)


def _batches(documents: Iterator[tuple], max_chars: int) -> Iterator[list[tuple]]:
    batch: list[tuple] = []
    chars = 0
    for document in documents:
        batch.append(document)
        chars += len(document[0])
        if chars >= max_chars:
            yield batch
            batch, chars = [], 0
    if batch:
        yield batch
