"""GatorTron's recipe: SentencePiece BPE, converted to a BERT WordPiece vocabulary.

Pieces that start a word ("▁x") become "x", pieces inside a word become "##x", the bare "▁"
and SentencePiece's control pieces are dropped.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterable

import sentencepiece as spm

from gatortron_common.logging import InputError
from tokenizer.vocab import CONTINUATION, bert_header

WORD_START = "\u2581"
# SentencePiece skips longer lines silently; notes lines are far shorter, wrapped text too.
MAX_SENTENCE_BYTES = 1 << 16


def sentencepiece_to_wordpiece(pieces: Iterable[str]) -> list[str]:
    """Convert SentencePiece pieces (in id order) to WordPiece tokens, keeping the order."""
    tokens: dict[str, None] = {}
    for piece in pieces:
        if piece in ("<unk>", "<s>", "</s>", "<pad>", WORD_START) or not piece:
            continue
        token = piece[len(WORD_START):] if piece.startswith(WORD_START) else CONTINUATION + piece
        tokens.setdefault(token)
    return list(tokens)


def train_sentencepiece_bpe(texts: Iterable[str], vocab_size: int, lowercase: bool,
                            character_coverage: float, threads: int) -> tuple[list[str], list[str]]:
    """Train SentencePiece BPE on `texts`; return (WordPiece tokens in priority order, alphabet).

    Args:
        texts: training documents (written to a temporary file, one line per line).
        vocab_size: size of the final vocabulary including the BERT header.
        lowercase: nmt_nfkc_cf (case folding) instead of nmt_nfkc.
        character_coverage: SentencePiece's character_coverage.
        threads: SentencePiece trainer threads.
    """
    model = io.BytesIO()
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt") as corpus:
        for text in texts:
            corpus.write(text)
            corpus.write("\n")
        corpus.flush()
        try:
            _train(corpus.name, model, vocab_size, lowercase, character_coverage, threads)
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
