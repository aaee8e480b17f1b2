"""Settings of the pretrain stage (Hydra structured config; YAML in configs/pretrain/).

Sections a Megatron user recognises: `model` (architecture; a config group with tiny and the three
GatorTron sizes), `parallel`, `data`, `train` (batch, optimizer, schedule, precision),
`checkpoint`, `logging`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


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
        lr_decay_style: linear, cosine or constant.
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


ConfigStore.instance().store(name="pretrain_schema", node=PretrainConfig)
