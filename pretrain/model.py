"""The BERT model: megatron-core's `BertModel` with the Transformer Engine layer spec when TE is
importable (NGC containers) and megatron-core's local spec otherwise (CPU, plain PyTorch)."""

from __future__ import annotations

import importlib.util

import torch
from megatron.core.models.bert import bert_layer_specs
from megatron.core.models.bert.bert_model import BertModel
from megatron.core.transformer.module import Float16Module
from megatron.core.transformer.spec_utils import ModuleSpec
from megatron.core.transformer.transformer_config import TransformerConfig

from pretrain.config import ModelConfig, ParallelConfig, TrainConfig

PRECISIONS = ("fp32", "bf16", "fp16")


def layer_spec() -> tuple[ModuleSpec, str]:
    """(layer spec, its name): TE when transformer_engine is importable, else the local spec."""
    if bert_layer_specs.HAVE_TE:
        return bert_layer_specs.get_bert_layer_with_transformer_engine_spec(), "transformer_engine"
    return bert_layer_specs.bert_layer_local_spec, "local"


def fused_kernels() -> dict[str, bool]:
    """Which optional fused kernels this machine has. megatron-core asserts (LayerNorm) or fails
    at the first forward (softmax) when a fusion is asked for without its kernel, so each is
    switched on only where the package that provides it is importable: Apex's persistent
    LayerNorm, and the scaled-masked-softmax CUDA extension (Apex or Megatron's fused kernels)."""
    return {"persist_layer_norm": bert_layer_specs.HAVE_APEX,
            "masked_softmax_fusion": importlib.util.find_spec("scaled_masked_softmax_cuda") is not None}


def transformer_config(model: ModelConfig, parallel: ParallelConfig, train: TrainConfig,
                       on_gpu: bool) -> TransformerConfig:
    """megatron-core's TransformerConfig for these settings."""
    if train.precision not in PRECISIONS:
        raise ValueError(f"train.precision={train.precision!r}: use one of {', '.join(PRECISIONS)}")
    if train.precision != "fp32" and not on_gpu:
        raise ValueError(f"train.precision={train.precision} needs a GPU; use fp32 on CPU")
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[train.precision]
    recompute = {}
    if parallel.recompute == "full":
        recompute = {"recompute_granularity": "full", "recompute_method": "uniform",
                     "recompute_num_layers": parallel.recompute_num_layers}
    elif parallel.recompute == "selective":
        recompute = {"recompute_granularity": "selective"}
    elif parallel.recompute is not None:
        raise ValueError(f"parallel.recompute={parallel.recompute!r}: use null, selective or full")
    fused = fused_kernels() if on_gpu else {"persist_layer_norm": False, "masked_softmax_fusion": False}
    return TransformerConfig(
        num_layers=model.num_layers, hidden_size=model.hidden_size,
        num_attention_heads=model.num_attention_heads, ffn_hidden_size=model.ffn_hidden_size,
        hidden_dropout=model.hidden_dropout, attention_dropout=model.attention_dropout,
        init_method_std=model.init_method_std, layernorm_epsilon=model.layernorm_epsilon,
        tensor_model_parallel_size=parallel.tensor, pipeline_model_parallel_size=parallel.pipeline,
        virtual_pipeline_model_parallel_size=parallel.virtual_pipeline,
        sequence_parallel=parallel.sequence_parallel,
        bf16=train.precision == "bf16", fp16=train.precision == "fp16", params_dtype=dtype,
        pipeline_dtype=dtype, autocast_dtype=dtype,
        # CPU: weights made on the CPU (TP=2 then starts from TP=1's exact weights) and no fused
        # CUDA kernels. The bias-dropout-add fusion is TorchScript, so any GPU has it. No bias-GELU
        # fusion anywhere: megatron-core's computes the tanh approximation of GELU, while the
        # unfused MLP, the LM head and the exported HF model (hidden_act "gelu") use the exact one;
        # a GPU-trained model then computes after export what it computed in training.
        use_cpu_initialization=not on_gpu, gradient_accumulation_fusion=False,
        bias_activation_fusion=False, bias_dropout_fusion=on_gpu, **fused,
        **recompute,
    )


def build_model(config: TransformerConfig, model: ModelConfig, vocab_size: int, pre_process: bool,
                post_process: bool, vp_stage: int | None = None, local_spec: bool = False) -> BertModel:
    """One model chunk (a pipeline stage, or a virtual stage of it).

    Args:
        local_spec: use megatron-core's local layer spec even where TE is installed (checkpoint
            conversion on the CPU; both specs save the same weight names).
    """
    spec = bert_layer_specs.bert_layer_local_spec if local_spec else layer_spec()[0]
    return BertModel(config=config, num_tokentypes=model.num_tokentypes, transformer_layer_spec=spec,
                     vocab_size=vocab_size, max_sequence_length=model.seq_length, pre_process=pre_process,
                     post_process=post_process, add_binary_head=model.binary_head,
                     share_embeddings_and_output_weights=True, parallel_output=True, vp_stage=vp_stage)


def in_training_precision(chunk: BertModel, config: TransformerConfig) -> torch.nn.Module:
    """The chunk as it trains: for bf16/fp16, inside megatron-core's Float16Module, as Megatron-LM
    does. megatron-core makes some weights fp32 whatever params_dtype says (the torch LayerNorms of
    the local spec), so without it the first bf16 matmul meets an fp32 input (seen on an H200);
    the wrapper casts every weight, casts float inputs on the first stage and returns fp32 outputs
    on the last. fp32 chunks are returned as they are."""
    if config.bf16 or config.fp16:
        return Float16Module(config, chunk)
    return chunk
