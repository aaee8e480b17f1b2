"""SQuAD-style question-answering files (the form emrQA is converted to), read and written.

    {"version": "...", "data": [{"title": "note 12", "paragraphs": [{"context": "<the note>",
        "qas": [{"id": "q1", "question": "What is the dosage of Lasix?",
                 "answers": [{"text": "40 mg", "answer_start": 118}]}]}]}]}

Every answer must be the text of its context at `answer_start`. emrQA's conversions hold answers
whose offset is off (the text sits elsewhere in the note): such an answer is moved to the
occurrence of its text nearest the given offset and counted as a repair; one whose text the context
does not hold is left out and counted. A question without a usable answer is kept for prediction
and left out of training (counted). Every count names its place (`file: data[i].paragraphs[j].qas[k]`),
never the text. Predictions are written as SQuAD's evaluation script reads them: `{id: answer text}`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gatortron_common.atomic import atomic_write_text
from gatortron_common.logging import InputError, SkipReport


@dataclass(frozen=True)
class Answer:
    text: str
    start: int

    @property
    def end(self) -> int:
        return self.start + len(self.text)


@dataclass(frozen=True)
class Question:
    """One question about one context; `answers` may be empty (nothing to train on or score against)."""

    id: str
    question: str
    context: str
    answers: tuple[Answer, ...] = field(default_factory=tuple)
    title: str = ""


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))  # a BOM is no JSON
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not UTF-8 text (byte {error.start})") from None
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: not JSON (line {error.lineno}, column {error.colno})") from None


def _answer(context: str, raw: Any, where: str, report: SkipReport) -> Answer | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("text"), str) or not raw["text"].strip() \
            or not isinstance(raw.get("answer_start"), int):
        report.skip("an answer without text or an integer answer_start", where)
        return None
    text, start = raw["text"], raw["answer_start"]
    if context[start:start + len(text)] == text:
        return Answer(text, start)
    found, at = [], context.find(text)
    while at >= 0:
        found.append(at)
        at = context.find(text, at + 1)
    if not found:
        report.skip("an answer whose text the context does not hold", where)
        return None
    report.skip("an answer moved to its text's occurrence nearest answer_start", where, by_design=True)
    return Answer(text, min(found, key=lambda offset: abs(offset - start)))


def read_squad(path: str | Path, report: SkipReport | None = None) -> list[Question]:
    """Every question of a SQuAD-style file, with its usable answers (see the module docstring).

    Raises:
        InputError: not JSON, or no `data` list.
    """
    path, report = Path(path), report if report is not None else SkipReport()
    document = _load(path)
    if not isinstance(document, dict) or not isinstance(document.get("data"), list):
        raise InputError(f"{path}: not a SQuAD-style file (no top-level \"data\" list)")
    questions: list[Question] = []
    seen: set[str] = set()
    for i, article in enumerate(document["data"]):
        paragraphs = article.get("paragraphs") if isinstance(article, dict) else None
        if not isinstance(paragraphs, list):
            report.skip("an article without a paragraphs list", f"{path}: data[{i}]")
            continue
        title = str(article.get("title", ""))
        for j, paragraph in enumerate(paragraphs):
            where = f"{path}: data[{i}].paragraphs[{j}]"
            context = paragraph.get("context") if isinstance(paragraph, dict) and "qas" in paragraph else None
            if not isinstance(context, str) or not context.strip() or not isinstance(paragraph["qas"], list):
                report.skip("a paragraph without a context or a qas list", where)
                continue
            for k, qa in enumerate(paragraph["qas"]):
                place = f"{where}.qas[{k}]"
                if not isinstance(qa, dict) or not isinstance(qa.get("question"), str) \
                        or not qa["question"].strip() or qa.get("id") in (None, ""):
                    report.skip("a question without an id or text", place)
                    continue
                identifier = str(qa["id"])
                if identifier in seen:
                    report.skip("a question id seen before", place)
                    continue
                seen.add(identifier)
                answers = [_answer(context, raw, place, report) for raw in qa.get("answers") or []]
                questions.append(Question(identifier, qa["question"].strip(), context,
                                          tuple(a for a in answers if a is not None), title))
    return questions


def write_squad(path: str | Path, questions: list[Question], version: str = "gatortron") -> None:
    """`questions` as a SQuAD-style file (contexts grouped by title and text), atomically."""
    articles: dict[str, dict[str, list]] = {}
    for question in questions:
        paragraphs = articles.setdefault(question.title, {})
        paragraphs.setdefault(question.context, []).append(
            {"id": question.id, "question": question.question,
             "answers": [{"text": a.text, "answer_start": a.start} for a in question.answers]})
    data = [{"title": title,
             "paragraphs": [{"context": context, "qas": qas} for context, qas in paragraphs.items()]}
            for title, paragraphs in articles.items()]
    atomic_write_text(path, json.dumps({"version": version, "data": data}, ensure_ascii=False) + "\n")


def write_predictions(path: str | Path, answers: Mapping[str, str]) -> None:
    """`{question id: answer text}`, the file SQuAD's evaluation script reads, atomically."""
    atomic_write_text(path, json.dumps(dict(answers), indent=1, ensure_ascii=False) + "\n")


def read_predictions(path: str | Path) -> dict[str, str]:
    """A `{question id: answer text}` file.

    Raises:
        InputError: not JSON, or not an object of strings.
    """
    path = Path(path)
    predictions = _load(path)
    if not isinstance(predictions, dict) or not all(isinstance(v, str) for v in predictions.values()):
        raise InputError(f"{path}: not a JSON object of question id -> answer text")
    return predictions
