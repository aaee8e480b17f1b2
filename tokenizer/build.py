"""Build a clinical WordPiece vocabulary: sample → count/train → assemble → export → measure."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import NamedTuple

from gatortron_common.atomic import atomic_directory, restrict_outputs_to
from gatortron_common.cpus import resolve_workers
from gatortron_common.logging import InputError, SkipReport, get_logger
from gatortron_common.outputs import check_output_path
from gatortron_common.readers import TEXT_FORMATS, expand_inputs
from tokenizer.config import ALGORITHMS, TokenizerConfig
from tokenizer.export import export_tokenizer
from tokenizer.privacy import MAX_TOKEN_DIGITS, HeldBack, TokenFilter, trainable_words
from tokenizer.quality import measure_quality
from tokenizer.sampling import CorpusSampler, SampleStats
from tokenizer.staging import hold, remove_stale_staging
from tokenizer.train_sentencepiece import MAX_SENTENCE_BYTES, train_sentencepiece_bpe, write_training_text
from tokenizer.train_wordpiece import train_wordpiece
from tokenizer.vocab import REPORT_FILE, VOCAB_FILE, assemble_vocab, bert_header, padded_vocab_size
from tokenizer.word_counts import alphabet_from_counts, count_corpus_words
from tokenizer.words import normalize_text

logger = get_logger(__name__)

TENSOR_PARALLEL_SIZES = (1, 2, 4, 8)
# SentencePiece's training text, inside the staging folder and removed once trained on.
SAMPLE_FILE = ".sentencepiece_sample.txt"


def _is_tokenizer_output(path: Path) -> bool:
    """An earlier output of this stage: its report.json and vocab.txt mark it."""
    return (path / REPORT_FILE).is_file() and (path / VOCAB_FILE).is_file()


def validate(cfg: TokenizerConfig) -> list[Path]:
    """Check every setting, the inputs and the output path before any work; return the input files.

    Raises:
        InputError: one line naming the setting.
    """
    if cfg.algorithm not in ALGORITHMS:
        raise InputError(f"algorithm={cfg.algorithm!r}: use one of {', '.join(ALGORITHMS)}")
    if cfg.format != "auto" and cfg.format not in TEXT_FORMATS:
        raise InputError(f"format={cfg.format!r}: use auto or one of {', '.join(TEXT_FORMATS)}")
    if cfg.vocab_size <= len(bert_header()):
        raise InputError(f"vocab_size={cfg.vocab_size} leaves no room after the {len(bert_header())}-token "
                         "BERT header")
    if cfg.unicode_normalization not in ("", "NFC", "NFKC"):
        raise InputError(f"unicode_normalization={cfg.unicode_normalization!r}: use NFKC, NFC or ''")
    if not 0 < cfg.character_coverage <= 1:
        raise InputError(f"character_coverage={cfg.character_coverage}: use a share in (0, 1], e.g. 0.9999")
    for name in ("sample_bytes", "heldout_bytes", "workers"):
        if getattr(cfg, name) < 0:
            raise InputError(f"{name}={getattr(cfg, name)}: must be 0 or more")
    for name in ("max_words", "max_table_words", "min_document_frequency"):
        if getattr(cfg, name) < 1:
            raise InputError(f"{name}={getattr(cfg, name)}: must be 1 or more")
    files = expand_inputs(cfg.input)
    check_output_path(cfg.output_dir, "output_dir", cfg.overwrite, _is_tokenizer_output, inputs=files,
                      what="tokenizer directory (report.json + vocab.txt)")
    return files


def build_vocabulary(cfg: TokenizerConfig) -> dict:
    """Build the vocabulary described by `cfg` into `cfg.output_dir`; return the report.

    Raises:
        InputError: bad settings, missing inputs, an output that may not be replaced, an empty
            corpus, a vocab_size too small, a worker process that died.
    """
    started = time.perf_counter()
    files = validate(cfg)
    restrict_outputs_to(files)  # the vocabulary and its held-out sample come from the notes
    output_dir = Path(cfg.output_dir)
    remove_stale_staging(output_dir, files)
    # Everything, the temporary copy of the sample included, lives in the staging folder: a killed
    # run leaves it behind only there, and the next run removes it.
    with atomic_directory(output_dir) as staging, hold(staging):
        report = _build(cfg, files, staging, started)
    _log_summary(report, output_dir)
    return report


def _build(cfg: TokenizerConfig, files: list[Path], staging: Path, started: float) -> dict:
    workers = resolve_workers(cfg.workers)
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
    held = HeldBack()
    require_text = partial(_require_text, sampler.stats, skips, files)
    if cfg.algorithm == "wordpiece":
        trained = _train_wordpiece(cfg, training_texts(), workers, require_text, held)
    else:
        trained = _train_sentencepiece(cfg, training_texts(), workers, require_text, staging)
    learned, alphabet, documents, training = trained
    learned = TokenFilter(documents, cfg.min_document_frequency, cfg.lowercase).filter(learned, held)
    tokens = assemble_vocab(learned, alphabet, cfg.vocab_size)
    if len(tokens) < cfg.vocab_size:
        logger.warning("the corpus supports only %d tokens of the %d asked for", len(tokens), cfg.vocab_size)
    tokenizer = export_tokenizer(tokens, staging, cfg.lowercase)
    quality = measure_quality(tokenizer, heldout)
    report = {
        "algorithm": cfg.algorithm,
        "vocab_size": len(tokens),
        "vocab_size_requested": cfg.vocab_size,
        "lowercase": cfg.lowercase,
        "unicode_normalization": cfg.unicode_normalization,
        "alphabet_size": len(alphabet),
        "padded_vocab_size": {f"tp{tp}": padded_vocab_size(len(tokens), tp) for tp in TENSOR_PARALLEL_SIZES},
        "corpus": {**vars(sampler.stats), "workers": workers, "sample_bytes": cfg.sample_bytes,
                   "seed": cfg.seed, "skipped": skips.as_dict()},
        "training": training,
        "held_back": {"min_document_frequency": cfg.min_document_frequency,
                      "max_token_digits": MAX_TOKEN_DIGITS, **held.as_dict()},
        "heldout_quality": quality.as_dict(),
        "seconds": round(time.perf_counter() - started, 3),
    }
    (staging / REPORT_FILE).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    skips.log_summary(logger)
    return report


def _extra_tokens(cfg: TokenizerConfig) -> int:
    """Tokens to learn beyond vocab_size, to replace those held back for privacy."""
    return cfg.vocab_size // 10 if cfg.min_document_frequency > 1 else 0


class _Trained(NamedTuple):
    learned: list[str]  # in the trainer's priority order
    alphabet: list[str]
    documents: Counter | None  # word -> documents holding it, for the privacy rule
    training: dict  # for the report


def _train_wordpiece(cfg: TokenizerConfig, texts: Iterator[str], workers: int,
                     require_text: Callable[[], None], held: HeldBack) -> _Trained:
    started = time.perf_counter()
    table = count_corpus_words(texts, cfg.lowercase, cfg.unicode_normalization, workers, cfg.max_table_words,
                               with_documents=cfg.min_document_frequency > 1)
    require_text()
    alphabet = alphabet_from_counts(table.counts, cfg.character_coverage)
    assemble_vocab([], alphabet, cfg.vocab_size)  # fail before training if it cannot fit
    counted = time.perf_counter()
    trainable = trainable_words(table.counts, table.documents, cfg.min_document_frequency, held)
    learned = train_wordpiece(trainable, cfg.vocab_size, alphabet, cfg.max_words,
                              extra_tokens=_extra_tokens(cfg))
    training = {"words_counted": table.words_counted, "distinct_words_kept": len(table.counts),
                "table_prunes": table.prunes, "words_trained_on": min(cfg.max_words, len(trainable)),
                "count_seconds": round(counted - started, 3),
                "train_seconds": round(time.perf_counter() - counted, 3)}
    return _Trained(learned, alphabet, table.documents, training)


def _train_sentencepiece(cfg: TokenizerConfig, texts: Iterator[str], workers: int,
                         require_text: Callable[[], None], staging: Path) -> _Trained:
    sample = staging / SAMPLE_FILE  # never in /tmp: a killed run leaves it only in its staging folder
    long_lines = 0

    def written() -> Iterator[str]:
        nonlocal long_lines
        with open(sample, "w", encoding="utf-8") as handle:
            for text in texts:
                text = normalize_text(text, cfg.unicode_normalization)
                long_lines += write_training_text(text, handle)
                yield text

    documents = None
    if cfg.min_document_frequency > 1:  # words counted for document frequencies while the sample is written
        documents = count_corpus_words(written(), cfg.lowercase, "", workers, cfg.max_table_words,
                                       with_documents=True).documents
    else:
        for _ in written():
            pass
    require_text()
    try:
        learned, alphabet = train_sentencepiece_bpe(sample, cfg.vocab_size, cfg.lowercase,
                                                    cfg.character_coverage, workers,
                                                    extra_pieces=_extra_tokens(cfg))
    finally:
        sample.unlink(missing_ok=True)
    if long_lines:
        logger.warning("%d line(s) longer than %d bytes, which SentencePiece skips, were cut into lines "
                       "that fit", long_lines, MAX_SENTENCE_BYTES)
    return _Trained(learned, alphabet, documents, {"long_lines_cut": long_lines,
                                                   "max_line_bytes": MAX_SENTENCE_BYTES})


def _require_text(stats: SampleStats, skips: SkipReport, files: list[Path]) -> None:
    if stats.train_chars == 0:
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
    held = report["held_back"]
    logger.info("held back for privacy: %d learned token(s) seen in fewer than %d documents, %d digit "
                "string(s) over %d digits, %d rare word(s) not trained on",
                held["rare_tokens"], held["min_document_frequency"], held["long_digit_tokens"],
                held["max_token_digits"], held["rare_words_not_trained_on"])
