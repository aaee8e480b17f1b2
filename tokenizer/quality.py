"""Vocabulary quality on held-out text: fertility, [UNK] rate, words kept whole."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from transformers import PreTrainedTokenizerBase


@dataclass
class VocabularyQuality:
    """Measured with the exported tokenizer on text it was not trained on.

    Attributes:
        words: BERT words in the held-out text.
        subwords: WordPiece tokens they became.
        fertility: subwords per word (lower is better; 1.0 = every word whole).
        unk_rate: share of words that became [UNK].
        whole_word_share: share of words kept as a single in-vocabulary token.
    """

    words: int
    subwords: int
    fertility: float
    unk_rate: float
    whole_word_share: float

    def as_dict(self) -> dict:
        return asdict(self)


def measure_quality(tokenizer: PreTrainedTokenizerBase, texts: Sequence[str],
                    batch: int = 256) -> VocabularyQuality:
    """Tokenize `texts` (already normalized as training text was) and measure the vocabulary."""
    backend = tokenizer.backend_tokenizer
    unk_id = tokenizer.unk_token_id
    words = subwords = unknown = whole = 0
    for start in range(0, len(texts), batch):
        for encoding in backend.encode_batch(list(texts[start:start + batch]), add_special_tokens=False):
            pieces_per_word: dict[int, list[int]] = {}
            for token_id, word_id in zip(encoding.ids, encoding.word_ids, strict=True):
                pieces_per_word.setdefault(word_id, []).append(token_id)
            words += len(pieces_per_word)
            subwords += len(encoding.ids)
            for pieces in pieces_per_word.values():
                if pieces == [unk_id]:
                    unknown += 1
                elif len(pieces) == 1:
                    whole += 1
    if not words:
        return VocabularyQuality(0, 0, 0.0, 0.0, 0.0)
    return VocabularyQuality(words, subwords, round(subwords / words, 5), round(unknown / words, 6),
                             round(whole / words, 5))
