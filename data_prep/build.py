"""Corpus → cleaned documents → sentences → WordPiece ids → Megatron .bin/.idx + stats.json."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

from tqdm import tqdm

from data_prep.clean import clean_document, content_hash
from data_prep.config import SOURCE_FORMATS, DataPrepConfig
from data_prep.indexed_writer import IndexedDatasetWriter, is_complete, read_stats, token_dtype
from data_prep.sentences import ClinicalSentenceSplitter
from gatortron_common.logging import InputError, SkipReport, get_logger
from gatortron_common.readers import Document, expand_inputs, read_documents
from tokenizer.build import REPORT_FILE
from tokenizer.export import VOCAB_FILE, bert_tokenizer_from_vocab

logger = get_logger(__name__)


def vocabulary_settings(vocab_dir: Path) -> tuple[bool, str]:
    """(lowercase, unicode normalization) the vocabulary was built with, from its report.json, or
    from tokenizer_config.json for a vocabulary made elsewhere (then without normalization)."""
    if not (vocab_dir / VOCAB_FILE).is_file():
        raise InputError(f"{vocab_dir}: no {VOCAB_FILE}; vocab= takes a directory from python -m tokenizer")
    report = vocab_dir / REPORT_FILE
    if report.is_file():
        settings = json.loads(report.read_text(encoding="utf-8"))
        return bool(settings["lowercase"]), str(settings["unicode_normalization"])
    config = vocab_dir / "tokenizer_config.json"
    lowercase = config.is_file() and bool(json.loads(config.read_text(encoding="utf-8")).get("do_lower_case"))
    logger.warning("%s: no %s; using do_lower_case=%s and no Unicode normalization", vocab_dir, REPORT_FILE,
                   lowercase)
    return lowercase, ""


def resolve_shard(cfg: DataPrepConfig) -> tuple[int, int]:
    """(index, count) from the config, else from the Slurm array environment, else (0, 1)."""
    count = cfg.shard_count
    if count is None:
        count = int(os.environ.get("SLURM_ARRAY_TASK_COUNT", 1))
    index = cfg.shard_index
    if index is None:
        index = int(os.environ.get("SLURM_ARRAY_TASK_ID", 0)) - int(os.environ.get("SLURM_ARRAY_TASK_MIN", 0))
    if count < 1 or not 0 <= index < count:
        raise InputError(f"shard_index={index} shard_count={count}: need 0 <= shard_index < shard_count")
    return index, count


def shard_prefix(output_prefix: str, index: int, count: int) -> str:
    """Where shard `index` of `count` writes (the prefix itself when there is one shard)."""
    return output_prefix if count == 1 else f"{output_prefix}_shard{index:05d}of{count:05d}"


def build_dataset(cfg: DataPrepConfig) -> dict:
    """Write this shard's <prefix>.bin/.idx/.hashes.npy/.stats.json from `cfg.input`; return the stats.

    A rerun returns the stats of an output that is already complete without redoing it.

    Raises:
        InputError: missing inputs or vocabulary, unknown source, no document left to write.
    """
    started = time.perf_counter()
    if cfg.source not in SOURCE_FORMATS:
        raise InputError(f"source={cfg.source!r}: use one of {', '.join(SOURCE_FORMATS)}")
    index, count = resolve_shard(cfg)
    prefix = shard_prefix(cfg.output_prefix, index, count)
    if is_complete(prefix) and not cfg.overwrite:
        logger.info("%s is complete; skipping (overwrite=true rebuilds it)", prefix)
        return read_stats(prefix)
    all_files = expand_inputs(cfg.input)
    # Contiguous ranges: merging shards in order then gives the same dataset as one run.
    files = all_files[index * len(all_files) // count:(index + 1) * len(all_files) // count]
    vocab_dir = Path(cfg.vocab)
    lowercase, unicode_form = vocabulary_settings(vocab_dir)
    tokenizer = bert_tokenizer_from_vocab(vocab_dir / VOCAB_FILE, lowercase).backend_tokenizer
    skips = SkipReport(strict=cfg.strict)
    writer = IndexedDatasetWriter(prefix, token_dtype(tokenizer.get_vocab_size()))
    splitter = ClinicalSentenceSplitter()
    chars_in = 0
    try:
        with tqdm(unit=" docs", desc=f"data_prep {cfg.source}", mininterval=1.0, disable=None) as bar:
            for batch in _batches(_clean_documents(files, cfg, unicode_form, skips), cfg.batch_documents):
                sentences = [splitter.split(text) for text, _ in batch]
                flat = [s for doc in sentences for s in doc]
                ids = iter(e.ids for e in tokenizer.encode_batch(flat, add_special_tokens=False))
                for doc, (text, key) in zip(sentences, batch, strict=True):
                    writer.add_document([next(ids) for _ in doc], key)
                    chars_in += len(text)
                bar.update(len(batch))
        if writer.documents == 0 and count == 1:
            raise InputError(f"nothing to write: no usable document in {len(files)} file(s) "
                             f"({skips.total} record(s) skipped: {dict(skips.counts)})")
        seconds = time.perf_counter() - started
        stats = {
            "source": cfg.source, "output_prefix": prefix, "shard": {"index": index, "count": count},
            "files": len(files), "bytes_in": sum(f.stat().st_size for f in files), "chars_in": chars_in,
            "documents": writer.documents, "sentences": writer.sentences, "tokens": writer.tokens,
            "token_dtype": writer.dtype.__name__, "vocab": str(vocab_dir), "lowercase": lowercase,
            "unicode_normalization": unicode_form, "skipped": skips.as_dict(), "seconds": round(seconds, 3),
        }
        writer.commit(stats)
    except BaseException:
        writer.abort()
        raise
    skips.log_summary(logger)
    logger.info("%s: %d documents, %d sentences, %d tokens (%s) from %.1f MB in %.1f s (%.1f MB/s) "
                "-> %s.bin/.idx",
                cfg.source, writer.documents, writer.sentences, writer.tokens, stats["token_dtype"],
                chars_in / 1e6, seconds, chars_in / 1e6 / max(seconds, 1e-9), prefix)
    return stats


def _clean_documents(files: list[Path], cfg: DataPrepConfig, unicode_form: str,
                     skips: SkipReport) -> Iterator[tuple[str, bytes]]:
    seen: set[bytes] = set()
    for path in files:
        documents: Iterator[Document] = read_documents(path, fmt=SOURCE_FORMATS[cfg.source], skips=skips,
                                                       text_key=cfg.text_key, text_column=cfg.text_column)
        for document in documents:
            text = clean_document(document.text, unicode_form)
            if len(text) < cfg.min_document_chars:
                skips.skip("shorter_than_min_document_chars", document.source, document.line, by_design=True)
                continue
            key = content_hash(text)
            if cfg.dedup:
                if key in seen:
                    skips.skip("duplicate", document.source, document.line, by_design=True)
                    continue
                seen.add(key)
            yield text, key


def _batches(texts: Iterator[tuple[str, bytes]], size: int) -> Iterator[list[tuple[str, bytes]]]:
    batch: list[tuple[str, bytes]] = []
    for text in texts:
        batch.append(text)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
