"""Questions as model inputs: `[CLS] question [SEP] window of the note [SEP]`, a long note in windows
of `max_seq_length` subwords that overlap by `doc_stride` subwords (the tokenizer's own overflow,
as HF's SQuAD examples do), so every part of every note is read.

A question longer than `max_query_length` subwords is cut to that length (counted). For training, a
window holding its question's first answer whole is labelled with the answer's first and last
subwords; a window that does not is labelled with [CLS] (position 0), which teaches the model
that the answer is elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from finetune.qa.squad import Question


@dataclass
class Windows:
    """Encoded windows: `features` (input_ids, token_type_ids; start/end positions when `labelled`),
    the question each came from, each subword's character span in the context (None outside it),
    and counts."""

    features: list[dict[str, Any]] = field(default_factory=list)
    question_of: list[int] = field(default_factory=list)
    context_offsets: list[list[tuple[int, int] | None]] = field(default_factory=list)
    questions_cut: int = 0
    answers_in_a_window: int = 0  # training: questions whose first answer some window holds whole
    answers_total: int = 0


def _cut_question(tokenizer: Any, question: str, max_query_length: int) -> tuple[str, bool]:
    encoded = tokenizer(question, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    if len(encoded["input_ids"]) <= max_query_length:
        return question, False
    return question[:encoded["offset_mapping"][max_query_length - 1][1]], True


def question_windows(tokenizer: Any, questions: Sequence[Question], max_seq_length: int, doc_stride: int,
                     max_query_length: int, labelled: bool = False) -> Windows:
    """Every window of every question (see the module docstring)."""
    found = Windows()
    if not questions:
        return found
    texts = []
    for question in questions:
        text, cut = _cut_question(tokenizer, question.question, max_query_length)
        texts.append(text)
        found.questions_cut += cut
    encoded = tokenizer(texts, [question.context for question in questions], truncation="only_second",
                        max_length=max_seq_length, stride=doc_stride, return_overflowing_tokens=True,
                        return_offsets_mapping=True, verbose=False)
    held: set[int] = set()
    for index, owner in enumerate(encoded["overflow_to_sample_mapping"]):
        sequence = encoded.sequence_ids(index)
        offsets = [tuple(span) if part == 1 else None for span, part in zip(encoded["offset_mapping"][index],
                                                                            sequence, strict=True)]
        feature: dict[str, Any] = {"input_ids": encoded["input_ids"][index],
                                   "token_type_ids": encoded["token_type_ids"][index]}
        if labelled:
            start, end = _answer_positions(offsets, questions[owner])
            feature["start_positions"], feature["end_positions"] = start, end
            if end:
                held.add(owner)
        found.features.append(feature)
        found.question_of.append(owner)
        found.context_offsets.append(offsets)  # type: ignore[arg-type]
    if labelled:
        found.answers_total = sum(bool(question.answers) for question in questions)
        found.answers_in_a_window = len(held)
    return found


def _answer_positions(offsets: list[tuple[int, int] | None], question: Question) -> tuple[int, int]:
    """The first and last subwords of the question's first answer in this window, (0, 0) when the
    window does not hold it whole."""
    if not question.answers:
        return 0, 0
    answer = question.answers[0]
    inside = [i for i, span in enumerate(offsets) if span is not None]
    if not inside or offsets[inside[0]][0] > answer.start or offsets[inside[-1]][1] < answer.end:  # type: ignore[index]
        return 0, 0
    first = next(i for i in inside if offsets[i][1] > answer.start)  # type: ignore[index]
    last = next(i for i in reversed(inside) if offsets[i][0] < answer.end)  # type: ignore[index]
    return (first, last) if first <= last else (0, 0)
