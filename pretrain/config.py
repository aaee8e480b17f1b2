"""Settings of the pretrain stage (Hydra structured config; YAML in configs/pretrain/).

Sections a Megatron user recognises: `model` (architecture; a config group with tiny and the three
GatorTron sizes), `parallel`, `data`, `train` (batch, optimizer, schedule, precision),
`checkpoint`, `logging`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

from gatortron_common.logging import InputError
from gatortron_common.settings import register_schema


@dataclass
class ModelConfig:
    """BERT architecture (pre-LayerNorm, learned absolute positions, GELU).

    Attributes:
        name: a label for logs and checkpoints.
        num_layers: transformer layers.
        hidden_size: model width.
        num_attention_heads: attention heads (hidden_size must divide by it).
        ffn_hidden_size: MLP width (4 x hidden in GatorTron).
        seq_length: tokens per sample (also the number of position embeddings).
        num_tokentypes: token types (2: sentence A / B).
        binary_head: the sentence-order prediction head (Megatron's bert_binary_head).
        hidden_dropout: dropout after attention and MLP.
        attention_dropout: dropout on attention probabilities.
        init_method_std: standard deviation of the normal initialization.
        layernorm_epsilon: LayerNorm epsilon.
        make_vocab_size_divisible_by: the vocabulary is padded to a multiple of this x TP.
    """

    name: str = MISSING
    num_layers: int = MISSING
    hidden_size: int = MISSING
    num_attention_heads: int = MISSING
    ffn_hidden_size: int = MISSING
    seq_length: int = 512
    num_tokentypes: int = 2
    binary_head: bool = True
    hidden_dropout: float = 0.1
    attention_dropout: float = 0.1
    init_method_std: float = 0.02
    layernorm_epsilon: float = 1e-5
    make_vocab_size_divisible_by: int = 128


# Settings that shape the weights or what they compute: a checkpoint continues only under the
# same values (dropout and initialization may change).
ARCHITECTURE_FIELDS = ("num_layers", "hidden_size", "num_attention_heads", "ffn_hidden_size", "seq_length",
                       "num_tokentypes", "binary_head", "layernorm_epsilon")


@dataclass
class ParallelConfig:
    """How the model and batch are split across processes (world = tensor x pipeline x data).

    Attributes:
        tensor: tensor-parallel size (splits each layer's matrices).
        pipeline: pipeline-parallel size (splits the layers; 1F1B schedule).
        virtual_pipeline: model chunks per pipeline stage (interleaved 1F1B); null = off. Needs
            pipeline >= 2, num_layers a multiple of pipeline x virtual_pipeline, and micro-batches
            per step a multiple of pipeline.
        sequence_parallel: shard LayerNorm/dropout activations along the sequence (needs tensor > 1;
            GPU only).
        distributed_optimizer: shard optimizer state across data-parallel ranks (ZeRO-1; GPU only).
        recompute: activation recomputation: null, "selective" (attention core) or "full".
        recompute_num_layers: layers per recomputed chunk for "full".
    """

    tensor: int = 1
    pipeline: int = 1
    virtual_pipeline: int | None = None
    sequence_parallel: bool = False
    distributed_optimizer: bool = False
    recompute: str | None = None
    recompute_num_layers: int = 1


@dataclass
class DataConfig:
    """Masked-LM samples from indexed datasets (data_prep output).

    Attributes:
        blend: a blend JSON from `python -m data_prep.blend`, a blend YAML, or a list of prefixes
            (equal weights).
        vocab: the tokenizer directory the datasets were made with.
        split: train/valid/test split of each dataset, Megatron style: "949,50,1" (quote it on the
            command line: data.split="'90,10,0'") or [949,50,1].
        cache_dir: where megatron-core keeps its sample indices (default: <checkpoint.dir>/data_cache).
        masking_probability: share of tokens masked.
        short_sequence_probability: share of samples cut shorter than seq_length.
        masking_max_ngram: longest masked n-gram.
        masking_do_full_word: mask whole words (all their ## pieces).
        masking_do_permutation: permute n-grams (as in Megatron's options).
        masking_use_longer_ngrams: prefer longer n-grams.
        masking_use_geometric_distribution: draw n-gram lengths geometrically (SpanBERT style).
        seed: data shuffling seed.
        num_workers: loader processes that build the next samples while the model computes
            (0: in the training process).
    """

    blend: Any = MISSING  # str or list of str
    vocab: str = MISSING
    split: Any = "949,50,1"  # str or list of numbers
    cache_dir: str | None = None
    masking_probability: float = 0.15
    short_sequence_probability: float = 0.1
    masking_max_ngram: int = 3
    masking_do_full_word: bool = True
    masking_do_permutation: bool = False
    masking_use_longer_ngrams: bool = False
    masking_use_geometric_distribution: bool = False
    seed: int = 1234
    num_workers: int = 1


@dataclass
class TrainConfig:
    """Batching, optimizer, schedule and precision.

    Attributes:
        micro_batch_size: samples per forward/backward on one data-parallel rank.
        global_batch_size: samples per optimizer step (micro x data-parallel x accumulation).
        train_iters: optimizer steps.
        lr: peak learning rate.
        min_lr: learning rate at the end of decay.
        lr_warmup_fraction: share of lr_decay_iters spent warming up linearly.
        lr_decay_iters: steps over which lr decays (default: train_iters).
        lr_decay_style: linear, cosine, constant or inverse-square-root.
        weight_decay: AdamW weight decay.
        adam_beta1: Adam beta1.
        adam_beta2: Adam beta2.
        adam_eps: Adam epsilon.
        clip_grad: gradient-norm clipping (0 = off).
        precision: fp32, bf16 or fp16 (fp16 uses dynamic loss scaling); GPU only for bf16/fp16.
        initial_loss_scale: first loss scale for fp16.
        seed: model initialization and dropout seed.
    """

    micro_batch_size: int = 8
    global_batch_size: int = 8
    train_iters: int = 100
    lr: float = 1e-4
    min_lr: float = 1e-5
    lr_warmup_fraction: float = 0.01
    lr_decay_iters: int | None = None
    lr_decay_style: str = "linear"
    weight_decay: float = 0.01
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_eps: float = 1e-8
    clip_grad: float = 1.0
    precision: str = "fp32"
    initial_loss_scale: float = 4294967296.0
    seed: int = 1234


@dataclass
class LoggingConfig:
    """Attributes:
        log_interval: steps between log lines (loss, lr, grad norm, tokens/s, TFLOP/s, memory).
        eval_interval: steps between validation runs (0 = only at the end).
        eval_iters: validation batches per run.
        tensorboard_dir: TensorBoard event directory (default: <checkpoint.dir>/tensorboard; "" = off).
        log_level: logging level.
    """

    log_interval: int = 10
    eval_interval: int = 0
    eval_iters: int = 4
    tensorboard_dir: str | None = None
    log_level: str = "INFO"


@dataclass
class CheckpointConfig:
    """Attributes:
        dir: where checkpoints (and by default logs and the data cache) go.
        save_interval: steps between checkpoints (0 = only at the end).
        keep_last: checkpoints kept (older ones deleted once a newer one is complete).
        enabled: false saves and resumes nothing (benchmarks, smoke runs): `dir` then holds only
            metrics, TensorBoard and the data cache, and a stop signal exits without saving.
    """

    dir: str = MISSING
    save_interval: int = 0
    keep_last: int = 2
    enabled: bool = True


@dataclass
class PretrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    parallel: ParallelConfig = field(default_factory=ParallelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    log_level: str = "INFO"


register_schema("pretrain_schema", PretrainConfig)


LR_DECAY_STYLES = ("linear", "cosine", "constant", "inverse-square-root")
PRECISIONS = ("fp32", "bf16", "fp16")
RECOMPUTE = (None, "selective", "full")


def _at_least(name: str, value: float, minimum: float) -> tuple[bool, str]:
    return value >= minimum, f"{name}={value}: use {minimum} or more"


def _positive(name: str, value: float) -> tuple[bool, str]:
    return value > 0, f"{name}={value}: use a positive number"


def _probability(name: str, value: float, upper_open: bool = True) -> tuple[bool, str]:
    ok = 0 <= value < 1 if upper_open else 0 <= value <= 1
    return ok, f"{name}={value}: use 0 <= value {'<' if upper_open else '<='} 1"


def validate(cfg: PretrainConfig, on_gpu: bool) -> None:
    """Check every setting before any work starts (megatron-core would fail deep inside, or worse,
    train something unusable: a head count that does not divide the width trains, but HF cannot load
    the export).

    Raises:
        InputError: one line listing every bad setting.
    """
    model, parallel, data, train, log = cfg.model, cfg.parallel, cfg.data, cfg.train, cfg.logging
    heads = model.num_attention_heads
    checks = [
        _at_least("model.num_layers", model.num_layers, 1),
        _at_least("model.hidden_size", model.hidden_size, 1),
        (heads >= 1 and model.hidden_size % heads == 0,
         f"model.num_attention_heads={heads}: must divide model.hidden_size={model.hidden_size}"),
        _at_least("model.ffn_hidden_size", model.ffn_hidden_size, 1),
        _at_least("model.seq_length", model.seq_length, 8),
        (model.num_tokentypes >= (2 if model.binary_head else 1),
         f"model.num_tokentypes={model.num_tokentypes}: use 2 (1 only without the binary head)"),
        _probability("model.hidden_dropout", model.hidden_dropout),
        _probability("model.attention_dropout", model.attention_dropout),
        _positive("model.init_method_std", model.init_method_std),
        _positive("model.layernorm_epsilon", model.layernorm_epsilon),
        _at_least("model.make_vocab_size_divisible_by", model.make_vocab_size_divisible_by, 1),
        _at_least("parallel.tensor", parallel.tensor, 1),
        (parallel.tensor < 1 or heads % parallel.tensor == 0,
         f"parallel.tensor={parallel.tensor}: must divide model.num_attention_heads={heads}"),
        _at_least("parallel.pipeline", parallel.pipeline, 1),
        (parallel.recompute in RECOMPUTE,
         f"parallel.recompute={parallel.recompute}: use null, selective or full"),
        _at_least("parallel.recompute_num_layers", parallel.recompute_num_layers, 1),
        (0 < data.masking_probability < 1,
         f"data.masking_probability={data.masking_probability}: use 0 < value < 1"),
        _probability("data.short_sequence_probability", data.short_sequence_probability, upper_open=False),
        _at_least("data.masking_max_ngram", data.masking_max_ngram, 1),
        _at_least("data.num_workers", data.num_workers, 0),
        _at_least("train.micro_batch_size", train.micro_batch_size, 1),
        _at_least("train.global_batch_size", train.global_batch_size, 1),
        _at_least("train.train_iters", train.train_iters, 0),
        _at_least("train.lr", train.lr, 0),
        (0 <= train.min_lr <= max(train.lr, 0), f"train.min_lr={train.min_lr}: use 0 <= min_lr <= train.lr"),
        _probability("train.lr_warmup_fraction", train.lr_warmup_fraction, upper_open=False),
        (train.lr_decay_iters is None or train.lr_decay_iters >= 1,
         f"train.lr_decay_iters={train.lr_decay_iters}: use null or 1 or more"),
        (train.lr_decay_style in LR_DECAY_STYLES,
         f"train.lr_decay_style={train.lr_decay_style}: use {', '.join(LR_DECAY_STYLES)}"),
        _at_least("train.weight_decay", train.weight_decay, 0),
        _probability("train.adam_beta1", train.adam_beta1),
        _probability("train.adam_beta2", train.adam_beta2),
        _positive("train.adam_eps", train.adam_eps),
        _at_least("train.clip_grad", train.clip_grad, 0),
        (train.precision in PRECISIONS, f"train.precision={train.precision}: use {', '.join(PRECISIONS)}"),
        # megatron-core's half-precision training needs CUDA (its fused optimizer paths and loss scaling).
        (on_gpu or train.precision not in ("bf16", "fp16"),
         f"train.precision={train.precision} needs GPUs; use fp32 on the CPU"),
        _positive("train.initial_loss_scale", train.initial_loss_scale),
        _at_least("logging.log_interval", log.log_interval, 1),
        _at_least("logging.eval_interval", log.eval_interval, 0),
        _at_least("logging.eval_iters", log.eval_iters, 1),
        _at_least("checkpoint.save_interval", cfg.checkpoint.save_interval, 0),
        _at_least("checkpoint.keep_last", cfg.checkpoint.keep_last, 1),
    ]
    for name, level in (("log_level", cfg.log_level), ("logging.log_level", log.log_level)):
        checks.append((isinstance(logging.getLevelName(str(level).upper()), int),
                       f"{name}={level}: use DEBUG, INFO, WARNING or ERROR"))
    problems = [message for ok, message in checks if not ok]
    if problems:
        raise InputError("; ".join(problems))
