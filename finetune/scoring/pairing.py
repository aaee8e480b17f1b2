"""Pair each gold document with its prediction, by document id.

Rules (the evaluator's contract):

- A gold document with no prediction is scored as an empty prediction in our `strict` /
  `relaxed` views (all its gold entities are false negatives) and listed in `missing`.
- A predicted document with no gold counterpart means the prediction is not of this gold corpus
  (a wrong directory, renamed files): an `InputError` unless `allow_extra=True`, where it is
  listed in `extra` and not scored.
- Gold and prediction must have identical text: offsets into different texts cannot be compared.
- Duplicate ids on one side are an error.

Sentence-per-document formats (NeMo, CoNLL) name documents `<file stem>:<line>`; the file stems of
a gold and a predicted file may differ, so they are paired by line (`key=line_key`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from finetune.corpora.document import Document
from gatortron_common.logging import InputError

_SHOWN = 5  # ids named in an error message


def document_key(document: Document) -> str:
    """The pairing key of file-per-document formats: the document id itself."""
    return document.id


def line_key(document: Document) -> str:
    """The pairing key of sentence-per-document formats: the line part of `<file stem>:<line>`."""
    return document.id.rsplit(":", 1)[-1]


@dataclass
class DocumentPairs:
    """Gold documents with their predictions (None where the prediction is missing)."""

    pairs: list[tuple[Document, Document | None]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    @property
    def both(self) -> list[tuple[Document, Document]]:
        """The pairs where both sides exist (what the official 2014 script scores)."""
        return [(gold, pred) for gold, pred in self.pairs if pred is not None]


def _index(documents: Iterable[Document], key: Callable[[Document], str], side: str) -> dict[str, Document]:
    indexed: dict[str, Document] = {}
    for document in documents:
        name = key(document)
        if name in indexed:
            raise InputError(f"{side}: document id {name!r} occurs twice")
        indexed[name] = document
    return indexed


def _some(ids: list[str]) -> str:
    shown = ", ".join(ids[:_SHOWN])
    return shown + (f" and {len(ids) - _SHOWN} more" if len(ids) > _SHOWN else "")


def pair_documents(gold: Iterable[Document], pred: Iterable[Document], *, gold_name: str = "gold",
                   pred_name: str = "pred", key: Callable[[Document], str] = document_key,
                   allow_extra: bool = False) -> DocumentPairs:
    """Pair gold and predicted documents by id.

    Args:
        gold: the reference documents.
        pred: the predicted documents.
        gold_name: how error messages name the gold corpus (its path).
        pred_name: how error messages name the predicted corpus (its path).
        key: the pairing key of a document (`document_key` or `line_key`).
        allow_extra: list predicted documents without gold instead of raising.

    Returns:
        The pairs in gold order, the ids missing from pred and the extra pred ids.

    Raises:
        InputError: duplicate ids, different texts, or extra predictions when not allowed.
    """
    gold_index = _index(gold, key, gold_name)
    pred_index = _index(pred, key, pred_name)
    extra = sorted(set(pred_index) - set(gold_index))
    if extra and not allow_extra:
        raise InputError(f"{pred_name}: {len(extra)} predicted document(s) have no gold document in "
                         f"{gold_name} ({_some(extra)}); check the paths, or set allow_extra_pred=true")
    result = DocumentPairs(extra=extra)
    for name, gold_document in gold_index.items():
        pred_document = pred_index.get(name)
        if pred_document is None:
            result.missing.append(name)
        elif pred_document.text != gold_document.text:
            raise InputError(f"{pred_name}: document {name!r} has a different text than in {gold_name} "
                             f"(lengths {len(pred_document.text)} and {len(gold_document.text)}); "
                             "offsets into different texts cannot be compared")
        result.pairs.append((gold_document, pred_document))
    return result
