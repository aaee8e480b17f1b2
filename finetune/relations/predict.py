"""Predict relations and write them back as brat `R` lines.

    python -m finetune.relations.predict model=runs/re/model input=/data/n2c2_2018/test output=pred_brat/
    python -m finetune.relations.predict model=runs/re/model input=notes_brat/ output=pred_brat/ \
        entities=runs/n2c2_ner/model      # end to end: entities from a concept-extraction model first

`input` is a folder of brat `.txt` files (with `.ann` files holding the entities, unless `entities`
names a fine-tuned concept-extraction model, which then finds them: `python -m finetune` with
`task=n2c2_2018`). Every candidate pair of each note is classified (`finetune.relations.data`); the
output holds the notes, their entities and the predicted relations (their gold relations replaced).
Score it with `finetune.relations.scoring.score_relations`. Settings: configs/finetune/relations_predict.yaml.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig

from finetune.corpora.document import Document
from finetune.corpora.formats import FormatReport, read_corpus
from finetune.corpora.formats.outputs import check_output, write_output
from finetune.inference.predictor import Predictor, resolve_device
from finetune.models.ner import load_ner_model
from finetune.relations.data import classify, examples_of, with_relations
from finetune.relations.model import load_relation_model
from finetune.training.task_runs import TaskPredictConfig, check_at_least
from gatortron_common.atomic import restrict_outputs_to
from gatortron_common.cli import run_command, run_stage
from gatortron_common.logging import InputError, get_logger
from gatortron_common.settings import HYDRA_VERSION, config_dir, register_schema

logger = get_logger("finetune.relations.predict")


@dataclass
class RelationPredictConfig(TaskPredictConfig):
    """Settings of `python -m finetune.relations.predict`: `TaskPredictConfig`'s (`input` a folder of
    brat `.txt` notes, with `.ann` files holding their entities unless `entities`; `output` the brat
    folder written), and the entity source.

    Attributes:
        entities: a fine-tuned concept-extraction model that finds the entities first (end to end);
            null takes them from the input's `.ann` files.
    """

    entities: str | None = None


register_schema("finetune_relations_predict_schema", RelationPredictConfig)


def with_entity_ids(document: Document) -> Document:
    """Predicted entities numbered T1, T2, ... (relations name their arguments by id)."""
    for number, entity in enumerate(document.entities, start=1):
        entity.id = f"T{number}"
    return document


def predict_relations(settings: RelationPredictConfig) -> dict[str, Any]:
    """Read, (find entities,) classify every candidate, write brat; returns the summary."""
    started = time.perf_counter()
    check_at_least((("batch_size", settings.batch_size, 1),))
    device = resolve_device(settings.device)
    source, target = Path(settings.input), Path(settings.output)
    if not source.is_dir():
        raise InputError(f"input={source}: not a folder of brat .txt files")
    check_output(target, "brat", settings.overwrite, [source, settings.model, settings.entities])
    relation = load_relation_model(settings.model)
    relation.model.to(device)
    restrict_outputs_to([source])
    documents = read_corpus(source, "brat", gold=settings.entities is None)
    if settings.entities is not None:
        predictor = Predictor(load_ner_model(settings.entities), device=settings.device)
        documents = [with_entity_ids(document) for document in predictor.predict_chunk(documents)]
    examples = examples_of(documents, relation)
    predicted = with_relations(documents, examples, classify(relation, examples, settings.batch_size, device,
                                                                progress=True))
    write_output(predicted, target, "brat", report=FormatReport())
    relations = sum(len(document.relations) for document in predicted)
    summary = {"documents": len(predicted), "entities": sum(len(d.entities) for d in predicted),
               "candidates": len(examples.input_ids), "cut_to_window": examples.cut, "relations": relations,
               "entities_from": settings.entities or "input",
               "seconds": round(time.perf_counter() - started, 2), "output": str(target)}
    logger.info("predicted %d relations among %d candidates of %d notes in %.1f s; wrote %s", relations,
                summary["candidates"], summary["documents"], summary["seconds"], target)
    return summary


@hydra.main(config_path=config_dir("finetune"), config_name="relations_predict", version_base=HYDRA_VERSION)
def main(cfg: DictConfig) -> None:
    run_stage(cfg, predict_relations, "finetune.relations.predict")


if __name__ == "__main__":
    run_command(main, RelationPredictConfig)
