"""GatorTron's recipe: SentencePiece BPE, converted to a BERT WordPiece vocabulary.

Pieces that start a word ("▁x") become "x", pieces inside a word become "##x", the bare "▁"
and SentencePiece's control pieces are dropped.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO

import sentencepiece as spm

from gatortron_common.logging import InputError
from tokenizer.vocab import CONTINUATION, bert_header

WORD_START = "\u2581"
# SentencePiece skips longer lines silently, so longer lines are cut before it sees them.
MAX_SENTENCE_BYTES = 1 << 16
# A character is at most 4 UTF-8 bytes: a line of this many characters always fits.
_SAFE_LINE_CHARS = MAX_SENTENCE_BYTES // 4


def _cut(line: str) -> Iterator[str]:
    """Pieces of at most _SAFE_LINE_CHARS characters, cut at whitespace where there is some."""
    while len(line) > _SAFE_LINE_CHARS:
        space = line.rfind(" ", _SAFE_LINE_CHARS // 2, _SAFE_LINE_CHARS)
        end = space if space > 0 else _SAFE_LINE_CHARS
        yield line[:end]
        line = line[end:].lstrip(" ")
    yield line


def write_training_text(text: str, handle: TextIO) -> int:
    """Write one document for SentencePiece, a line per line; a line longer than
    MAX_SENTENCE_BYTES (which SentencePiece would drop without a word) is cut into lines that fit.

    Returns:
        the number of lines cut.
    """
    cut = 0
    if len(text) > _SAFE_LINE_CHARS:  # most documents cannot hold a line too long: no split
        lines = text.split("\n")
        for number, line in enumerate(lines):
            if len(line) > _SAFE_LINE_CHARS and len(line.encode("utf-8")) > MAX_SENTENCE_BYTES:
                lines[number] = "\n".join(_cut(line))
                cut += 1
        text = "\n".join(lines)
    handle.write(text)
    handle.write("\n")
    return cut


def sentencepiece_to_wordpiece(pieces: Iterable[str]) -> list[str]:
    """Convert SentencePiece pieces (in id order) to WordPiece tokens, keeping the order."""
    tokens: dict[str, None] = {}
    for piece in pieces:
        if piece in ("<unk>", "<s>", "</s>", "<pad>", WORD_START) or not piece:
            continue
        token = piece[len(WORD_START):] if piece.startswith(WORD_START) else CONTINUATION + piece
        tokens.setdefault(token)
    return list(tokens)


def train_sentencepiece_bpe(corpus: Path, vocab_size: int, lowercase: bool, character_coverage: float,
                            threads: int, extra_pieces: int = 0) -> tuple[list[str], list[str]]:
    """Train SentencePiece BPE on `corpus`; return (WordPiece tokens in priority order, alphabet).

    Args:
        corpus: the training text, written with `write_training_text` (the caller keeps it in its
            staging directory, so a killed run leaves no copy of notes behind elsewhere).
        vocab_size: size of the final vocabulary including the BERT header.
        lowercase: nmt_nfkc_cf (case folding) instead of nmt_nfkc.
        character_coverage: SentencePiece's character_coverage.
        threads: SentencePiece trainer threads.
        extra_pieces: pieces to learn beyond vocab_size, to replace learned tokens held back later.
    """
    model = io.BytesIO()
    try:
        _train(str(corpus), model, vocab_size + extra_pieces, lowercase, character_coverage, threads)
    except RuntimeError as error:
        if "required_chars" in str(error):  # SentencePiece's message holds counts only
            raise InputError(f"vocab_size={vocab_size} is smaller than the header "
                             f"({len(bert_header())}) plus the alphabet SentencePiece needs ({error}); "
                             "raise vocab_size") from None
        raise
    processor = spm.SentencePieceProcessor(model_proto=model.getvalue())
    pieces = [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
    alphabet = [p for p in pieces if len(p) == 1 and p != WORD_START and not processor.is_control(
        processor.piece_to_id(p)) and not processor.is_unknown(processor.piece_to_id(p))]
    return sentencepiece_to_wordpiece(pieces), alphabet


def _train(corpus: str, model: io.BytesIO, vocab_size: int, lowercase: bool, character_coverage: float,
           threads: int) -> None:
    spm.SentencePieceTrainer.train(
        input=corpus,
        model_writer=model,
        model_type="bpe",
        vocab_size=vocab_size - len(bert_header()) + 2,  # + <unk> and the bare "▁" we drop
        character_coverage=character_coverage,
        normalization_rule_name="nmt_nfkc_cf" if lowercase else "nmt_nfkc",
        input_sentence_size=0,  # sampling is done before, within sample_bytes
        max_sentence_length=MAX_SENTENCE_BYTES,
        num_threads=max(1, threads),
        bos_id=-1,
        eos_id=-1,
        hard_vocab_limit=False,  # small corpora may not support the full size
        minloglevel=2,
    )
