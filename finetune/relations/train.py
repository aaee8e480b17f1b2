"""Train a relation classifier with the HF Trainer and score it on a test split.

    python -m finetune.relations model=hf/gatortron-base data_dir=/data/n2c2_2018 output_dir=runs/re

`train_relations` (what the command runs; settings: configs/finetune/relations.yaml) reads the brat
splits, turns every candidate pair into an example, fine-tunes
`AutoModelForSequenceClassification` (cross-entropy over the relation types and `NONE`), saves the
model self-describing, predicts the test split's relations from its gold entities and scores them
with `finetune.relations.scoring` (strict and lenient, per type, micro and macro) into
`test_scores.json`; `summary.json` ends the run. `output_dir` is never, holds or lies inside the
model or the corpus; an earlier run of this command there is replaced only with `overwrite=true`.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from transformers import DataCollatorWithPadding, Trainer, TrainingArguments, set_seed

from finetune.corpora.formats import read_corpus
from finetune.inference.predictor import resolve_device
from finetune.models.ner import encoder_config
from finetune.relations.candidates import ATTRIBUTE_TYPES, HEAD_TYPES, NONE
from finetune.relations.data import ExampleDataset, classify, examples_of, with_relations
from finetune.relations.model import RelationInfo, build_relation_model, save_relation_model
from finetune.relations.scoring import score_relations
from gatortron_common.atomic import atomic_write_text, restrict_outputs_to
from gatortron_common.logging import InputError, get_logger
from gatortron_common.outputs import check_output_path
from gatortron_common.settings import register_schema

logger = get_logger("finetune.relations")
RUN_MARKER = "relations_run.json"  # marks an output_dir as this command's own


@dataclass
class RelationTrainConfig:
    """Settings of one relation-extraction run.

    Attributes:
        model: a HF BERT-style encoder directory.
        data_dir: a folder with the brat splits `train/` and `test/`.
        output_dir: where `model/`, `test_scores.json` and `summary.json` go.
        max_sentence_distance: candidate pairs lie at most this many sentences apart.
        max_seq_length: subwords per candidate ([CLS] and [SEP] included; cut around the markers).
        epochs: passes over the training candidates.
        batch_size: candidates per step.
        lr: peak learning rate (AdamW, linear decay).
        weight_decay: AdamW's weight decay.
        warmup_ratio: share of the steps spent warming up.
        seed: for the head's initialisation and the data order.
        device: `auto`, `cpu` or `cuda`.
        overwrite: replace an earlier run of this command in output_dir.
        log_level: logging level.
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
    device: str = "auto"
    overwrite: bool = False
    log_level: str = "INFO"


register_schema("finetune_relations_schema", RelationTrainConfig)


def is_run_dir(path: Path) -> bool:
    return path.is_dir() and (path / RUN_MARKER).is_file()


def validate(settings: RelationTrainConfig) -> None:
    """Every setting checked before any work (one InputError naming the first bad one)."""
    for name, value, least in (("max_sentence_distance", settings.max_sentence_distance, 0),
                               ("max_seq_length", settings.max_seq_length, 8), ("epochs", settings.epochs, 1),
                               ("batch_size", settings.batch_size, 1)):
        if value < least:
            raise InputError(f"{name}={value}: must be at least {least}")
    if not settings.lr > 0 or not 0 <= settings.warmup_ratio < 1:
        raise InputError("lr must be positive and warmup_ratio in [0, 1)")
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # every rank would write the outputs
        raise InputError("python -m finetune.relations trains in one process; start it without torchrun")
    encoder_config(settings.model)
    for split in ("train", "test"):
        if not (Path(settings.data_dir) / split).is_dir():
            raise InputError(f"data_dir={settings.data_dir}: no {split}/ folder of brat .txt/.ann files")
    resolve_device(settings.device)
    check_output_path(settings.output_dir, "output_dir", settings.overwrite, is_run_dir,
                      inputs=[settings.model, settings.data_dir], what="relation extraction output",
                      kind="directory", within_inputs=True)


def relation_labels(documents: list) -> list[str]:
    """`NONE`, then every relation type of the training documents, most frequent first."""
    counts = Counter(relation["type"] for document in documents for relation in document.relations)
    return [NONE, *sorted(counts, key=lambda name: (-counts[name], name))]


def train_relations(settings: RelationTrainConfig) -> dict[str, Any]:
    """Train, save and score (see the module docstring); returns the summary."""
    started = time.perf_counter()
    validate(settings)
    data, output = Path(settings.data_dir), Path(settings.output_dir)
    restrict_outputs_to([settings.model, settings.data_dir])
    # What validate let through: our own earlier run, an empty folder, or anything under overwrite=true.
    if output.is_dir() and not output.is_symlink():
        shutil.rmtree(output)
    elif output.exists() or output.is_symlink():
        output.unlink()  # a file where the folder goes
    output.mkdir(parents=True)
    atomic_write_text(output / RUN_MARKER, json.dumps({"settings": asdict(settings)}, indent=2) + "\n")
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
        logging_steps=50, report_to="none", seed=settings.seed, data_seed=settings.seed,
        use_cpu=resolve_device(settings.device).type == "cpu")
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
