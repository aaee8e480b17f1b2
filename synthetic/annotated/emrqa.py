"""A synthetic emrQA (medication subset) in SQuAD form, made from the synthetic n2c2 2018 notes.

emrQA built its medication questions from the n2c2 medication annotations with question templates
("What is the dosage of |medication|?"); here the same is done with the synthetic n2c2 2018 notes'
relations: for each drug and attribute type, a question in one of its phrasings whose answers are
every contiguous attribute span of that type linked to a mention of that drug in the note. The
context is the whole note, far longer than one window of a small model.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from finetune.corpora.document import Document
from finetune.qa.squad import Answer, Question
from synthetic.text import Dice

# emrQA-style templates per relation type; |drug| is the drug's text in the note.
QUESTION_TEMPLATES: dict[str, tuple[str, ...]] = {
    "Strength-Drug": ("What is the dosage of |drug|?", "What strength of |drug| does the patient take?"),
    "Frequency-Drug": ("How often does the patient take |drug|?", "What is the frequency of |drug|?"),
    "Route-Drug": ("How is |drug| taken?", "What is the route of |drug|?"),
    "Reason-Drug": ("Why is the patient on |drug|?", "What is |drug| prescribed for?"),
    "Duration-Drug": ("How long is the patient on |drug|?", "For how long was |drug| given?"),
    "Form-Drug": ("What form of |drug| is prescribed?",),
    "Dosage-Drug": ("How many doses of |drug| does the patient take?",),
    "ADE-Drug": ("What adverse reaction did the patient have to |drug|?",),
}


def note_questions(document: Document, dice: Dice) -> list[Question]:
    """The questions of one note (see the module docstring), in the order their drugs appear."""
    by_id = {entity.id: entity for entity in document.entities}
    answers: dict[tuple[str, str], dict[tuple[int, int], str]] = defaultdict(dict)
    names: dict[str, str] = {}
    for relation in document.relations:
        attribute, drug = by_id[relation["args"]["Arg1"]], by_id[relation["args"]["Arg2"]]
        if attribute.fragments or relation["type"] not in QUESTION_TEMPLATES:
            continue  # a discontinuous span is no extractive answer
        name = document.text[drug.start:drug.end]
        names.setdefault(name.lower(), name)
        answers[(relation["type"], name.lower())][(attribute.start, attribute.end)] = \
            document.text[attribute.start:attribute.end]
    questions = []
    for number, ((kind, drug), spans) in enumerate(answers.items()):
        template = dice.choice(QUESTION_TEMPLATES[kind])
        found = tuple(Answer(text, start) for (start, _), text in sorted(spans.items()))
        questions.append(Question(f"{document.id}-q{number}", template.replace("|drug|", names[drug]),
                                  document.text, found, title=document.id))
    return questions


def questions_of(documents: list[Document], seed: int) -> list[Question]:
    """The questions of synthetic n2c2 2018 notes (deterministic for `seed`)."""
    dice = Dice(np.random.default_rng([seed, 2017]))
    return [question for document in documents for question in note_questions(document, dice)]
