"""The BERT model and its loss: megatron-core's `BertModel` with the Transformer Engine layer spec
when TE is importable (NGC containers) and megatron-core's local spec otherwise (CPU, plain
PyTorch); this rank's model chunks wrapped in megatron-core's DDP; the masked-LM + sentence-order
loss of one micro-batch."""

from __future__ import annotations

import copy
import importlib.util
import logging
from functools import partial

import torch
import torch.nn.functional as F
from megatron.core import parallel_state, tensor_parallel
from megatron.core.distributed import DistributedDataParallel, DistributedDataParallelConfig
from megatron.core.models.bert import bert_layer_specs
from megatron.core.models.bert.bert_model import BertModel
from megatron.core.transformer.module import Float16Module
from megatron.core.transformer.spec_utils import ModuleSpec
from megatron.core.transformer.transformer_config import TransformerConfig

from pretrain.attention import SdpaAttention, padding_keys
from pretrain.config import (
    Attention,
    LayerSpec,
    ModelConfig,
    ParallelConfig,
    PretrainConfig,
    Recompute,
    TrainConfig,
)
from pretrain.mlp import ExactGeluMLP

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


class _ExactGeluMlpIsKnown(logging.Filter):
    """megatron-core warns "Unknown MLP type" for any MLP subclass, then builds it with the default
    tensor-parallel group: the group it passes to its own MLP, so nothing is wrong for ExactGeluMLP."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Unknown MLP type")


_KNOWN_MLP = _ExactGeluMlpIsKnown()


def _quiet_known_mlp_warning() -> None:
    """Install the filter above (once) when a model is built, not when this module is imported."""
    layer_logger = logging.getLogger("megatron.core.transformer.transformer_layer")
    if _KNOWN_MLP not in layer_logger.filters:
        layer_logger.addFilter(_KNOWN_MLP)


def layer_spec(model: ModelConfig | None = None) -> tuple[ModuleSpec, str]:
    """(layer spec, its name), as `model.spec` says: Transformer Engine's (`te`; validation checked
    that it imports), or megatron-core's local spec with `model.attention` as its core attention and,
    with `model.fused_bias_gelu`, the fused bias + exact GELU MLP (model None: megatron-core's local
    spec as it is). Never TE merely because it is installed: that spec has not been measured here."""
    if model is not None and model.spec == LayerSpec.te:
        return bert_layer_specs.get_bert_layer_with_transformer_engine_spec(), "transformer_engine"
    return local_layer_spec(model), "local" if model is None else f"local ({describe_local_spec(model)})"


def describe_local_spec(model: ModelConfig) -> str:
    return f"{model.attention} attention, {'fused' if model.fused_bias_gelu else 'unfused'} bias-GELU"


def local_layer_spec(model: ModelConfig | None) -> ModuleSpec:
    """megatron-core's local BERT layer spec with this project's faster modules swapped in. Both
    are subclasses of the modules they replace, with the same weights: the checkpoint is the same."""
    spec = copy.deepcopy(bert_layer_specs.bert_layer_local_spec)
    if model is None:
        return spec
    if model.attention == Attention.sdpa:
        spec.submodules.self_attention.submodules.core_attention = SdpaAttention
    if model.fused_bias_gelu:
        spec.submodules.mlp.module = ExactGeluMLP
    return spec


def fused_kernels() -> dict[str, bool]:
    """Which optional fused kernels this machine has. megatron-core asserts (LayerNorm) or fails
    at the first forward (softmax) when a fusion is asked for without its kernel, so each is
    switched on only where the package that provides it is importable: Apex's persistent
    LayerNorm, and the scaled-masked-softmax CUDA extension (Apex or Megatron's fused kernels)."""
    return {"persist_layer_norm": bert_layer_specs.HAVE_APEX,
            "masked_softmax_fusion": importlib.util.find_spec("scaled_masked_softmax_cuda") is not None}


def transformer_config(model: ModelConfig, parallel: ParallelConfig, train: TrainConfig,
                       on_gpu: bool) -> TransformerConfig:
    """megatron-core's TransformerConfig for these settings (checked by pretrain.config.validate)."""
    dtype = DTYPES[train.precision]
    recompute = {}
    if parallel.recompute == Recompute.full:
        recompute = {"recompute_granularity": "full", "recompute_method": "uniform",
                     "recompute_num_layers": parallel.recompute_num_layers}
    elif parallel.recompute == Recompute.selective:
        recompute = {"recompute_granularity": "selective"}
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


class GatorTronBert(BertModel):
    """megatron-core's BertModel, told that SdpaAttention takes the keys' padding mask, [b, 1, 1, s]
    (it recognizes only its own DotProductAttention as a local core attention: the override of its
    private method is listed in gatortron_common.megatron_internals), and handing SdpaAttention that
    mask derived once per forward for all layers."""

    def _takes_padding_keys(self) -> bool:
        attention = self.transformer_layer_spec.submodules.self_attention
        return attention.submodules.core_attention is SdpaAttention

    def _sanity_check_attention_and_get_attn_mask_dimension(self) -> str:
        if self._takes_padding_keys():
            return "b11s"
        return super()._sanity_check_attention_and_get_attn_mask_dimension()

    def bert_extended_attention_mask(self, attention_mask: torch.Tensor) -> torch.Tensor | None:
        extended = super().bert_extended_attention_mask(attention_mask)
        return padding_keys(extended) if self._takes_padding_keys() else extended


def build_model(config: TransformerConfig, model: ModelConfig, vocab_size: int, pre_process: bool,
                post_process: bool, vp_stage: int | None = None, local_spec: bool = False) -> BertModel:
    """One model chunk (a pipeline stage, or a virtual stage of it).

    Args:
        local_spec: use megatron-core's local layer spec even where TE is installed (checkpoint
            conversion on the CPU; both specs save the same weight names).
    """
    _quiet_known_mlp_warning()
    spec = bert_layer_specs.bert_layer_local_spec if local_spec else layer_spec(model)[0]
    return GatorTronBert(config=config, num_tokentypes=model.num_tokentypes, transformer_layer_spec=spec,
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


def build_model_chunks(cfg: PretrainConfig, vocab_size: int,
                       device: torch.device) -> tuple[TransformerConfig, list[DistributedDataParallel]]:
    """The model chunks of this rank (one, or one per virtual pipeline stage), on `device`, in the
    training precision, wrapped in megatron-core DDP; and their TransformerConfig."""
    config = transformer_config(cfg.model, cfg.parallel, cfg.train, on_gpu=device.type == "cuda")
    chunks = []
    virtual = cfg.parallel.virtual_pipeline
    for vp_stage in range(virtual or 1):
        stage = vp_stage if virtual else None
        first = parallel_state.is_pipeline_first_stage(ignore_virtual=False, vp_stage=stage)
        last = parallel_state.is_pipeline_last_stage(ignore_virtual=False, vp_stage=stage)
        chunk = build_model(config, cfg.model, vocab_size, pre_process=first, post_process=last,
                            vp_stage=stage)
        for parameter in chunk.parameters():  # as Megatron-LM: every parameter says how TP splits it
            tensor_parallel.set_defaults_if_not_set_tensor_model_parallel_attributes(parameter)
        chunks.append(in_training_precision(chunk.to(device), config))
    parallel = cfg.parallel
    ddp_config = DistributedDataParallelConfig(
        grad_reduce_in_fp32=parallel.grad_reduce_in_fp32, overlap_grad_reduce=parallel.overlap_grad_reduce,
        bucket_size=parallel.bucket_size, use_distributed_optimizer=parallel.distributed_optimizer)
    wrapped = [DistributedDataParallel(config=config, ddp_config=ddp_config, module=chunk,
                                       disable_bucketing=index > 0) for index, chunk in enumerate(chunks)]
    return config, wrapped


def bert_loss(loss_mask: torch.Tensor, sentence_order: torch.Tensor, output) -> tuple[torch.Tensor, dict]:
    """Masked-LM loss (mean over masked tokens) plus sentence-order loss, as Megatron's BERT."""
    lm_losses, sop_logits = output
    lm_loss = torch.sum(lm_losses.view(-1).float() * loss_mask.reshape(-1)) / loss_mask.sum().clamp(min=1)
    # Copies: the schedule divides the returned loss in place by the number of micro-batches.
    reported = {"lm loss": lm_loss.detach().clone()}
    loss = lm_loss
    if sop_logits is not None:
        sop_loss = F.cross_entropy(sop_logits.view(-1, 2).float(), sentence_order.view(-1), ignore_index=-1)
        loss = loss + sop_loss
        reported["sop loss"] = sop_loss.detach().clone()
    return loss, reported


def forward_step(data_iterator, model, device: torch.device):
    """One micro-batch through one model chunk; the loss function finishes it on the last stage."""
    batch = {key: value.to(device) for key, value in next(data_iterator).items()}
    output = model(batch["text"], batch["padding_mask"], tokentype_ids=batch["types"],
                   lm_labels=batch["labels"])
    return output, partial(bert_loss, batch["loss_mask"], batch["is_random"])
