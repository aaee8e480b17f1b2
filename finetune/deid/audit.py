"""Residual PHI: what of the gold PHI would still be readable in the de-identified output.

A gold PHI span *survives* when any of its letters or digits lies outside every span the tool
replaced; a PHI *token* (a run of `[A-Za-z0-9]`, as the official i2b2 2014 Token view splits PHI)
survives when any of its characters does. Counted per category, beside the i2b2 2014 scores of
the found spans (`finetune.scoring`, official views included). Counts only, never text.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from finetune.corpora.document import Document, Entity
from finetune.deid.rules import PhiSpan
from finetune.scoring.documents import evaluate_documents

_TOKEN = re.compile(r"[A-Za-z0-9]+")


def residual_phi(gold: Sequence[Document], found: Mapping[str, Sequence[PhiSpan]]) -> dict[str, Any]:
    """Gold spans and tokens left readable, per category and in all, for documents in `found`.

    Args:
        gold: annotated documents (category on each entity, as i2b2 2014 has).
        found: the spans the tool replaced, by document id (the same ids as `gold`).
    """
    spans, spans_left, tokens, tokens_left = Counter(), Counter(), Counter(), Counter()
    for document in gold:
        if document.id not in found:
            continue
        covered = bytearray(len(document.text))
        for span in found[document.id]:
            covered[span.start:span.end] = b"\x01" * (span.end - span.start)
        for entity in document.entities:
            category = entity.category or entity.type
            runs = [match.span() for start, end in entity.spans
                    for match in _TOKEN.finditer(document.text, start, end)]
            left = [run for run in runs if not all(covered[run[0]:run[1]])]
            spans[category] += 1
            spans_left[category] += bool(left)
            tokens[category] += len(runs)
            tokens_left[category] += len(left)

    def block(names: Sequence[str]) -> dict[str, Any]:
        total_spans, total_tokens = sum(spans[n] for n in names), sum(tokens[n] for n in names)
        left_spans, left_tokens = sum(spans_left[n] for n in names), sum(tokens_left[n] for n in names)
        return {"spans": total_spans, "spans_left": left_spans,
                "spans_left_share": left_spans / total_spans if total_spans else 0.0,
                "tokens": total_tokens, "tokens_left": left_tokens,
                "tokens_left_share": left_tokens / total_tokens if total_tokens else 0.0}

    return {"all": block(list(spans)), "per_category": {name: block([name]) for name in sorted(spans)}}


def audit(gold: Sequence[Document], found: Mapping[str, Sequence[PhiSpan]]) -> dict[str, Any]:
    """Residual PHI and the i2b2 2014 scores of the found spans against `gold`."""
    predictions = [Document(id=document.id, text=document.text,
                            entities=[Entity(start=s.start, end=s.end, type=s.subtype, category=s.category)
                                      for s in found.get(document.id, [])])
                   for document in gold if document.id in found]
    scored = [document for document in gold if document.id in found]
    return {"documents": len(scored), "residual_phi": residual_phi(scored, found),
            "scores": evaluate_documents(scored, predictions, "i2b2_2014")}
