"""A vocabulary as the tokenizer object megatron-core's datasets expect.

`BERTMaskedWordPieceDataset` reads `inv_vocab` (whole-word masking looks for "##"), the ids of
[CLS]/[SEP]/[MASK]/[PAD], `vocab_size`, and `unique_identifiers` for its index cache key, so a
changed vocabulary never reuses a stale cache.
"""

from __future__ import annotations

from pathlib import Path

import numpy

from tokenizer.export import bert_tokenizer_from_vocab, text_only_tokenizer
from tokenizer.vocab import CLS, MASK, PAD, SEP, UNK, load_vocabulary


class MegatronWordPieceTokenizer:
    """megatron-core tokenizer interface over a vocab.txt (ids identical to HF BertTokenizer).

    Args:
        vocab: a tokenizer directory (holding vocab.txt) or a vocab.txt path.
        lowercase: uncased tokenization (lowercase + strip accents).

    Raises:
        InputError: a missing or malformed vocab.txt (see `load_vocabulary`).
    """

    def __init__(self, vocab: str | Path, lowercase: bool = False) -> None:
        vocabulary = load_vocabulary(vocab, lowercase)
        self.vocab_path = vocabulary.path
        tokens = vocabulary.tokens
        self._vocab = {token: index for index, token in enumerate(tokens)}
        self._inv_vocab = dict(enumerate(tokens))
        self.lowercase = lowercase
        self._hf = bert_tokenizer_from_vocab(self.vocab_path, lowercase)
        # Text never yields control ids: "[SEP]" in a note is text here, as in Megatron's own tokenizer.
        self._text = text_only_tokenizer(self.vocab_path, lowercase)
        self.unique_identifiers = {"class": type(self).__name__, "vocab_sha256": vocabulary.sha256,
                                   "lowercase": lowercase}

    def tokenize(self, text: str) -> list[int]:
        return self._text.encode(text, add_special_tokens=False).ids

    def detokenize(self, ids: list[int] | numpy.ndarray) -> str:
        return self._hf.decode(list(map(int, ids)))

    @property
    def vocab(self) -> dict[str, int]:
        return self._vocab

    @property
    def inv_vocab(self) -> dict[int, str]:
        return self._inv_vocab

    @property
    def vocab_size(self) -> int:
        return len(self._vocab)

    @property
    def cls(self) -> int:
        return self._vocab[CLS]

    @property
    def sep(self) -> int:
        return self._vocab[SEP]

    @property
    def mask(self) -> int:
        return self._vocab[MASK]

    @property
    def pad(self) -> int:
        return self._vocab[PAD]

    @property
    def unk(self) -> int:
        return self._vocab[UNK]
