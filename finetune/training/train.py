"""Fine-tune a token-classification model on a benchmark corpus with the HF Trainer.

Domain work lives in the data (windows of whole documents, first-subword labels) and in the metric
(dev strict micro F1 on character offsets from our own evaluator, decoded exactly as
`finetune.predict` decodes); the loop is HF's: DDP under torchrun, gradient accumulation,
bf16/fp16, TensorBoard, checkpoints and `resume`, best model by dev F1, early stopping.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf
from transformers import (
    AutoModelForTokenClassification,
    AutoTokenizer,
    DataCollatorForTokenClassification,
    EarlyStoppingCallback,
    EvalPrediction,
    Trainer,
    TrainingArguments,
    set_seed,
)
from transformers.integrations import TensorBoardCallback
from transformers.trainer_utils import get_last_checkpoint

from finetune.corpora.document import Document
from finetune.corpora.formats import FORMATS, write_corpus
from finetune.inference.predictor import (
    PRECISIONS,
    Predictor,
    decode_document,
    predicted_document,
    resolve_device,
)
from finetune.models.ner import (
    HEADS,
    NerInfo,
    NerModel,
    build_model,
    encoder_config,
    ner_info_of,
    save_ner_model,
)
from finetune.scoring.documents import evaluate_documents
from finetune.scoring.report import format_tables
from finetune.tagging.decoding import DECODINGS, LabelDecoder
from finetune.tagging.labels import LabelSettings, label_vocabulary
from finetune.training.config import FinetuneConfig
from finetune.training.data import (
    Splits,
    WindowSet,
    category_map,
    evaluation_windows,
    keep_types,
    learned_types,
    read_splits,
    training_windows,
)
from gatortron_common.atomic import atomic_write_text, restrict_outputs_to
from gatortron_common.logging import InputError, get_logger
from gatortron_common.outputs import check_output_path

logger = get_logger("finetune")
RUN_MARKER = "finetune_run.json"  # marks an output_dir as this stage's own; records its resume settings
# What a resumed run must share with the run it continues: what shapes the optimisation or the data.
# Not here (free to change on resume): eval batch size, early stopping, logging, checkpoints kept,
# loader workers, decoding (dev scoring only), device.
RESUME_KEYS = ("model", "data_dir", "seed", "world_size", "task.name", "task.dataset", "task.head",
               "task.optim", "task.trainer.epochs", "task.trainer.batch_size",
               "task.trainer.grad_accumulation", "task.trainer.precision")
SCHEDULES = ("linear", "cosine", "constant_with_warmup")
BEST_METRIC = "strict_micro_f1"
FILE_FORMATS = {"jsonl": "test_predictions.jsonl", "conll": "test_predictions.conll"}


def label_settings(settings: FinetuneConfig) -> LabelSettings:
    dataset = settings.task.dataset
    return LabelSettings(scheme=dataset.scheme, overlap=dataset.overlap,
                         type_priority=list(dataset.type_priority), discontinuous=dataset.discontinuous)


def is_run_dir(path: Path) -> bool:
    """Whether `path` is an output_dir of this stage (its marker file)."""
    return path.is_dir() and (path / RUN_MARKER).is_file()


def check_output_dir(settings: FinetuneConfig) -> None:
    """The one output rule: output_dir is never, holds or lies inside the model or the corpus; one
    that holds something else is replaced only with overwrite=true; an earlier run is continued
    (resume=true, with the same settings) or replaced (overwrite=true)."""
    check_output_path(settings.output_dir, "output_dir", settings.overwrite, is_run_dir,
                      inputs=[settings.model, settings.data_dir], what="fine-tuning output",
                      kind="directory", within_inputs=True)
    output = Path(settings.output_dir)
    if not is_run_dir(output):
        return
    if settings.resume:
        check_resume(settings, output)
    elif not settings.overwrite:
        raise InputError(f"output_dir={settings.output_dir}: holds an earlier fine-tuning run; resume=true "
                         f"continues it, overwrite=true replaces it")


def resume_settings(settings: FinetuneConfig) -> dict[str, Any]:
    """The `RESUME_KEYS` settings, flattened to `task.optim.lr`-style keys, as JSON values."""
    values = OmegaConf.to_container(OmegaConf.structured(settings))
    values.update(model=str(Path(settings.model).resolve()), data_dir=str(Path(settings.data_dir).resolve()),
                  world_size=int(os.environ.get("WORLD_SIZE", "1")))
    flat: dict[str, Any] = {}
    for key in RESUME_KEYS:
        value: Any = values
        for part in key.split("."):
            value = value[part]
        if isinstance(value, dict):
            flat.update({f"{key}.{name}": item for name, item in value.items()})
        else:
            flat[key] = value
    return json.loads(json.dumps(flat))


def check_resume(settings: FinetuneConfig, output: Path) -> None:
    """Refuse resume=true with settings that differ from those the earlier run recorded, naming all."""
    marker = output / RUN_MARKER
    try:
        recorded = json.loads(marker.read_text(encoding="utf-8")).get("settings")
    except (OSError, ValueError, AttributeError):
        raise InputError(f"{marker}: not a readable run record; resume=false overwrite=true replaces "
                         f"the run") from None
    if not isinstance(recorded, dict):
        logger.warning("resume: %s records no settings (an older run); they cannot be compared", marker)
        return
    current = resume_settings(settings)
    differ = [key for key in sorted(set(recorded) | set(current)) if recorded.get(key) != current.get(key)]
    if differ:
        changes = ", ".join(f"{key} (was {recorded.get(key)}, now {current.get(key)})" for key in differ)
        raise InputError(f"resume=true: settings differ from the run in output_dir={settings.output_dir}: "
                         f"{changes}; resume with the same settings, or use a new output_dir")


def validate(settings: FinetuneConfig) -> Any:
    """Check every setting before any work; return the starting model's config.

    Raises:
        InputError: one line naming the bad setting.
    """
    task, dataset = settings.task, settings.task.dataset

    if dataset.format not in FORMATS:
        raise InputError(f"task.dataset.format={dataset.format}: expected one of {', '.join(FORMATS)}")
    if dataset.overlap == "groups":
        raise InputError("task.dataset.overlap=groups: training learns one label sequence; use longest or "
                         "type_priority")
    label_settings(settings).validate()
    head, optim, trainer = task.head, task.optim, task.trainer
    checks = [  # (holds, key, value, what it must be)
        (head.kind in HEADS, "task.head.kind", head.kind, f"expected one of {', '.join(HEADS)}"),
        (head.layers >= 1, "task.head.layers", head.layers, "must be at least 1"),
        (0 <= head.dropout < 1, "task.head.dropout", head.dropout, "must be in [0, 1)"),
        (task.decoding in DECODINGS, "task.decoding", task.decoding,
         f"expected one of {', '.join(DECODINGS)}"),
        (optim.lr > 0, "task.optim.lr", optim.lr, "must be positive"),
        (0 <= optim.warmup_ratio < 1, "task.optim.warmup_ratio", optim.warmup_ratio, "must be in [0, 1)"),
        (optim.schedule in SCHEDULES, "task.optim.schedule", optim.schedule,
         f"expected one of {', '.join(SCHEDULES)}"),
        (optim.max_grad_norm > 0, "task.optim.max_grad_norm", optim.max_grad_norm, "must be positive"),
        (trainer.epochs >= 1, "task.trainer.epochs", trainer.epochs, "must be at least 1"),
        (trainer.batch_size >= 1, "task.trainer.batch_size", trainer.batch_size, "must be at least 1"),
        (trainer.eval_batch_size >= 1, "task.trainer.eval_batch_size", trainer.eval_batch_size,
         "must be at least 1"),
        (trainer.grad_accumulation >= 1, "task.trainer.grad_accumulation", trainer.grad_accumulation,
         "must be at least 1"),
        (trainer.precision in PRECISIONS, "task.trainer.precision", trainer.precision,
         f"expected one of {', '.join(PRECISIONS)}"),
        (trainer.early_stopping_patience >= 0, "task.trainer.early_stopping_patience",
         trainer.early_stopping_patience, "must be >= 0"),
        (0 < dataset.dev_fraction < 1, "task.dataset.dev_fraction", dataset.dev_fraction,
         "must be in (0, 1)"),
        (dataset.max_seq_length >= 8, "task.dataset.max_seq_length", dataset.max_seq_length, "must be >= 8"),
        (0 <= dataset.stride < dataset.max_seq_length - 2, "task.dataset.stride", dataset.stride,
         "must be in [0, max_seq_length - 2)"),
    ]
    for holds, key, value, what in checks:
        if not holds:
            raise InputError(f"{key}={value}: {what}")
    device = resolve_device(settings.device)
    if task.trainer.precision == "fp16" and device.type != "cuda":
        raise InputError("task.trainer.precision=fp16 needs a CUDA device; use fp32 (or bf16) on a CPU")
    config = encoder_config(settings.model)
    positions = getattr(config, "max_position_embeddings", None)
    if positions is not None and dataset.max_seq_length > positions:
        raise InputError(f"task.dataset.max_seq_length={dataset.max_seq_length} is above the model's "
                         f"{positions} positions (model={settings.model})")
    if not Path(settings.data_dir).is_dir():
        raise InputError(f"data_dir={settings.data_dir}: no such directory")
    if is_main_process():  # other ranks would see rank 0's marker appear
        check_output_dir(settings)
    return config


def is_main_process() -> bool:
    """Rank 0 of a torchrun/srun launch (or a single process): the one that prepares output_dir."""
    return int(os.environ.get("RANK", "0")) == 0


def dev_metric(dev: list[Document], windows: WindowSet, decoder: LabelDecoder, categories: dict[str, str],
               fmt: str) -> Callable[[EvalPrediction], dict[str, float]]:
    """`compute_metrics` for the Trainer: dev windows' log-probabilities -> entities -> our evaluator."""

    def compute(prediction: EvalPrediction) -> dict[str, float]:
        scores = prediction.predictions
        flat = [window for document_windows in windows.windows for window in document_windows]
        if len(scores) != len(flat):
            raise RuntimeError(f"{len(scores)} window predictions for {len(flat)} dev windows")
        predictions, position = [], 0
        for source, document, document_windows in zip(dev, windows.documents, windows.windows, strict=True):
            window_scores = [scores[position + i][:len(window) + 2]
                             for i, window in enumerate(document_windows)]
            position += len(document_windows)
            entities = decode_document(decoder, document, document_windows, window_scores, categories)
            predictions.append(predicted_document(source, entities))
        results = evaluate_documents(dev, predictions, fmt)
        strict, relaxed = results["strict"]["micro"], results["relaxed"]["micro"]
        return {BEST_METRIC: strict["f1"], "strict_micro_precision": strict["precision"],
                "strict_micro_recall": strict["recall"], "relaxed_micro_f1": relaxed["f1"]}

    return compute


def log_softmax_logits(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Keep fp32 log-probabilities for the metric (whatever the training precision)."""
    return torch.log_softmax(logits.float(), dim=-1)


class WindowDataset(torch.utils.data.Dataset):
    """The Trainer's view of a `WindowSet`."""

    def __init__(self, windows: WindowSet) -> None:
        self.features = windows.features

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, index: int) -> dict[str, list[int]]:
        return self.features[index]


def training_arguments(settings: FinetuneConfig, output: Path, has_dev: bool) -> TrainingArguments:
    trainer, optim = settings.task.trainer, settings.task.optim
    return TrainingArguments(
        output_dir=str(output / "checkpoints"), num_train_epochs=trainer.epochs,
        per_device_train_batch_size=trainer.batch_size, per_device_eval_batch_size=trainer.eval_batch_size,
        gradient_accumulation_steps=trainer.grad_accumulation, learning_rate=optim.lr,
        weight_decay=optim.weight_decay, warmup_steps=optim.warmup_ratio, lr_scheduler_type=optim.schedule,
        max_grad_norm=optim.max_grad_norm, eval_strategy="epoch" if has_dev else "no", save_strategy="epoch",
        load_best_model_at_end=has_dev, metric_for_best_model=BEST_METRIC if has_dev else None,
        greater_is_better=True, save_total_limit=trainer.save_total_limit,
        logging_steps=trainer.logging_steps,
        report_to="none", seed=settings.seed, data_seed=settings.seed, bf16=trainer.precision == "bf16",
        fp16=trainer.precision == "fp16", use_cpu=resolve_device(settings.device).type == "cpu",
        dataloader_num_workers=trainer.dataloader_workers, save_only_model=False,
    )


def base_labels(config: Any, types: list[str], scheme: str, model: str) -> tuple[list[str], bool]:
    """The label vocabulary, and whether the starting model already has exactly this head."""
    info = ner_info_of(config)
    if info is None:
        return label_vocabulary(types, scheme), False
    model_types = {label.partition("-")[2] for label in info.labels if label != "O"}
    missing = sorted(set(types) - model_types)
    if missing:
        raise InputError(f"model={model} has no labels for these corpus types: {', '.join(missing)} "
                         f"(it knows {', '.join(sorted(model_types))}); list the types to learn in "
                         f"task.dataset.types or start from an encoder")
    if info.scheme != scheme:
        raise InputError(f"model={model} was trained with scheme {info.scheme}, the recipe asks for {scheme}")
    return info.labels, True


def write_test_outputs(output: Path, fmt: str, gold: list[Document], predictions: list[Document]) -> dict:
    """Test predictions in the corpus format, scores as JSON and as a table; returns the scores."""

    target = output / FILE_FORMATS.get(fmt, "test_predictions")
    write_corpus(predictions, target, fmt)
    results = evaluate_documents(gold, predictions, fmt)
    results["predictions"] = str(target)
    atomic_write_text(output / "test_scores.json", json.dumps(results, indent=2) + "\n")
    atomic_write_text(output / "test_scores.txt", format_tables(results))
    return results


@dataclass
class Prepared:
    """Everything training needs that comes from the inputs (read and checked before any training).

    Args:
        splits: the corpus as read (dev carved if needed).
        train, dev, test: documents with only the learned types.
        left_out: entities of other types, counted by split and type.
        info: labels and decoding settings the model directory will carry.
        keep_head: the starting model is already a NER model with these labels.
        tokenizer: the starting model's fast tokenizer.
        train_windows, dev_windows: Trainer features and what dev decoding needs.
    """

    splits: Splits
    train: list[Document]
    dev: list[Document]
    test: list[Document]
    left_out: dict[str, dict[str, int]]
    info: NerInfo
    keep_head: bool
    tokenizer: Any
    train_windows: WindowSet
    dev_windows: WindowSet


def prepare(settings: FinetuneConfig, config: Any) -> Prepared:
    """Read the corpus, choose the labels, cut labelled windows (raises `InputError` on bad input)."""
    dataset, task = settings.task.dataset, settings.task
    splits = read_splits(settings.data_dir, dataset, settings.seed)
    types = learned_types(splits.train, dataset.types)
    labels, keep_head = base_labels(config, types, dataset.scheme, settings.model)
    kept, left_out = {}, {}
    for name, documents in (("train", splits.train), ("dev", splits.dev), ("test", splits.test)):
        kept[name], counts = keep_types(documents, types)
        left_out[name] = dict(counts)
        if counts:
            logger.warning("%s: %d entities of types not learned are left out: %s", name,
                           sum(counts.values()), ", ".join(f"{t} {n}" for t, n in sorted(counts.items())))
    tokenizer = AutoTokenizer.from_pretrained(settings.model, local_files_only=True)
    if not tokenizer.is_fast:
        raise InputError(f"model={settings.model}: its tokenizer is not a fast one (tokenizer.json needed)")
    label_to_id = {label: index for index, label in enumerate(labels)}
    size, overlap = dataset.max_seq_length - 2, dataset.stride
    labelling = label_settings(settings)
    train_set = training_windows(kept["train"], tokenizer, labelling, label_to_id, size, overlap)
    dev_set = evaluation_windows(kept["dev"], tokenizer, labelling, label_to_id, size, overlap)
    logger.info("windows: %d train, %d dev (max_seq_length %d, stride %d); labels: %d; entities labelled: "
                "%d, dropped: %s", len(train_set.features), len(dev_set.features), dataset.max_seq_length,
                overlap, len(labels), sum(train_set.stats.labelled.values()),
                dict(train_set.stats.dropped) or "none")
    info = NerInfo(labels=labels, scheme=dataset.scheme, categories=category_map(splits.train),
                   max_seq_length=dataset.max_seq_length, stride=overlap, decoding=task.decoding,
                   recipe={**OmegaConf.to_container(OmegaConf.structured(task)), "format": dataset.format})
    return Prepared(splits=splits, train=kept["train"], dev=kept["dev"], test=kept["test"], left_out=left_out,
                    info=info, keep_head=keep_head, tokenizer=tokenizer, train_windows=train_set,
                    dev_windows=dev_set)


def start_output(settings: FinetuneConfig) -> Path:
    """Create output_dir (replacing it under overwrite=true, unless resume=true continues our own run)
    and mark it as this stage's, with the settings a resume must keep (rank 0)."""
    output = Path(settings.output_dir)
    if is_main_process():
        continued = settings.resume and is_run_dir(output)
        if settings.overwrite and not continued:
            if output.is_dir() and not output.is_symlink():
                shutil.rmtree(output)
            elif output.exists() or output.is_symlink():
                output.unlink()  # a file where the directory goes (check_output_dir allowed it)
        output.mkdir(parents=True, exist_ok=True)
        marker = {"stage": "finetune", "task": settings.task.name, "model": str(settings.model),
                  "settings": resume_settings(settings)}
        atomic_write_text(output / RUN_MARKER, json.dumps(marker, indent=2) + "\n")
    return output


def build_trainer(settings: FinetuneConfig, prepared: Prepared, output: Path) -> Trainer:
    """The HF Trainer: model (new head, or the starting NER model's), data, dev metric, callbacks."""
    task, info = settings.task, prepared.info
    set_seed(settings.seed)  # before the head is initialized
    if prepared.keep_head:
        model = AutoModelForTokenClassification.from_pretrained(settings.model, local_files_only=True)
    else:
        model = build_model(settings.model, info.labels, task.head.kind, task.head.layers, task.head.dropout)
    callbacks: list[Any] = [tensorboard_callback(output / "tensorboard")]
    if task.trainer.early_stopping_patience and prepared.dev:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=task.trainer.early_stopping_patience))
    decoder = LabelDecoder(info.labels, info.scheme, info.decoding)
    metric = dev_metric(prepared.dev, prepared.dev_windows, decoder, info.categories, task.dataset.format)
    return Trainer(model=model, args=training_arguments(settings, output, has_dev=bool(prepared.dev)),
                   data_collator=DataCollatorForTokenClassification(prepared.tokenizer),
                   train_dataset=WindowDataset(prepared.train_windows),
                   eval_dataset=WindowDataset(prepared.dev_windows), processing_class=prepared.tokenizer,
                   callbacks=callbacks, compute_metrics=metric,
                   preprocess_logits_for_metrics=log_softmax_logits)


def last_checkpoint(settings: FinetuneConfig, checkpoints: str) -> str | None:
    """The checkpoint to resume from (resume=true), or None to start from the beginning."""
    if not settings.resume:
        return None
    checkpoint = get_last_checkpoint(checkpoints) if Path(checkpoints).is_dir() else None
    logger.info("resume: %s", f"continuing from {checkpoint}" if checkpoint else "no checkpoint, start")
    return checkpoint


def score_test_split(trainer: Trainer, prepared: Prepared, settings: FinetuneConfig,
                     output: Path) -> dict[str, Any]:
    """Predict the test split through the prediction path, write predictions and scores."""
    ner = NerModel(model=trainer.model, tokenizer=prepared.tokenizer, info=prepared.info)
    predictor = Predictor(ner, batch_size=settings.task.trainer.eval_batch_size,
                          device=str(trainer.args.device))
    predictions = list(predictor.predict(prepared.test))
    scores = write_test_outputs(output, settings.task.dataset.format, prepared.test, predictions)
    print(format_tables(scores), end="", flush=True)
    return {"strict_micro": scores["strict"]["micro"], "relaxed_micro": scores["relaxed"]["micro"],
            "prediction": predictor.stats.as_dict()}


def finetune(settings: FinetuneConfig) -> dict[str, Any]:
    """Train, keep the best model by dev F1, score the test split; return the summary.

    Raises:
        InputError: a bad setting or input, before any training starts.
    """
    started = time.perf_counter()
    prepared = prepare(settings, validate(settings))
    restrict_outputs_to([settings.data_dir])  # a model can memorise its training notes
    output = start_output(settings)
    trainer = build_trainer(settings, prepared, output)
    result = trainer.train(resume_from_checkpoint=last_checkpoint(settings, trainer.args.output_dir))
    summary: dict[str, Any] = {
        "task": settings.task.name, "model": str(settings.model), "output_dir": str(output.resolve()),
        "documents": {"train": len(prepared.train), "dev": len(prepared.dev), "test": len(prepared.test),
                      "dev_carved": prepared.splits.dev_carved},
        "windows": {"train": len(prepared.train_windows.features), "dev": len(prepared.dev_windows.features)},
        "labels": prepared.info.labels, "label_stats": prepared.train_windows.stats.as_dict(),
        "left_out": prepared.left_out, "steps": result.global_step, "train_loss": result.training_loss,
        "best_dev_strict_micro_f1": trainer.state.best_metric,
        "best_checkpoint": trainer.state.best_model_checkpoint,
    }
    if not trainer.is_world_process_zero():
        return summary
    save_ner_model(trainer.model, prepared.tokenizer, prepared.info, output / "model")
    if prepared.test:
        summary["test"] = score_test_split(trainer, prepared, settings, output)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    atomic_write_text(output / "train_summary.json", json.dumps(summary, indent=2, default=str) + "\n")
    tested = f", test strict micro F1 {summary['test']['strict_micro']['f1']:.4f}" if prepared.test else ""
    logger.info("done in %.0f s: %d steps, best dev strict micro F1 %s%s; model in %s", summary["seconds"],
                result.global_step, _fmt(trainer.state.best_metric), tested, output / "model")
    return summary


def _fmt(value: float | None) -> str:
    return f"{value:.4f}" if value is not None else "n/a"


def tensorboard_callback(path: Path) -> TensorBoardCallback:
    """TensorBoard events under `path`, written by rank 0 only (the callback opens its writer there)."""
    callback = TensorBoardCallback()
    callback.logging_dir = str(path)
    return callback

