"""Exact match and token F1, counted as SQuAD v1.1's evaluation script counts them.

An answer is normalised (lower case; punctuation removed; the articles a, an, the removed as words;
whitespace collapsed); a prediction's exact match is 1 when it equals any gold answer so
normalised, its F1 the best over the gold answers of the harmonic mean of the shared-token
precision and recall (token counts, not sets). Both are averaged over the questions that have gold
answers, in percent as the script prints them; a question without a prediction scores 0 and is
counted in `missing`.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from finetune.qa.squad import Question

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    text = "".join(character for character in text.lower() if character not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def token_f1(prediction: str, gold: str) -> float:
    predicted, truth = normalize_answer(prediction).split(), normalize_answer(gold).split()
    shared = sum((Counter(predicted) & Counter(truth)).values())
    if shared == 0:
        return 0.0
    precision, recall = shared / len(predicted), shared / len(truth)
    return 2 * precision * recall / (precision + recall)


def score_answers(questions: Iterable[Question], predictions: Mapping[str, str]) -> dict[str, Any]:
    """`{"exact_match", "f1", "questions", "missing"}` over the questions with gold answers."""
    exact = f1 = 0.0
    scored = missing = 0
    for question in questions:
        if not question.answers:
            continue
        scored += 1
        if question.id not in predictions:
            missing += 1
            continue
        prediction = predictions[question.id]
        exact += max(exact_match(prediction, answer.text) for answer in question.answers)
        f1 += max(token_f1(prediction, answer.text) for answer in question.answers)
    def percent(total: float) -> float:
        return 100.0 * total / scored if scored else 0.0

    return {"exact_match": percent(exact), "f1": percent(f1), "questions": scored, "missing": missing}
