"""The sentence-pair model: a BERT-style encoder reading `[CLS] sentence1 [SEP] sentence2 [SEP]` with
a sequence-classification head (sts: one output, mean-squared-error regression of the 0-5 score;
mednli: three classes, cross-entropy), saved self-describing (`gatortron_pairs` in config.json:
the task and the input length) and loaded with the Auto classes alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from finetune.models.ner import encoder_config
from finetune.pairs.readers import MEDNLI_LABELS, STS_RANGE, TASKS, SentencePair
from finetune.training.task_runs import batched_outputs, load_task_model, save_task_model
from gatortron_common.logging import InputError

PAIRS_KEY = "gatortron_pairs"


@dataclass
class PairModel:
    model: Any
    tokenizer: Any
    task: str
    max_seq_length: int

    @property
    def labels(self) -> list[str]:
        return list(MEDNLI_LABELS) if self.task == "mednli" else []


def build_pair_model(base: str | Path, task: str, max_seq_length: int) -> PairModel:
    """The encoder of `base` with a new head for `task`."""
    if task not in TASKS:
        raise InputError(f"task={task!r}: expected one of {', '.join(TASKS)}")
    encoder_config(base)  # a BERT-style encoder directory, or a clear error
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    if task == "sts":
        head: dict[str, Any] = {"num_labels": 1, "problem_type": "regression"}
    else:
        head = {"num_labels": len(MEDNLI_LABELS), "problem_type": "single_label_classification",
                "id2label": dict(enumerate(MEDNLI_LABELS)),
                "label2id": {label: index for index, label in enumerate(MEDNLI_LABELS)}}
    model = AutoModelForSequenceClassification.from_pretrained(base, local_files_only=True,
                                                               ignore_mismatched_sizes=True, **head)
    return PairModel(model, tokenizer, task, max_seq_length)


def save_pair_model(pair: PairModel, target: str | Path) -> None:
    """Model, tokenizer and the task block into `target`, replaced as a whole."""
    block = {"task": pair.task, "max_seq_length": pair.max_seq_length}
    save_task_model(pair.model, pair.tokenizer, PAIRS_KEY, block, target)


def load_pair_model(path: str | Path) -> PairModel:
    """A saved sentence-pair model (eval mode; `InputError` for anything else)."""
    model, tokenizer, block = load_task_model(path, PAIRS_KEY, AutoModelForSequenceClassification,
                                              "sentence-pair model")
    if block.get("task") not in TASKS:
        raise InputError(f"model={path}: its {PAIRS_KEY} task is not one of {', '.join(TASKS)}")
    return PairModel(model, tokenizer, block["task"], int(block["max_seq_length"]))


@dataclass
class Encoded:
    """Model inputs of pairs: `features` (input_ids, token_type_ids; labels when known) and how many
    pairs were cut to `max_seq_length` (the longer sentence loses subwords first)."""

    features: list[dict[str, Any]]
    cut: int


def encode_pairs(pair: PairModel, pairs: Sequence[SentencePair]) -> Encoded:
    """`pairs` as model inputs; a pair's gold label becomes `labels` (a float score or a class index)."""
    firsts, seconds = [p.sentence1 for p in pairs], [p.sentence2 for p in pairs]
    encoded = pair.tokenizer(firsts, seconds, truncation="longest_first", max_length=pair.max_seq_length,
                             verbose=False)
    # Only a pair that fills max_seq_length may have been cut: those alone are measured again, whole.
    full = [i for i, ids in enumerate(encoded["input_ids"]) if len(ids) == pair.max_seq_length]
    lengths = pair.tokenizer([firsts[i] for i in full], [seconds[i] for i in full], return_length=True,
                             verbose=False)["length"] if full else []
    index = {label: position for position, label in enumerate(MEDNLI_LABELS)}
    features = []
    for position, item in enumerate(pairs):
        feature: dict[str, Any] = {"input_ids": encoded["input_ids"][position],
                                   "token_type_ids": encoded["token_type_ids"][position]}
        if item.label is not None:
            feature["labels"] = float(item.label) if pair.task == "sts" else index[str(item.label)]
        features.append(feature)
    return Encoded(features, sum(length > pair.max_seq_length for length in lengths))


def predict_pairs(pair: PairModel, encoded: Encoded, batch_size: int = 32, device: torch.device | None = None,
                  progress: bool = False) -> list[float | str]:
    """Each pair's predicted score (sts, clipped to 0-5) or class (mednli)."""
    predicted: list[float | str] = [0.0] * len(encoded.features)
    inputs = [{key: value for key, value in feature.items() if key != "labels"}
              for feature in encoded.features]
    for batch, outputs in batched_outputs(pair.model, pair.tokenizer, inputs, batch_size, device, progress,
                                          unit="pairs"):
        logits = outputs.logits.float().cpu()
        if pair.task == "sts":
            values: list[float | str] = logits[:, 0].clamp(*STS_RANGE).tolist()
        else:
            values = [MEDNLI_LABELS[label] for label in logits.argmax(-1).tolist()]
        for position, value in zip(batch, values, strict=True):
            predicted[position] = value
    return predicted
