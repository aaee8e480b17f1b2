"""Train a relation classifier with the HF Trainer and score it on a test split.

`train_relations` is the library entry point (its command and recipe YAML are still to come): it
reads the brat splits, turns every candidate pair into an example, fine-tunes
`AutoModelForSequenceClassification` (cross-entropy over the relation types and `NONE`), saves the
model self-describing, predicts the test split's relations from its gold entities and scores them
with `finetune.relations.scoring` (strict and lenient, per type, micro and macro).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transformers import DataCollatorWithPadding, Trainer, TrainingArguments, set_seed

from finetune.corpora.formats import read_corpus
from finetune.relations.candidates import ATTRIBUTE_TYPES, HEAD_TYPES, NONE
from finetune.relations.data import ExampleDataset, classify, examples_of, with_relations
from finetune.relations.model import RelationInfo, build_relation_model, save_relation_model
from finetune.relations.scoring import score_relations
from gatortron_common.atomic import atomic_write_text
from gatortron_common.logging import InputError, get_logger

logger = get_logger("finetune.relations")


@dataclass
class RelationTrainConfig:
    """Settings of one relation-extraction run.

    Attributes:
        model: a HF BERT-style encoder directory.
        data_dir: a folder with the brat splits `train/` and `test/`.
        output_dir: where `model/`, `test_scores.json` and `summary.json` go.
        max_sentence_distance: candidate pairs lie at most this many sentences apart.
        max_seq_length: subwords per candidate.
        epochs, batch_size, lr, weight_decay, warmup_ratio: the optimisation.
        seed: for the head's initialisation and the data order.
    """

    model: str
    data_dir: str
    output_dir: str
    max_sentence_distance: int = 1
    max_seq_length: int = 256
    epochs: int = 3
    batch_size: int = 16
    lr: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    seed: int = 42


def relation_labels(documents: list) -> list[str]:
    """`NONE`, then every relation type of the training documents, most frequent first."""
    counts = Counter(relation["type"] for document in documents for relation in document.relations)
    return [NONE, *sorted(counts, key=lambda name: (-counts[name], name))]


def train_relations(settings: RelationTrainConfig) -> dict[str, Any]:
    """Train, save and score (see the module docstring); returns the summary."""
    started = time.perf_counter()
    if settings.max_sentence_distance < 0 or settings.max_seq_length < 8:
        raise InputError("max_sentence_distance must be 0 or more and max_seq_length at least 8")
    data, output = Path(settings.data_dir), Path(settings.output_dir)
    train = read_corpus(data / "train", "brat")
    test = read_corpus(data / "test", "brat")
    labels = relation_labels(train)
    if len(labels) < 2:
        raise InputError(f"data_dir={data}: the training split has no relations")
    set_seed(settings.seed)
    info = RelationInfo(labels=labels, max_sentence_distance=settings.max_sentence_distance,
                        max_seq_length=settings.max_seq_length, attribute_types=list(ATTRIBUTE_TYPES),
                        head_types=list(HEAD_TYPES))
    relation = build_relation_model(settings.model, info)
    train_examples = examples_of(train, relation)
    arguments = TrainingArguments(
        output_dir=str(output / "checkpoints"), num_train_epochs=settings.epochs,
        per_device_train_batch_size=settings.batch_size, learning_rate=settings.lr,
        weight_decay=settings.weight_decay, warmup_steps=settings.warmup_ratio, save_strategy="no",
        logging_steps=50, report_to="none", seed=settings.seed, data_seed=settings.seed, use_cpu=True,
        disable_tqdm=True)
    trainer = Trainer(model=relation.model, args=arguments, train_dataset=ExampleDataset(train_examples),
                      data_collator=DataCollatorWithPadding(relation.tokenizer))
    trainer.train()
    save_relation_model(relation, output / "model")
    test_examples = examples_of(test, relation)
    predicted = with_relations(test, test_examples, classify(relation, test_examples))
    scores = score_relations(zip(test, predicted, strict=True))
    atomic_write_text(output / "test_scores.json", json.dumps(scores, indent=2) + "\n")
    summary = {"labels": labels, "train_candidates": len(train_examples.input_ids),
               "train_gold_covered": [train_examples.gold_covered, train_examples.gold_total],
               "test_candidates": len(test_examples.input_ids),
               "test_gold_covered": [test_examples.gold_covered, test_examples.gold_total],
               "cut_to_window": train_examples.cut + test_examples.cut,
               "test_strict_micro_f1": scores["strict"]["micro"]["f1"],
               "test_lenient_micro_f1": scores["lenient"]["micro"]["f1"],
               "seconds": round(time.perf_counter() - started, 1), "model": str(output / "model")}
    atomic_write_text(output / "summary.json", json.dumps(summary, indent=2) + "\n")
    logger.info("relations: %d train candidates, test strict micro F1 %.4f; model in %s",
                summary["train_candidates"], summary["test_strict_micro_f1"], summary["model"])
    return summary
