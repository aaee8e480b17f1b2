"""Train a relation classifier with the HF Trainer and score it on a test split.

    python -m finetune.relations model=hf/gatortron-base data_dir=/data/n2c2_2018 output_dir=runs/re
    python -m finetune.relations ... task.epochs=10 task.max_sentence_distance=2   # any recipe key

`train_relations` (what the command runs; settings: configs/finetune/relations.yaml, the recipe
configs/finetune/task/n2c2_2018_relations.yaml) reads the brat
splits, turns every candidate pair into an example, fine-tunes
`AutoModelForSequenceClassification` (cross-entropy over the relation types and `NONE`), saves the
model self-describing, predicts the test split's relations from its gold entities and scores them
with `finetune.relations.scoring` (strict and lenient, per type, micro and macro) into
`test_scores.json`; `summary.json` ends the run. `output_dir` is never, holds or lies inside the
model or the corpus; an earlier run of this command there is replaced only with `overwrite=true`.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers import set_seed

from finetune.corpora.formats import read_corpus
from finetune.relations.candidates import ATTRIBUTE_TYPES, HEAD_TYPES, NONE
from finetune.relations.data import ExampleDataset, classify, examples_of, with_relations
from finetune.relations.model import RelationInfo, build_relation_model, save_relation_model
from finetune.relations.scoring import score_relations
from finetune.training.task_runs import (
    TaskRecipe,
    TaskRunConfig,
    check_at_least,
    check_task_run,
    fit,
    other_rank_summary,
    start_output,
)
from gatortron_common.atomic import atomic_write_text
from gatortron_common.logging import InputError, get_logger
from gatortron_common.settings import register_schema

logger = get_logger("finetune.relations")
RUN_MARKER = "relations_run.json"  # marks an output_dir as this command's own


@dataclass
class RelationRecipe(TaskRecipe):
    """A relation-extraction recipe (configs/finetune/task/n2c2_2018_relations.yaml): `TaskRecipe`'s
    keys, and the candidate window.

    Attributes:
        max_sentence_distance: candidate pairs lie at most this many sentences apart.
    """

    max_sentence_distance: int = 1


@dataclass
class RelationTrainConfig(TaskRunConfig):
    """Settings of one relation-extraction run: `TaskRunConfig`'s, with a `RelationRecipe`.

    Attributes:
        task: the recipe (`task=n2c2_2018_relations`, the default), any key overridable.
    """

    task: RelationRecipe = field(default_factory=RelationRecipe)


register_schema("finetune_relations_schema", RelationTrainConfig)


def validate(settings: RelationTrainConfig) -> None:
    """Every setting checked before any work (one InputError naming the first bad one)."""
    check_at_least((("task.max_sentence_distance", settings.task.max_sentence_distance, 0),))
    for split in ("train", "test"):
        if not (Path(settings.data_dir) / split).is_dir():
            raise InputError(f"data_dir={settings.data_dir}: no {split}/ folder of brat .txt/.ann files")
    check_task_run(settings, RUN_MARKER, "relation extraction output")


def relation_labels(documents: list) -> list[str]:
    """`NONE`, then every relation type of the training documents, most frequent first."""
    counts = Counter(relation["type"] for document in documents for relation in document.relations)
    return [NONE, *sorted(counts, key=lambda name: (-counts[name], name))]


def train_relations(settings: RelationTrainConfig) -> dict[str, Any]:
    """Train, save and score (see the module docstring); returns the summary."""
    started = time.perf_counter()
    validate(settings)
    data = Path(settings.data_dir)
    output = start_output(settings, RUN_MARKER)
    train = read_corpus(data / "train", "brat")
    test = read_corpus(data / "test", "brat")
    labels = relation_labels(train)
    if len(labels) < 2:
        raise InputError(f"data_dir={data}: the training split has no relations")
    set_seed(settings.seed)  # the new head's initialisation
    info = RelationInfo(labels=labels, max_sentence_distance=settings.task.max_sentence_distance,
                        max_seq_length=settings.task.max_seq_length, attribute_types=list(ATTRIBUTE_TYPES),
                        head_types=list(HEAD_TYPES))
    relation = build_relation_model(settings.model, info)
    train_examples = examples_of(train, relation)
    steps = fit(relation.model, relation.tokenizer, ExampleDataset(train_examples), settings, output)
    if (done := other_rank_summary(steps)) is not None:
        return done
    save_relation_model(relation, output / "model")
    test_examples = examples_of(test, relation)
    predicted = with_relations(test, test_examples, classify(relation, test_examples))
    scores = score_relations(zip(test, predicted, strict=True))
    atomic_write_text(output / "test_scores.json", json.dumps(scores, indent=2) + "\n")
    summary = {"labels": labels, "steps": steps, "train_candidates": len(train_examples.input_ids),
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
