"""A dictionary baseline for NER tests: every training entity string, tagged wherever it recurs."""

from __future__ import annotations

import re
from collections import Counter

from finetune.corpora.document import Document, Entity


def dictionary_baseline(train: list[Document], test: list[Document]) -> list[Document]:
    """Test documents with entities wherever a training entity's exact text occurs (longest first,
    on word boundaries, non-overlapping), typed by that text's most frequent training type."""
    types: dict[str, Counter[str]] = {}
    for document in train:
        for entity in document.entities:
            types.setdefault(document.text[entity.start:entity.end], Counter())[entity.type] += 1
    surfaces = sorted((s for s in types if s.strip()), key=len, reverse=True)
    predictions = []
    for document in test:
        taken = [False] * len(document.text)
        entities = []
        for surface in surfaces:
            for match in re.finditer(rf"(?<!\w){re.escape(surface)}(?!\w)", document.text):
                start, end = match.span()
                if not any(taken[start:end]):
                    taken[start:end] = [True] * (end - start)
                    entities.append(Entity(start=start, end=end, type=types[surface].most_common(1)[0][0]))
        entities.sort(key=lambda e: e.start)
        predictions.append(Document(id=document.id, text=document.text, entities=entities))
    return predictions
