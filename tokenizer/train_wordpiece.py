"""WordPiece vocabulary with the HF `tokenizers` WordPiece trainer, fed from word counts.

The trainer's own corpus pass runs BERT normalization and pre-tokenization at ~6 MB/s here,
and its cost grows faster than linearly with the number of distinct words. So the corpus is
counted in parallel elsewhere (word_counts.py), and the trainer gets only the `max_words`
most frequent words, each repeated by its count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from tokenizer.vocab import CONTINUATION, UNK, bert_header

# Occurrences per string handed to the trainer: it splits each string into one allocation per
# occurrence before counting, so an unbounded string (a word seen 10**7 times) costs memory in
# proportion to the corpus.
_OCCURRENCES_PER_STRING = 4096


def _feed(words: list[tuple[str, int]]) -> Iterator[str]:
    # "w w w ... " split on " " in Rust (words hold no whitespace): one Python string per 4096 occurrences.
    for word, count in words:
        full, rest = divmod(count, _OCCURRENCES_PER_STRING)
        if full:
            chunk = (word + " ") * _OCCURRENCES_PER_STRING
            for _ in range(full):
                yield chunk
        if rest:
            yield (word + " ") * rest


def most_frequent(counts: Counter, limit: int) -> list[tuple[str, int]]:
    """The `limit` most frequent words, ties broken by the word itself: the result (and so the
    vocabulary) does not depend on the order in which parallel workers merged their counts."""
    top = counts.most_common(limit)
    if len(top) < limit:
        return sorted(top, key=lambda item: (-item[1], item[0]))
    boundary = top[-1][1]
    kept = [item for item in top if item[1] > boundary]
    tied = sorted(word for word, count in counts.items() if count == boundary)
    kept.extend((word, boundary) for word in tied[: limit - len(kept)])
    return sorted(kept, key=lambda item: (-item[1], item[0]))


def train_wordpiece(counts: Counter, vocab_size: int, alphabet: list[str], max_words: int,
                    show_progress: bool = False, extra_tokens: int = 0) -> list[str]:
    """Learned tokens (characters, ##characters, then merges in the order learned).

    Args:
        counts: word counts (words as BERT pre-tokenization yields them).
        vocab_size: size of the final vocabulary including the BERT header.
        alphabet: characters the vocabulary must contain.
        max_words: most frequent words used for training.
        show_progress: the trainer's own progress bars.
        extra_tokens: tokens to learn beyond vocab_size, to replace learned tokens held back later.
    """
    allowed = set(alphabet)
    # One-character words hold no pair to merge, so leaving them out changes nothing but the feed
    # time (punctuation and single letters are ~30% of clinical word occurrences).
    words = [(w, c) for w, c in most_frequent(counts, max_words) if len(w) > 1 and allowed.issuperset(w)]
    tokenizer = Tokenizer(models.WordPiece(unk_token=UNK))
    tokenizer.pre_tokenizer = pre_tokenizers.CharDelimiterSplit(" ")  # ~15% faster than WhitespaceSplit
    # Symbols get ids in this fixed order (as "special tokens" they are registered first); the
    # trainer breaks ties between equally frequent merges by symbol ids, so fixed ids make the
    # vocabulary reproducible. Left to itself it numbers symbols in hash-map order.
    symbols = [*alphabet, *(CONTINUATION + c for c in alphabet)]
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size - len(bert_header()) + len(alphabet) + extra_tokens,
        min_frequency=2,
        show_progress=show_progress,
        continuing_subword_prefix=CONTINUATION,
        special_tokens=symbols,
    )
    tokenizer.train_from_iterator(_feed(words), trainer, length=sum(c for _, c in words))
    vocab = tokenizer.get_vocab()
    return sorted(vocab, key=vocab.__getitem__)
