"""Long documents as overlapping windows of subword tokens, and each token's owning window.

A document of any length is tokenized once (words -> subwords, no special tokens), then cut into
windows of at most `size` subwords (`max_seq_length` minus [CLS] and [SEP]) that overlap by
`overlap` subwords (the recipe's `stride`). The last window simply ends at the document's end, so
no window overlaps its neighbour by more than the stride. Every token is *owned* by exactly one
window: the one in which it is most central (farthest from either edge; ties go to the earlier
window). A word's prediction is read from its first subword in the owning window, so nothing is
truncated and every token sees context on both sides wherever the document has it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from finetune.labels import Span
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
        word_lists: each document's word spans (e.g. from `finetune.labels.word_spans`).
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
    if not 0 <= overlap < size:
        raise InputError(f"stride={overlap} must be at least 0 and below max_seq_length - 2 = {size}")
    if length <= size:
        return [Window(document, 0, length, 0, length)]
    step = size - overlap
    spans = []
    start = 0
    while True:
        end = min(start + size, length)
        spans.append((start, end))
        if end == length:
            break
        start += step
    owners = [0]
    for (left_start, left_end), (right_start, right_end) in zip(spans, spans[1:], strict=False):
        # Inside the shared part, a token goes to the window where it is farther from an edge.
        boundary = right_start
        while boundary < left_end and (min(boundary - left_start, left_end - 1 - boundary)
                                       >= min(boundary - right_start, right_end - 1 - boundary)):
            boundary += 1
        owners.append(boundary)
    owners.append(length)
    return [Window(document, start, end, owners[index], owners[index + 1])
            for index, (start, end) in enumerate(spans)]


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
    words = np.full((len(document.words), num_labels), -np.inf, dtype=np.float32)
    words[:, 0] = 0.0
    reached = document.first_token >= 0
    words[reached] = token_scores[document.first_token[reached]]
    return words
