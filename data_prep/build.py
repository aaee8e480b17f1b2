"""Corpus → cleaned documents → sentences → WordPiece ids → Megatron .bin/.idx + stats.json.

One shard's input is cut into work units (data_prep.units). With one unit the dataset is written
in place; with several, each unit becomes a part under <prefix>.parts/ (by `workers` processes),
then the parts are joined in order with cross-part de-duplication, giving the bytes a single
pass would. A killed run keeps its complete parts; the rerun reuses those made with the same
settings and redoes the rest.

This module orchestrates; the steps live in data_prep.shards (which files, which prefix),
data_prep.pipeline (one unit's documents: read, clean, split, tokenize, write) and data_prep.pool
(parts made by worker processes).
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import time
from pathlib import Path

from tqdm import tqdm

from data_prep.config import SOURCE_FORMATS, DataPrepConfig
from data_prep.encode import BACKENDS
from data_prep.indexed_writer import IndexedDatasetWriter, is_complete, read_stats, token_dtype
from data_prep.merge import append_datasets
from data_prep.pipeline import PART_SETTINGS, UnitJob, VocabularyRef, fill_unit
from data_prep.pool import prepare_parts
from data_prep.shards import resolve_shard
from data_prep.units import plan_units
from gatortron_common import megatron_internals
from gatortron_common.atomic import restrict_outputs_to
from gatortron_common.cpus import resolve_workers
from gatortron_common.logging import InputError, SkipReport, get_logger
from gatortron_common.readers import expand_inputs
from tokenizer.vocab import Vocabulary, load_vocabulary

logger = get_logger(__name__)


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
    megatron_internals.check("data_prep", logger)
    return load_vocabulary(cfg.vocab)


def output_job_key(cfg: DataPrepConfig, vocabulary: Vocabulary, files: list[Path],
                   shard: tuple[int, int]) -> dict:
    """What decides a shard's output bytes: settings, the vocabulary's content and every input
    file's size and modification time (a rerun reuses a complete output only when all match)."""
    settings = dataclasses.asdict(cfg)
    inputs = hashlib.sha256()
    for path in files:
        stat = path.stat()
        inputs.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
    return {**{key: settings[key] for key in PART_SETTINGS}, "vocabulary": vocabulary.identity(),
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
    shard = resolve_shard(cfg)
    index, count, prefix = shard
    files = shard.files(expand_inputs(cfg.input))
    restrict_outputs_to(files)  # token ids of notes are the notes
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
                results = [fill_unit(writer, jobs[0], bar.update)]
                bar.update(max(0, bytes_in - bar.n))  # progress counted characters; the total is bytes
                duplicates = 0
            else:
                results, parts = prepare_parts(jobs, Path(f"{prefix}.parts"), workers, bar.update)
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
