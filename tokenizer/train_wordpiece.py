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

# How many word occurrences go to the trainer per batch.
_FEED_BATCH_WORDS = 500_000


def _feed(words: list[tuple[str, int]]) -> Iterator[list[str]]:
    # "w w w ... " split by WhitespaceSplit in Rust: one string per word instead of `count` strings.
    batch: list[str] = []
    size = 0
    for word, count in words:
        batch.append((word + " ") * count)
        size += count
        if size >= _FEED_BATCH_WORDS:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


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
                    show_progress: bool = False) -> list[str]:
    """Learned tokens (characters, ##characters, then merges in the order learned).

    Args:
        counts: word counts (words as BERT pre-tokenization yields them).
        vocab_size: size of the final vocabulary including the BERT header.
        alphabet: characters the vocabulary must contain.
        max_words: most frequent words used for training.
        show_progress: the trainer's own progress bars.
    """
    allowed = set(alphabet)
    words = [(w, c) for w, c in most_frequent(counts, max_words) if allowed.issuperset(w)]
    tokenizer = Tokenizer(models.WordPiece(unk_token=UNK))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    # Symbols get ids in this fixed order (as "special tokens" they are registered first); the
    # trainer breaks ties between equally frequent merges by symbol ids, so fixed ids make the
    # vocabulary reproducible. Left to itself it numbers symbols in hash-map order.
    symbols = [*alphabet, *(CONTINUATION + c for c in alphabet)]
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size - len(bert_header()) + len(alphabet),
        min_frequency=2,
        show_progress=show_progress,
        continuing_subword_prefix=CONTINUATION,
        special_tokens=symbols,
    )
    tokenizer.train_from_iterator(_feed(words), trainer, length=sum(c for _, c in words))
    return rank_by_usage(list(tokenizer.get_vocab()), words)


def rank_by_usage(tokens: list[str], words: list[tuple[str, int]]) -> list[str]:
    """Order `tokens` by how often WordPiece uses them on the training words, then by the token.

    The HF trainer breaks ties between equally frequent merges by hash-map order, so its own
    order changes from run to run; this order is reproducible and puts the tokens a cut at
    vocab_size can spare (intermediate merges no word uses) last.
    """
    vocabulary = {token: index for index, token in enumerate(tokens)}
    if UNK not in vocabulary:
        vocabulary[UNK] = len(vocabulary)
    segmenter = Tokenizer(models.WordPiece(vocab=vocabulary, unk_token=UNK, max_input_chars_per_word=1000))
    usage = [0] * len(vocabulary)
    encodings = segmenter.encode_batch([word for word, _ in words], add_special_tokens=False)
    for (_, count), encoding in zip(words, encodings, strict=True):
        for token_id in encoding.ids:
            usage[token_id] += count
    return sorted(tokens, key=lambda token: (-usage[vocabulary[token]], token))
