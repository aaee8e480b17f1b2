"""Long documents as overlapping windows of subword tokens, and each token's owning window.

A document of any length is tokenized once (words -> subwords, no special tokens), then cut into
windows of at most `size` subwords (`max_seq_length` minus [CLS] and [SEP]) that overlap by
`overlap` subwords (the recipe's `stride`). The last window simply ends at the document's end, so
no window overlaps its neighbour by more than the stride. Every token is *owned* by exactly one
window: the one in which it is most central (farthest from either edge; ties go to the earlier
window). A word's prediction is read from its first subword in the owning window, so nothing is
truncated and every token sees context on both sides wherever the document has it.

A very long note need not be held whole: `count_tokens` gives its length, `iter_windows` its
windows one at a time, and `TokenStream` its subwords and words a block at a time (words are
tokenized one by one, so blocks give the same subwords); `word_scores` reads each window's owned
words as `gather_word_scores` does for the whole note.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from finetune.tagging.labels import Span, word_span_blocks
from gatortron_common.logging import InputError


@dataclass
class TokenizedDocument:
    """A document's words and their subwords.

    Args:
        words: `(start, end)` character spans of the words.
        input_ids: subword ids, without special tokens.
        word_of_token: the word index of each subword.
        first_token: the index of each word's first subword, -1 for a word without subwords.
    """

    words: list[Span]
    input_ids: np.ndarray
    word_of_token: np.ndarray
    first_token: np.ndarray

    def __len__(self) -> int:
        return len(self.input_ids)


@dataclass(frozen=True)
class Window:
    """Tokens `[start, end)` of document `document`; it owns (predicts) `[own_start, own_end)`."""

    document: int
    start: int
    end: int
    own_start: int
    own_end: int

    def __len__(self) -> int:
        return self.end - self.start


def tokenize_words(tokenizer: Any, word_lists: Sequence[Sequence[Span]],
                   texts: Sequence[str]) -> list[TokenizedDocument]:
    """Subwords of many documents' words in one tokenizer call.

    Args:
        tokenizer: a fast HF tokenizer (word ids need one).
        word_lists: each document's word spans (e.g. from `finetune.tagging.labels.word_spans`).
        texts: the documents' texts.
    """
    if not getattr(tokenizer, "is_fast", False):
        raise InputError("the model directory's tokenizer is not a fast tokenizer (tokenizer.json is needed)")
    batch = [[text[start:end] for start, end in words] for words, text in zip(word_lists, texts, strict=True)]
    if not batch:
        return []
    # Documents are never truncated here: windowing is the next step.
    encoding = tokenizer(batch, is_split_into_words=True, add_special_tokens=False, truncation=False,
                         return_attention_mask=False, return_token_type_ids=False, verbose=False)
    documents = []
    for index, words in enumerate(word_lists):
        word_ids = np.asarray(encoding.word_ids(index), dtype=np.int64)
        first = np.full(len(words), -1, dtype=np.int64)
        if len(word_ids):
            # The first subword of each word: positions where the word index changes.
            starts = np.flatnonzero(np.r_[True, word_ids[1:] != word_ids[:-1]])
            first[word_ids[starts]] = starts
        documents.append(TokenizedDocument(words=list(words), input_ids=np.asarray(
            encoding["input_ids"][index], dtype=np.int64), word_of_token=word_ids, first_token=first))
    return documents


def plan_windows(length: int, size: int, overlap: int, document: int = 0) -> list[Window]:
    """Windows over `length` tokens, at most `size` long, neighbours sharing `overlap` tokens.

    Args:
        length: the document's number of subwords.
        size: the most subwords a window holds (max_seq_length - 2).
        overlap: subwords shared by neighbouring windows (0 <= overlap < size).
        document: the document index the windows carry.
    """
    return list(iter_windows(length, size, overlap, document))


def iter_windows(length: int, size: int, overlap: int, document: int = 0) -> Iterator[Window]:
    """`plan_windows`, one window at a time (a long note's plan is never held whole).

    Args:
        length: the document's number of subwords.
        size: the most subwords a window holds (max_seq_length - 2).
        overlap: subwords shared by neighbouring windows (0 <= overlap < size).
        document: the document index the windows carry.
    """
    if not 0 <= overlap < size:
        raise InputError(f"stride={overlap} must be at least 0 and below max_seq_length - 2 = {size}")
    return _windows(length, size, overlap, document)


def _windows(length: int, size: int, overlap: int, document: int) -> Iterator[Window]:
    if length <= size:
        yield Window(document, 0, length, 0, length)
        return
    step = size - overlap
    start = own_start = 0
    while True:
        end = min(start + size, length)
        if end == length:
            yield Window(document, start, end, own_start, length)
            return
        # The window after this one decides where this one's owned tokens end.
        right_start = start + step
        boundary = _owner_boundary(start, end, right_start, min(right_start + size, length))
        yield Window(document, start, end, own_start, boundary)
        start, own_start = right_start, boundary


def _owner_boundary(left_start: int, left_end: int, right_start: int, right_end: int) -> int:
    """The first token the right window owns: inside the shared part, a token goes to the window where
    it is farther from an edge (ties to the left one)."""
    boundary = right_start
    while boundary < left_end and (min(boundary - left_start, left_end - 1 - boundary)
                                   >= min(boundary - right_start, right_end - 1 - boundary)):
        boundary += 1
    return boundary


def window_count(length: int, size: int, overlap: int) -> int:
    """How many windows `plan_windows(length, size, overlap)` makes, without making them."""
    if length <= size:
        return 1
    return -(-(length - size) // (size - overlap)) + 1


def gather_word_scores(document: TokenizedDocument, windows: Sequence[Window],
                       window_scores: Sequence[np.ndarray], num_labels: int) -> np.ndarray:
    """Per-word label scores read from each word's first subword in its owning window.

    Args:
        document: the tokenized document.
        windows: its windows, in order.
        window_scores: for each window, `[len(window) + 2, num_labels]` scores ([CLS] row first).
        num_labels: number of labels.

    Returns:
        `[len(words), num_labels]` scores; a word without subwords gets 0 for label 0 (`O`) and
        -inf elsewhere, so decoding leaves it outside every entity.
    """
    token_scores = np.empty((len(document), num_labels), dtype=np.float32)
    for window, scores in zip(windows, window_scores, strict=True):
        offset = 1 - window.start  # +1 for [CLS]
        token_scores[window.own_start:window.own_end] = scores[window.own_start + offset:
                                                               window.own_end + offset]
    words = unreached_scores(len(document.words), num_labels)
    reached = document.first_token >= 0
    words[reached] = token_scores[document.first_token[reached]]
    return words


def count_tokens(tokenizer: Any, text: str, block_words: int) -> int:
    """The number of subwords of `text`'s words, tokenized `block_words` words at a time.

    Words are tokenized one by one (`is_split_into_words`), so blocks give the same subwords as
    one call on the whole note, and nothing but the count is kept.
    """
    return sum(len(tokenized) for block in word_span_blocks(text, block_words)
               for tokenized in tokenize_words(tokenizer, [block], [text]))


class TokenStream:
    """One long note's words and subwords, tokenized a block of words at a time and held only from
    the earliest subword and word still needed.

    Windows ask for their subwords in order (`tokens`), then take the words whose first subword
    they own (`take_words`): together these give what `tokenize_words` would on the whole note.

    Args:
        tokenizer: a fast HF tokenizer.
        text: the note's text.
        block_words: words per tokenizer call.
    """

    def __init__(self, tokenizer: Any, text: str, block_words: int) -> None:
        self._tokenizer = tokenizer
        self._text = text
        self._blocks = word_span_blocks(text, block_words)
        self.base = 0  # the note's index of `ids[0]`
        self.ids = np.zeros(0, dtype=np.int64)
        self.words: list[Span] = []  # read and not yet taken, in order
        self.first = np.zeros(0, dtype=np.int64)  # their first subword (note index), -1 for none
        self.max_held = 0  # the most subwords held at once

    @property
    def end(self) -> int:
        """One past the last subword read so far."""
        return self.base + len(self.ids)

    def _read_block(self) -> bool:
        """Tokenize the next block of words; False when the note has none left."""
        block = next(self._blocks, None)
        if block is None:
            return False
        tokenized, = tokenize_words(self._tokenizer, [block], [self._text])
        first = np.where(tokenized.first_token >= 0, tokenized.first_token + self.end, -1)
        self.ids = np.concatenate([self.ids, tokenized.input_ids])
        self.words.extend(block)
        self.first = np.concatenate([self.first, first])
        self.max_held = max(self.max_held, len(self.ids))
        return True

    def tokens(self, start: int, end: int) -> np.ndarray:
        """Subwords `[start, end)`; those before `start` are let go (callers never go back)."""
        while self.end < end and self._read_block():
            pass
        if start > self.base:
            self.ids = self.ids[start - self.base:].copy()  # a copy, so the old buffer can be freed
            self.base = start
        return self.ids[start - self.base:end - self.base]

    def take_words(self, before: int) -> tuple[list[Span], np.ndarray]:
        """The next words whose first subword is before `before` (and words without subwords among
        them), with their first subwords; only words read by `tokens` up to `before` are found."""
        beyond = np.flatnonzero(self.first >= before)
        stop = int(beyond[0]) if len(beyond) else len(self.first)
        words, first = self.words[:stop], self.first[:stop]
        del self.words[:stop]
        self.first = self.first[stop:]
        return words, first

    def rest(self) -> Iterator[tuple[list[Span], np.ndarray]]:
        """The words left after the last window (words without subwords), a block at a time."""
        while True:
            words, first = self.take_words(self.end + 1)
            if words:
                yield words, first
            if not self._read_block():
                return


def word_scores(first: np.ndarray, window: Window, scores: np.ndarray) -> np.ndarray:
    """Scores of words whose first subword `window` owns, as `gather_word_scores` gives them.

    Args:
        first: the words' first subwords (note indices), -1 for a word without subwords.
        window: the window owning those subwords.
        scores: the window's `[len(window) + 2, labels]` scores ([CLS] row first).
    """
    words = unreached_scores(len(first), scores.shape[1])
    reached = first >= 0
    words[reached] = scores[first[reached] - window.start + 1]
    return words


def unreached_scores(count: int, num_labels: int) -> np.ndarray:
    """Scores of words without subwords: 0 for label 0 (`O`), -inf elsewhere, so decoding leaves
    them outside every entity."""
    words = np.full((count, num_labels), -np.inf, dtype=np.float32)
    words[:, 0] = 0.0
    return words
