"""Settings of the pretrain stage (Hydra structured config; YAML in configs/pretrain/).

Sections a Megatron user recognises: `model` (architecture; a config group with tiny and the three
GatorTron sizes), `parallel`, `data`, `train` (batch, optimizer, schedule, precision),
`checkpoint`, `logging`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum, StrEnum
from typing import Any

from omegaconf import MISSING

from gatortron_common.logging import InputError
from gatortron_common.settings import register_schema


class Precision(StrEnum):
    """Training precision (Hydra refuses any other value when it reads the settings)."""

    fp32 = "fp32"
    bf16 = "bf16"
    fp16 = "fp16"


class Recompute(StrEnum):
    """Activation recomputation granularity (null in the YAML: off)."""

    selective = "selective"
    full = "full"


# megatron-core's spellings; "inverse-square-root" is no Python name, hence the functional form.
class LayerSpec(StrEnum):
    """Which megatron-core layer spec builds the transformer layers."""

    local = "local"  # megatron-core's local spec with this project's SDPA attention and fused MLP
    te = "te"  # Transformer Engine's (its fused kernels); needs transformer_engine (NGC containers)


class Attention(StrEnum):
    """The core attention of megatron-core's local layer spec (Transformer Engine's own is used
    wherever TE is installed)."""

    sdpa = "sdpa"  # torch's scaled_dot_product_attention: FlashAttention / memory-efficient kernels
    unfused = "unfused"  # megatron-core's DotProductAttention: [b, h, s, s] scores, masked softmax


LrDecayStyle = StrEnum("LrDecayStyle", [(style, style) for style in
                                        ("linear", "cosine", "constant", "inverse-square-root")])
LrDecayStyle.__doc__ = "Learning-rate decay after warm-up, as megatron-core's scheduler names it."


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
        attention: core attention of the local spec: sdpa (torch's fused kernels) or unfused
            (megatron-core's DotProductAttention). Not part of the architecture: checkpoints move
            between the two.
        fused_bias_gelu: the MLP's bias add and exact GELU in one compiled kernel on a GPU (local
            spec; the CPU computes the same expression unfused). Checkpoints move freely too.
        spec: the layer spec: `local` (the default: the two settings above) or `te` (Transformer
            Engine's, where transformer_engine is installed; never measured in this project yet, so
            never chosen on its own: the log names the spec that ran).
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
    attention: Attention = Attention.sdpa
    fused_bias_gelu: bool = True
    spec: LayerSpec = LayerSpec.local


def model_record(model: ModelConfig) -> dict[str, Any]:
    """The model settings as plain values, as a checkpoint stores them (its loader reads no enums)."""
    return {key: value.value if isinstance(value, Enum) else value for key, value in asdict(model).items()}


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
        overlap_grad_reduce: start each gradient bucket's all-reduce (reduce-scatter with the
            distributed optimizer) during the backward pass (Megatron-LM --overlap-grad-reduce;
            off by default, as there).
        grad_reduce_in_fp32: keep the gradient buffers and their reduction in fp32 under bf16/fp16
            (Megatron-LM turns it on for bf16; on here for both half precisions; no effect in fp32).
        bucket_size: parameters per gradient bucket with overlap_grad_reduce (null: megatron-core's
            max(40M, 1M x data-parallel size)).
    """

    tensor: int = 1
    pipeline: int = 1
    virtual_pipeline: int | None = None
    sequence_parallel: bool = False
    distributed_optimizer: bool = False
    recompute: Recompute | None = None
    recompute_num_layers: int = 1
    overlap_grad_reduce: bool = False
    grad_reduce_in_fp32: bool = True
    bucket_size: int | None = None


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
    lr_decay_style: LrDecayStyle = LrDecayStyle.linear
    weight_decay: float = 0.01
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_eps: float = 1e-8
    clip_grad: float = 1.0
    precision: Precision = Precision.fp32
    initial_loss_scale: float = 4294967296.0
    seed: int = 1234


@dataclass
class LoggingConfig:
    """Attributes:
        log_interval: steps between log lines (loss, lr, grad norm, tokens/s, TFLOP/s, memory).
        eval_interval: steps between validation runs (0 = only at the end).
        eval_iters: validation batches per run.
        tensorboard_dir: TensorBoard event directory (default: <checkpoint.dir>/tensorboard; "" = off).
        profile_step: run this step (1-based) under the torch profiler and write the operators and
            kernels by their own time to <checkpoint.dir>/profile.txt and profile.json (0 = off).

    The log level is the top-level `log_level`, as in every stage.
    """

    log_interval: int = 10
    eval_interval: int = 0
    eval_iters: int = 4
    tensorboard_dir: str | None = None
    profile_step: int = 0


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
    """Attributes:
        log_level: DEBUG also shows megatron-core's own INFO messages (every dataset file, bucket).
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    parallel: ParallelConfig = field(default_factory=ParallelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    log_level: str = "INFO"


register_schema("pretrain_schema", PretrainConfig)


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
Check = tuple[bool, str]  # (setting is good, what to say when it is not)


def _at_least(name: str, value: float, minimum: float) -> Check:
    return value >= minimum, f"{name}={value}: use {minimum} or more"


def _positive(name: str, value: float) -> Check:
    return value > 0, f"{name}={value}: use a positive number"


def _probability(name: str, value: float, upper_open: bool = True) -> Check:
    ok = 0 <= value < 1 if upper_open else 0 <= value <= 1
    return ok, f"{name}={value}: use 0 <= value {'<' if upper_open else '<='} 1"


def split_shares(split: str | list) -> list[float] | None:
    """The train/valid/test shares of `data.split` ("949,50,1" or [949, 50, 1]); None if malformed."""
    try:
        shares = [float(x) for x in (split.split(",") if isinstance(split, str) else split)]
    except (TypeError, ValueError):
        return None
    return shares if len(shares) == 3 and min(shares) >= 0 and sum(shares) > 0 else None


def validate(cfg: PretrainConfig, on_gpu: bool, world_size: int = 1) -> None:
    """Check every setting before any work starts (megatron-core would fail deep inside, or worse,
    train something unusable: a head count that does not divide the width trains, but HF cannot load
    the export). Values outside a fixed set (precision, lr_decay_style, recompute) Hydra already
    refused when it read them.

    Args:
        on_gpu: the run trains on GPUs (half precision and some parallel features need them).
        world_size: processes in the job (torchrun's WORLD_SIZE).

    Raises:
        InputError: one line listing every bad setting.
    """
    checks = [*_model_checks(cfg.model), *_parallel_checks(cfg, world_size), *_data_checks(cfg.data),
              *_train_checks(cfg.train, on_gpu), *_batch_checks(cfg, world_size),
              *_machine_checks(cfg, on_gpu),
              _at_least("logging.log_interval", cfg.logging.log_interval, 1),
              _at_least("logging.eval_interval", cfg.logging.eval_interval, 0),
              _at_least("logging.eval_iters", cfg.logging.eval_iters, 1),
              _at_least("logging.profile_step", cfg.logging.profile_step, 0),
              _at_least("checkpoint.save_interval", cfg.checkpoint.save_interval, 0),
              _at_least("checkpoint.keep_last", cfg.checkpoint.keep_last, 1),
              (str(cfg.log_level).upper() in LOG_LEVELS,
               f"log_level={cfg.log_level}: use {', '.join(LOG_LEVELS)}")]
    problems = [message for ok, message in checks if not ok]
    if problems:
        raise InputError("; ".join(problems))


def _model_checks(model: ModelConfig) -> list[Check]:
    heads = model.num_attention_heads
    return [
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
    ]


def _parallel_checks(cfg: PretrainConfig, world_size: int) -> list[Check]:
    parallel, heads, layers = cfg.parallel, cfg.model.num_attention_heads, cfg.model.num_layers
    virtual = parallel.virtual_pipeline
    model_parallel = parallel.tensor * parallel.pipeline
    # Interleaved 1F1B: `virtual` model chunks per pipeline rank, each an equal share of layers.
    interleavable = (virtual is None or (virtual >= 2 and parallel.pipeline >= 2
                                         and layers % (parallel.pipeline * virtual) == 0))
    return [
        _at_least("parallel.tensor", parallel.tensor, 1),
        (parallel.tensor < 1 or heads % parallel.tensor == 0,
         f"parallel.tensor={parallel.tensor}: must divide model.num_attention_heads={heads}"),
        _at_least("parallel.pipeline", parallel.pipeline, 1),
        (interleavable, f"parallel.virtual_pipeline={virtual} needs parallel.pipeline >= 2, "
                        f"virtual_pipeline >= 2 (null = off) and model.num_layers ({layers}) a multiple "
                        f"of pipeline x virtual_pipeline"),
        (model_parallel < 1 or world_size % model_parallel == 0,
         f"world size {world_size} is not a multiple of parallel.tensor x parallel.pipeline = "
         f"{model_parallel}"),
        (not parallel.sequence_parallel or parallel.tensor >= 2,
         "parallel.sequence_parallel=true needs parallel.tensor >= 2 (it shards activations across the "
         "tensor-parallel ranks)"),
        _at_least("parallel.recompute_num_layers", parallel.recompute_num_layers, 1),
        (parallel.bucket_size is None or parallel.bucket_size >= 1,
         f"parallel.bucket_size={parallel.bucket_size}: use null or 1 or more"),
    ]


def _data_checks(data: DataConfig) -> list[Check]:
    return [
        (split_shares(data.split) is not None,
         f"data.split={data.split!r}: give three non-negative numbers, e.g. 949,50,1"),
        (0 < data.masking_probability < 1,
         f"data.masking_probability={data.masking_probability}: use 0 < value < 1"),
        _probability("data.short_sequence_probability", data.short_sequence_probability, upper_open=False),
        _at_least("data.masking_max_ngram", data.masking_max_ngram, 1),
        _at_least("data.num_workers", data.num_workers, 0),
    ]


def _train_checks(train: TrainConfig, on_gpu: bool) -> list[Check]:
    return [
        _at_least("train.micro_batch_size", train.micro_batch_size, 1),
        _at_least("train.global_batch_size", train.global_batch_size, 1),
        _at_least("train.train_iters", train.train_iters, 0),
        _at_least("train.lr", train.lr, 0),
        (0 <= train.min_lr <= max(train.lr, 0), f"train.min_lr={train.min_lr}: use 0 <= min_lr <= train.lr"),
        _probability("train.lr_warmup_fraction", train.lr_warmup_fraction, upper_open=False),
        (train.lr_decay_iters is None or train.lr_decay_iters >= 1,
         f"train.lr_decay_iters={train.lr_decay_iters}: use null or 1 or more"),
        _at_least("train.weight_decay", train.weight_decay, 0),
        _probability("train.adam_beta1", train.adam_beta1),
        _probability("train.adam_beta2", train.adam_beta2),
        _positive("train.adam_eps", train.adam_eps),
        _at_least("train.clip_grad", train.clip_grad, 0),
        # megatron-core's half-precision training needs CUDA (its fused optimizer paths and loss scaling).
        (on_gpu or train.precision == Precision.fp32,
         f"train.precision={train.precision} needs GPUs; use fp32 on the CPU"),
        _positive("train.initial_loss_scale", train.initial_loss_scale),
    ]


def data_parallel_size(parallel: ParallelConfig, world_size: int) -> int:
    """Data-parallel replicas: world = tensor x pipeline x data."""
    return max(world_size // max(parallel.tensor * parallel.pipeline, 1), 1)


def micro_batches_per_step(cfg: PretrainConfig, world_size: int) -> int:
    """Gradient accumulation: micro-batches per optimizer step on each data-parallel rank."""
    per_step = cfg.train.micro_batch_size * data_parallel_size(cfg.parallel, world_size)
    return cfg.train.global_batch_size // max(per_step, 1)


def _batch_checks(cfg: PretrainConfig, world_size: int) -> list[Check]:
    train, pipeline = cfg.train, cfg.parallel.pipeline
    per_step = train.micro_batch_size * data_parallel_size(cfg.parallel, world_size)
    accumulation = micro_batches_per_step(cfg, world_size)
    return [
        (per_step < 1 or train.global_batch_size % per_step == 0,
         f"train.global_batch_size={train.global_batch_size} is not a multiple of micro_batch_size x "
         f"data-parallel size = {per_step}"),
        # megatron-core's interleaved schedule runs micro-batches in groups of the pipeline size.
        (not cfg.parallel.virtual_pipeline or pipeline < 1 or accumulation % pipeline == 0,
         f"parallel.virtual_pipeline needs a multiple of parallel.pipeline={pipeline} micro-batches per "
         f"step; this run has {accumulation} (train.global_batch_size / (micro_batch_size x "
         f"data-parallel size))"),
    ]


def _machine_checks(cfg: PretrainConfig, on_gpu: bool) -> list[Check]:
    """Settings megatron-core cannot run on this machine, refused with a reason instead of its
    TypeError or assert deep inside (each tried with megatron-core 0.16.1)."""
    from megatron.core.models.bert import bert_layer_specs  # heavy: only once the settings are read

    te_or_apex = bert_layer_specs.HAVE_TE or bert_layer_specs.HAVE_APEX
    distributed, sequence = cfg.parallel.distributed_optimizer, cfg.parallel.sequence_parallel
    return [
        (cfg.model.spec != LayerSpec.te or bert_layer_specs.HAVE_TE,
         "model.spec=te needs Transformer Engine, which is not importable here (use an NGC PyTorch "
         "container, or model.spec=local)"),
        # DistributedOptimizer checks each parameter's type string against torch.cuda.*Tensor.
        (not distributed or on_gpu, "parallel.distributed_optimizer=true needs GPUs (megatron-core's "
                                    "distributed optimizer accepts CUDA parameters only)"),
        # With torch's Adam it trains and saves, but loading its checkpoint fails (KeyError 'step' in
        # DistributedOptimizer._set_main_param_and_optimizer_states; seen on an H200): refused at the
        # start rather than at the first resume.
        (not distributed or not on_gpu or te_or_apex,
         "parallel.distributed_optimizer=true needs Transformer Engine or Apex: without their fused Adam, "
         "megatron-core 0.16.1 cannot resume the distributed optimizer's checkpoints (use an NGC PyTorch "
         "container, or leave it off)"),
        (not sequence or on_gpu, "parallel.sequence_parallel=true needs GPUs (megatron-core's "
                                 "sequence-parallel LayerNorm path needs Apex or Transformer Engine)"),
        # The local spec's torch LayerNorm asserts it is not sequence parallel.
        (not sequence or not on_gpu or te_or_apex,
         "parallel.sequence_parallel=true needs Transformer Engine or Apex (neither is importable here: "
         "use an NGC PyTorch container)"),
    ]
