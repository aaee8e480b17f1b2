"""Keep patients out of the vocabulary.

A vocabulary learned from notes is published with the model, so a whole-word token must be a word
many documents share: one patient's surname or phone number, repeated in that patient's notes,
must not become a token. Rules (words as BERT splits them, counted per document):
- a learned token that does not continue a word (no "##") and is a word seen in fewer than
  `min_document_frequency` documents is held back;
- so is one that is not the start of any word seen in at least that many documents (a prefix
  SentencePiece learned on the way to a rare word);
- digit strings longer than MAX_TOKEN_DIGITS never become tokens (phone, record, account numbers).
Word pieces ("##...") learned from frequent words, and the alphabet, are kept.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from tokenizer.vocab import CONTINUATION
from tokenizer.words import split_words

MAX_TOKEN_DIGITS = 4


@dataclass
class HeldBack:
    """Counts of what the rules kept out (never the tokens themselves: they may be PHI)."""

    rare_words: int = 0  # distinct words kept out of WordPiece training
    rare_tokens: int = 0  # learned tokens seen in too few documents
    long_digit_tokens: int = 0

    def as_dict(self) -> dict:
        return {"rare_words_not_trained_on": self.rare_words, "rare_tokens": self.rare_tokens,
                "long_digit_tokens": self.long_digit_tokens,
                "tokens_held_back": self.rare_tokens + self.long_digit_tokens}


def is_long_digit_string(token: str) -> bool:
    return len(token) > MAX_TOKEN_DIGITS and token.isdigit()


def trainable_words(counts: Counter, documents: Counter | None, min_documents: int,
                    held: HeldBack) -> Counter:
    """The words WordPiece may learn from: seen in at least `min_documents` documents."""
    if documents is None or min_documents <= 1:
        return counts
    kept = Counter({word: count for word, count in counts.items() if documents[word] >= min_documents})
    held.rare_words = len(counts) - len(kept)
    return kept


class TokenFilter:
    """Decides which learned tokens may enter the vocabulary.

    Args:
        documents: word -> number of documents holding it (None: only the digit rule applies).
        min_documents: the least number of documents a whole-word token must occur in.
        lowercase: the words were counted lowercased and accent-stripped (uncased vocabulary).
    """

    def __init__(self, documents: Counter | None, min_documents: int, lowercase: bool) -> None:
        self.documents = documents if min_documents > 1 else None
        self.min_documents = min_documents
        self.lowercase = lowercase
        # Sorted shared words: "is a prefix of one" is a binary search, no prefix table in memory.
        self.shared = sorted(w for w, n in (self.documents or {}).items() if n >= min_documents)

    def _starts_a_shared_word(self, word: str) -> bool:
        at = bisect.bisect_left(self.shared, word)
        return at < len(self.shared) and self.shared[at].startswith(word)

    def keep(self, token: str, held: HeldBack) -> bool:
        continues = token.startswith(CONTINUATION)
        if is_long_digit_string(token[len(CONTINUATION):] if continues else token):
            held.long_digit_tokens += 1
            return False
        if self.documents is None or continues or len(token) == 1:
            return True
        words = split_words(token, self.lowercase)  # the token as the counted words spell it
        word = words[0] if len(words) == 1 else token
        if self.documents.get(word, self.min_documents) < self.min_documents or \
                not self._starts_a_shared_word(word):
            held.rare_tokens += 1
            return False
        return True

    def filter(self, tokens: Iterable[str], held: HeldBack) -> list[str]:
        return [token for token in tokens if self.keep(token, held)]
