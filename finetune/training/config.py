"""Typed settings of `python -m finetune` (configs/finetune/train.yaml + configs/finetune/task/*.yaml).

The recipe (`task=...`) keeps NeMo's YAML shape: `dataset`, `head`, `optim`, `trainer`. Every
key is checked before any work starts (`validate`); Hydra rejects keys that do not exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

from gatortron_common.settings import register_schema

SCHEMA_NAME = "finetune_train_schema"


@dataclass
class DatasetConfig:
    """The corpus and how it becomes labelled windows.

    Attributes:
        format: corpus format (`finetune.corpora.formats.FORMATS`).
        train: the training split, relative to `data_dir` (a directory, or a file for jsonl/conll).
        dev: the dev split; None carves `dev_fraction` of the training documents (by document, seeded).
        test: the test split scored at the end; None skips testing.
        dev_fraction: share of training documents carved out as dev when `dev` is None.
        read_options: reader options for every split (e.g. i2b2_2012 `tags`); for format=nemo the
            reader's `split` is the split's name (train / dev / test).
        types: entity types to learn; empty learns every type of the training split. Entities of
            other types are left out (and counted).
        scheme: `BIO` or `BIOES`.
        overlap: how overlapping entities become one label sequence: `longest` or `type_priority`.
        type_priority: types first to last, for `overlap=type_priority`.
        discontinuous: `fragments` (each fragment its own entity) or `span` (first start to last end).
        max_seq_length: subwords per window, [CLS] and [SEP] included (<= the model's positions).
        stride: subwords shared by neighbouring windows (the overlap); predictions come from the
            window where a token is most central.
    """

    format: str = MISSING
    train: str = "train"
    dev: str | None = None
    test: str | None = "test"
    dev_fraction: float = 0.1
    read_options: dict[str, Any] = field(default_factory=dict)
    types: list[str] = field(default_factory=list)
    scheme: str = "BIO"
    overlap: str = "longest"
    type_priority: list[str] = field(default_factory=list)
    discontinuous: str = "fragments"
    max_seq_length: int = 512
    stride: int = 128


@dataclass
class HeadConfig:
    """The classification head.

    Attributes:
        kind: `mlp` (NeMo's TokenClassifier, as GatorTron used) or `linear` (HF's classifier).
        layers: linear layers of the `mlp` head (ReLU between them).
        dropout: dropout on the encoder output before the head.
    """

    kind: str = "mlp"
    layers: int = 2
    dropout: float = 0.1


@dataclass
class OptimConfig:
    """AdamW with warmup and decay.

    Attributes:
        lr: peak learning rate.
        weight_decay: decoupled weight decay (not on biases and LayerNorms).
        warmup_ratio: share of the steps spent warming up.
        schedule: `linear`, `cosine` or `constant_with_warmup`.
        max_grad_norm: gradient clipping.
    """

    lr: float = 2e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    schedule: str = "linear"
    max_grad_norm: float = 1.0


@dataclass
class TrainerConfig:
    """The training loop (HF Trainer).

    Attributes:
        epochs: passes over the training windows.
        batch_size: windows per device per step.
        eval_batch_size: windows per forward pass for dev and test.
        grad_accumulation: micro-batches per optimizer step.
        precision: `fp32`, `bf16` or `fp16` (fp16 on CUDA only).
        early_stopping_patience: evaluations without a better dev F1 before stopping; 0 = never.
        logging_steps: steps between log lines / TensorBoard points.
        save_total_limit: checkpoints kept in `output_dir/checkpoints` (the best is always kept).
        dataloader_workers: loader processes.
    """

    epochs: int = 10
    batch_size: int = 8
    eval_batch_size: int = 16
    grad_accumulation: int = 1
    precision: str = "fp32"
    early_stopping_patience: int = 3
    logging_steps: int = 10
    save_total_limit: int = 2
    dataloader_workers: int = 0


@dataclass
class TaskConfig:
    """One recipe (configs/finetune/task/<name>.yaml).

    Attributes:
        name: the recipe's name.
        dataset: corpus and windows.
        head: classification head.
        optim: optimizer and schedule.
        trainer: training loop.
        decoding: `viterbi` (never an impossible label sequence) or `argmax`.
    """

    name: str = MISSING
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    decoding: str = "viterbi"


@dataclass
class FinetuneConfig:
    """Settings of `python -m finetune`.

    Attributes:
        task: the recipe (`task=i2b2_2010|i2b2_2012|deid_2014|n2c2_2018|nemo`), any key overridable.
        model: the starting model: a HF megatron-bert or bert directory.
        data_dir: the corpus root; the recipe's splits are relative to it.
        output_dir: receives `model/` (the best model), `checkpoints/`, `tensorboard/`,
            `test_scores.json` / `.txt`, `test_predictions/` and `train_summary.json`.
        seed: seeds weights of the head, dev carving and data order.
        resume: continue from the last checkpoint in `output_dir/checkpoints`. Refused (naming every
            key) when a setting that shapes the optimisation or the data
            (`finetune.training.train.RESUME_KEYS`: model, data_dir, seed, processes, task.name,
            task.dataset.*, task.head.*, task.optim.*, epochs, batch_size, grad_accumulation,
            precision) differs from the earlier run's.
        overwrite: replace an `output_dir` that holds something else (or an earlier run, without
            resume). Never one that is, holds or lies inside `model` or `data_dir`.
        device: `auto`, `cpu` or `cuda` for single-process runs (torchrun sets it per rank).
        log_level: logging level.
    """

    task: TaskConfig = field(default_factory=TaskConfig)
    model: str = MISSING
    data_dir: str = MISSING
    output_dir: str = MISSING
    seed: int = 42
    resume: bool = False
    overwrite: bool = False
    device: str = "auto"
    log_level: str = "INFO"


register_schema(SCHEMA_NAME, FinetuneConfig)
