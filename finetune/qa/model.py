"""The extractive question-answering model: a BERT-style encoder with a span head (a start and an
end score per subword, `AutoModelForQuestionAnswering`), saved self-describing (`gatortron_qa` in
config.json: window and answer lengths) and loaded with the Auto classes alone; and answers chosen
across a question's windows.

An answer is the span, over every window of its question, with the highest start + end score among
those that lie in the note, end at or after their start, and are at most `max_answer_length`
subwords long (the `n_best` best starts and ends of each window are tried, as SQuAD's reference
implementations do). Its text is the note's characters from the first subword's start to the last
one's end, widened to whole words (a subword inside a word never starts or ends an answer).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForQuestionAnswering, AutoTokenizer

from finetune.models.ner import encoder_config
from finetune.qa.squad import Question
from finetune.qa.windows import Windows, question_windows
from finetune.training.task_runs import batched_outputs, load_task_model, save_task_model
from gatortron_common.logging import InputError

QA_KEY = "gatortron_qa"


@dataclass
class QaInfo:
    """What a QA model needs besides its weights.

    Args:
        max_seq_length: subwords per window (question, note part and special tokens).
        doc_stride: subwords shared by consecutive windows of one note.
        max_query_length: a question is cut to this many subwords.
        max_answer_length: the longest answer, in subwords.
        n_best: starts and ends tried per window.
    """

    max_seq_length: int = 384
    doc_stride: int = 128
    max_query_length: int = 64
    max_answer_length: int = 30
    n_best: int = 20


@dataclass
class QaModel:
    model: Any
    tokenizer: Any
    info: QaInfo

    def windows(self, questions: Sequence[Question], labelled: bool = False) -> Windows:
        info = self.info
        return question_windows(self.tokenizer, questions, info.max_seq_length, info.doc_stride,
                                info.max_query_length, labelled)


def build_qa_model(base: str | Path, info: QaInfo) -> QaModel:
    """The encoder of `base` with a new span head."""
    encoder_config(base)  # a BERT-style encoder directory, or a clear error
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    if not tokenizer.is_fast:
        raise InputError(f"model={base}: question answering needs a fast tokenizer (tokenizer.json)")
    model = AutoModelForQuestionAnswering.from_pretrained(base, local_files_only=True)
    return QaModel(model, tokenizer, info)


def save_qa_model(qa: QaModel, target: str | Path) -> None:
    """Model, tokenizer and `info` into `target`, replaced as a whole."""
    save_task_model(qa.model, qa.tokenizer, QA_KEY, asdict(qa.info), target)


def load_qa_model(path: str | Path) -> QaModel:
    """A saved QA model (eval mode; `InputError` for anything else)."""
    model, tokenizer, block = load_task_model(path, QA_KEY, AutoModelForQuestionAnswering,
                                              "question-answering model")
    return QaModel(model, tokenizer, QaInfo(**block))


def best_spans(start: torch.Tensor, end: torch.Tensor, offsets: list[tuple[int, int] | None], n_best: int,
               max_answer_length: int) -> tuple[float, int, int] | None:
    """(score, first character, end character) of the best valid span of one window, None if none."""
    best: tuple[float, int, int] | None = None
    starts = torch.topk(start, min(n_best, len(start))).indices.tolist()
    ends = torch.topk(end, min(n_best, len(end))).indices.tolist()
    start_scores, end_scores = start.tolist(), end.tolist()  # n_best² sums: Python floats, not tensors
    for first in starts:
        for last in ends:
            if offsets[first] is None or offsets[last] is None or not 0 <= last - first < max_answer_length:
                continue
            score = start_scores[first] + end_scores[last]
            if best is None or score > best[0]:
                best = (score, offsets[first][0], offsets[last][1])  # type: ignore[index]
    return best


def predict_answers(qa: QaModel, questions: Sequence[Question], batch_size: int = 32,
                    device: torch.device | None = None,
                    progress: bool = False) -> tuple[dict[str, str], Windows]:
    """`{question id: answer text}` for every question ("" where no window holds a valid span), and
    the windows read."""
    windows = qa.windows(questions)
    best: dict[int, tuple[float, int, int]] = {}
    for batch, outputs in batched_outputs(qa.model, qa.tokenizer, windows.features, batch_size, device,
                                          progress, unit="windows"):
        starts, ends = outputs.start_logits.float().cpu(), outputs.end_logits.float().cpu()
        for row, position in enumerate(batch):
            length = len(windows.features[position]["input_ids"])
            found = best_spans(starts[row, :length], ends[row, :length], windows.context_offsets[position],
                               qa.info.n_best, qa.info.max_answer_length)
            owner = windows.question_of[position]
            if found is not None and (owner not in best or found[0] > best[owner][0]):
                best[owner] = found
    answers = {}
    for index, question in enumerate(questions):
        span = best.get(index)
        start, end = whole_words(question.context, span[1], span[2]) if span else (0, 0)
        answers[question.id] = question.context[start:end]
    return answers, windows


def whole_words(text: str, start: int, end: int) -> tuple[int, int]:
    """`start`/`end` moved out to the edges of the words they cut: a span may start or end on a
    subword inside a word ("##k pain" of "back pain"), and an answer is never part of a word."""
    while start > 0 and text[start - 1].isalnum() and text[start].isalnum():
        start -= 1
    while end < len(text) and end > 0 and text[end].isalnum() and text[end - 1].isalnum():
        end += 1
    return start, end
