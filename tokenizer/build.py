"""Build a clinical WordPiece vocabulary: sample → count/train → assemble → export → measure."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

from gatortron_common.atomic import atomic_directory
from gatortron_common.logging import InputError, SkipReport, get_logger
from gatortron_common.readers import TEXT_FORMATS, expand_inputs
from tokenizer.config import ALGORITHMS, TokenizerConfig
from tokenizer.export import export_tokenizer
from tokenizer.quality import measure_quality
from tokenizer.sampling import CorpusSampler
from tokenizer.train_sentencepiece import train_sentencepiece_bpe
from tokenizer.train_wordpiece import train_wordpiece
from tokenizer.vocab import REPORT_FILE, assemble_vocab, bert_header, padded_vocab_size
from tokenizer.word_counts import alphabet_from_counts, available_cores, count_corpus_words
from tokenizer.words import normalize_text

logger = get_logger(__name__)

TENSOR_PARALLEL_SIZES = (1, 2, 4, 8)


def _validate(cfg: TokenizerConfig) -> None:
    if cfg.algorithm not in ALGORITHMS:
        raise InputError(f"algorithm={cfg.algorithm!r}: use one of {', '.join(ALGORITHMS)}")
    if cfg.format != "auto" and cfg.format not in TEXT_FORMATS:
        raise InputError(f"format={cfg.format!r}: use auto or one of {', '.join(TEXT_FORMATS)}")
    if cfg.vocab_size <= len(bert_header()):
        raise InputError(f"vocab_size={cfg.vocab_size} leaves no room after the {len(bert_header())}-token "
                         "BERT header")
    if cfg.unicode_normalization not in ("", "NFC", "NFKC"):
        raise InputError(f"unicode_normalization={cfg.unicode_normalization!r}: use NFKC, NFC or ''")


def build_vocabulary(cfg: TokenizerConfig) -> dict:
    """Build the vocabulary described by `cfg` into `cfg.output_dir`; return the report.

    Raises:
        InputError: missing inputs, an empty corpus, a vocab_size too small, bad settings.
    """
    started = time.perf_counter()
    _validate(cfg)
    files = expand_inputs(cfg.input)
    workers = cfg.workers if cfg.workers > 0 else available_cores()
    skips = SkipReport(strict=cfg.strict)
    reader_options = {"fmt": cfg.format, "text_key": cfg.text_key, "text_column": cfg.text_column}
    sampler = CorpusSampler(files, cfg.sample_bytes, cfg.heldout_bytes, cfg.seed, reader_options, skips)
    heldout: list[str] = []

    def training_texts() -> Iterator[str]:
        for is_heldout, text in sampler:
            if is_heldout:
                heldout.append(normalize_text(text, cfg.unicode_normalization))
            else:
                yield text

    logger.info("building a %d-token %s %s vocabulary from %d file(s) (~%.1f MB), %d worker(s)",
                cfg.vocab_size, "uncased" if cfg.lowercase else "cased", cfg.algorithm, len(files),
                sampler.stats.corpus_bytes_estimate / 1e6, workers)
    training: dict = {}
    if cfg.algorithm == "wordpiece":
        table = count_corpus_words(training_texts(), cfg.lowercase, cfg.unicode_normalization, workers,
                                   cfg.max_table_words)
        _require_text(sampler.stats.train_chars, skips, files)
        alphabet = alphabet_from_counts(table.counts, cfg.character_coverage)
        assemble_vocab([], alphabet, cfg.vocab_size)  # fail before training if it cannot fit
        counted = time.perf_counter()
        learned = train_wordpiece(table.counts, cfg.vocab_size, alphabet, cfg.max_words)
        training = {"words_counted": table.words_counted, "distinct_words_kept": len(table.counts),
                    "table_prunes": table.prunes, "words_trained_on": min(cfg.max_words, len(table.counts)),
                    "count_seconds": round(counted - started, 3),
                    "train_seconds": round(time.perf_counter() - counted, 3)}
    else:
        learned, alphabet = train_sentencepiece_bpe(
            (normalize_text(t, cfg.unicode_normalization) for t in training_texts()), cfg.vocab_size,
            cfg.lowercase, cfg.character_coverage, workers)
        _require_text(sampler.stats.train_chars, skips, files)
    tokens = assemble_vocab(learned, alphabet, cfg.vocab_size)
    if len(tokens) < cfg.vocab_size:
        logger.warning("the corpus supports only %d tokens of the %d asked for", len(tokens), cfg.vocab_size)

    output_dir = Path(cfg.output_dir)
    with atomic_directory(output_dir) as staging:
        tokenizer = export_tokenizer(tokens, staging, cfg.lowercase)
        quality = measure_quality(tokenizer, heldout)
        report = {
            "algorithm": cfg.algorithm,
            "vocab_size": len(tokens),
            "vocab_size_requested": cfg.vocab_size,
            "lowercase": cfg.lowercase,
            "unicode_normalization": cfg.unicode_normalization,
            "alphabet_size": len(alphabet),
            "padded_vocab_size": {f"tp{tp}": padded_vocab_size(len(tokens), tp)
                                  for tp in TENSOR_PARALLEL_SIZES},
            "corpus": {**vars(sampler.stats), "workers": workers, "sample_bytes": cfg.sample_bytes,
                       "seed": cfg.seed, "skipped": skips.as_dict()},
            "training": training,
            "heldout_quality": quality.as_dict(),
            "seconds": round(time.perf_counter() - started, 3),
        }
        (staging / REPORT_FILE).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    skips.log_summary(logger)
    _log_summary(report, output_dir)
    return report


def _require_text(train_chars: int, skips: SkipReport, files: list[Path]) -> None:
    if train_chars == 0:
        raise InputError(f"empty corpus: no usable text in {len(files)} file(s) "
                         f"({skips.total} record(s) skipped: {dict(skips.counts)})")


def _log_summary(report: dict, output_dir: Path) -> None:
    corpus, quality = report["corpus"], report["heldout_quality"]
    rate = corpus["chars_read"] / 1e6 / max(report["seconds"], 1e-9)
    logger.info("vocabulary: %d tokens (padded TP=1: %d, TP=2: %d) -> %s", report["vocab_size"],
                report["padded_vocab_size"]["tp1"], report["padded_vocab_size"]["tp2"], output_dir)
    logger.info("corpus: %d documents read (%.1f MB, %.1f MB/s end to end), %d trained on, %d held out, "
                "%d skipped",
                corpus["documents_read"], corpus["chars_read"] / 1e6, rate, corpus["train_documents"],
                corpus["heldout_documents"], corpus["skipped"]["total"])
    logger.info("held-out quality: fertility %.4f subwords/word, [UNK] %.4f%%, %.2f%% of words whole; "
                "%.1f s in all", quality["fertility"], 100 * quality["unk_rate"],
                100 * quality["whole_word_share"], report["seconds"])
