"""Candidate pairs as model inputs, and model outputs back as relations of documents.

Each candidate (`finetune.relations.candidates`) is its own input: the sentences from its first
argument to its last, markers around both. An input longer than `max_seq_length` is cut to a window
of subwords around its markers (centred on them), never dropped; the cut is counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from finetune.corpora.document import Document
from finetune.relations.candidates import NONE, Candidate, Sentences, candidate_pairs, coverage, marked_text
from finetune.relations.model import RelationModel
from finetune.training.task_runs import batched_outputs


@dataclass
class Examples:
    """Encoded candidates: `input_ids` per candidate (special tokens included), their `labels`
    (indices; -100 where unknown), and counts."""

    candidates: list[Candidate] = field(default_factory=list)
    input_ids: list[list[int]] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    cut: int = 0  # inputs cut to the window around their markers
    gold_covered: int = 0
    gold_total: int = 0


def examples_of(documents: Sequence[Document], relation: RelationModel) -> Examples:
    """Every candidate of `documents`, encoded."""
    info, tokenizer = relation.info, relation.tokenizer
    index = {label: position for position, label in enumerate(info.labels)}
    marker_ids = set(tokenizer.convert_tokens_to_ids(info.markers))
    size = info.max_seq_length - 2
    found = Examples()
    for document in documents:
        sentences = Sentences(document.text)
        pairs = candidate_pairs(document, info.max_sentence_distance, info.attribute_types, info.head_types,
                                sentences)
        covered, total = coverage(document, pairs)
        found.gold_covered += covered
        found.gold_total += total
        if not pairs:
            continue
        texts = [marked_text(document.text, pair, sentences) for pair in pairs]
        for pair, ids in zip(pairs, tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"],
                             strict=True):
            if len(ids) > size:
                ids = _around_markers(ids, marker_ids, size)
                found.cut += 1
            found.candidates.append(pair)
            found.input_ids.append([tokenizer.cls_token_id, *ids, tokenizer.sep_token_id])
            found.labels.append(index.get(pair.label, index[NONE]) if pair.label is not None else -100)
    return found


def _around_markers(ids: list[int], marker_ids: set[int], size: int) -> list[int]:
    positions = [position for position, token in enumerate(ids) if token in marker_ids]
    first, last = positions[0], positions[-1]
    start = max(0, min(first - (size - (last - first + 1)) // 2, len(ids) - size))
    return ids[start:start + size]


class ExampleDataset(torch.utils.data.Dataset):
    """`Examples` for the HF Trainer."""

    def __init__(self, examples: Examples) -> None:
        self.examples = examples

    def __len__(self) -> int:
        return len(self.examples.input_ids)

    def __getitem__(self, position: int) -> dict[str, list[int] | int]:
        return {"input_ids": self.examples.input_ids[position], "labels": self.examples.labels[position]}


def classify(relation: RelationModel, examples: Examples, batch_size: int = 32,
             device: torch.device | None = None, progress: bool = False) -> list[str]:
    """The predicted label of every example; `progress` shows a bar in candidates."""
    predicted: list[int] = [0] * len(examples.input_ids)
    features = [{"input_ids": ids} for ids in examples.input_ids]
    for batch, outputs in batched_outputs(relation.model, relation.tokenizer, features, batch_size, device,
                                          progress, unit="candidates"):
        for position, label in zip(batch, outputs.logits.argmax(-1).tolist(), strict=True):
            predicted[position] = label
    return [relation.info.labels[label] for label in predicted]


def with_relations(documents: Sequence[Document], examples: Examples,
                   labels: Sequence[str]) -> list[Document]:
    """`documents` with their relations replaced by the predicted ones (every label but `NONE`)."""
    found: dict[str, list[dict]] = {document.id: [] for document in documents}
    for candidate, label in zip(examples.candidates, labels, strict=True):
        if label == NONE:
            continue
        relations = found[candidate.document]
        relations.append({"id": f"R{len(relations) + 1}", "type": label,
                          "args": {"Arg1": candidate.attribute.id, "Arg2": candidate.head.id}})
    return [Document(id=document.id, text=document.text, entities=document.entities,
                     relations=found[document.id], metadata=document.metadata) for document in documents]
