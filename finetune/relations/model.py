"""The relation classifier: a BERT-style encoder with a sequence-classification head over
marked candidate pairs, saved self-describing (labels, markers, window) and loaded with the Auto
classes alone (`AutoModelForSequenceClassification`, `AutoTokenizer`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from transformers import AutoModelForSequenceClassification, AutoTokenizer

from finetune.models.ner import encoder_config
from finetune.relations.candidates import ATTRIBUTE_TYPES, HEAD_TYPES, MARKERS, NONE
from finetune.training.task_runs import load_task_model, save_task_model
from gatortron_common.logging import InputError

RELATIONS_KEY = "gatortron_relations"


@dataclass
class RelationInfo:
    """What a relation model needs besides its weights.

    Args:
        labels: `NONE` first, then the relation types.
        max_sentence_distance: candidate pairs lie at most this many sentences apart.
        max_seq_length: subwords per candidate ([CLS] and [SEP] included).
        attribute_types: Arg1 entity types.
        head_types: Arg2 entity types.
        markers: the four marker tokens (Arg1 open/close, Arg2 open/close).
    """

    labels: list[str]
    max_sentence_distance: int = 1
    max_seq_length: int = 256
    attribute_types: list[str] = field(default_factory=lambda: list(ATTRIBUTE_TYPES))
    head_types: list[str] = field(default_factory=lambda: list(HEAD_TYPES))
    markers: list[str] = field(default_factory=lambda: list(MARKERS))

    def block(self) -> dict[str, Any]:
        values = asdict(self)
        values.pop("labels")  # in id2label
        return values


@dataclass
class RelationModel:
    model: Any
    tokenizer: Any
    info: RelationInfo


def build_relation_model(base: str | Path, info: RelationInfo) -> RelationModel:
    """The encoder of `base` with a new head for `info.labels` and the markers in its vocabulary."""
    encoder_config(base)  # a BERT-style encoder directory, or a clear error
    if not info.labels or info.labels[0] != NONE:
        raise InputError(f"relation labels must start with {NONE}")
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    tokenizer.add_special_tokens({"additional_special_tokens": list(info.markers)})
    model = AutoModelForSequenceClassification.from_pretrained(
        base, local_files_only=True, num_labels=len(info.labels), id2label=dict(enumerate(info.labels)),
        label2id={label: index for index, label in enumerate(info.labels)}, ignore_mismatched_sizes=True)
    model.resize_token_embeddings(len(tokenizer))
    return RelationModel(model, tokenizer, info)


def save_relation_model(relation: RelationModel, target: str | Path) -> None:
    """Model, tokenizer and `info` into `target`, replaced as a whole."""
    save_task_model(relation.model, relation.tokenizer, RELATIONS_KEY, relation.info.block(), target)


def load_relation_model(path: str | Path) -> RelationModel:
    """A saved relation model (eval mode; `InputError` for anything else)."""
    model, tokenizer, block = load_task_model(path, RELATIONS_KEY, AutoModelForSequenceClassification,
                                              "relation model")
    labels = [model.config.id2label[index] for index in sorted(int(key) for key in model.config.id2label)]
    return RelationModel(model, tokenizer, RelationInfo(labels=labels, **block))
