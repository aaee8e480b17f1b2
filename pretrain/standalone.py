"""megatron-core in one process (TP=1, PP=1), for tools that need the real model outside a
training run: `import_hf` fills one and saves it as a checkpoint, `export verify=true` compares
its logits with the exported HF model.

Dist checkpoints are reshardable, so a model saved at any TP/PP layout loads here whole.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from dataclasses import fields

import torch
from megatron.core import dist_checkpointing, parallel_state, tensor_parallel
from megatron.core.models.bert.bert_model import BertModel

from gatortron_common import megatron_internals
from gatortron_common.logging import get_logger
from pretrain import cpu_backend
from pretrain.config import ModelConfig, ParallelConfig, TrainConfig
from pretrain.model import build_model, transformer_config

logger = get_logger(__name__)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def single_process_megatron(seed: int = 1234) -> Iterator[None]:
    """A world of one process on the CPU (gloo) with megatron-core's parallel state set up, and
    the CPU backend applied.

    Conversion is CPU work and must not need a free GPU, so GPUs must be hidden: where CUDA is
    visible this refuses to start (the CPU backend would change nothing there, and megatron-core
    would put its buffers on the GPU). `pretrain.export` and `pretrain.import_hf` hide them
    (CUDA_VISIBLE_DEVICES="") before torch is imported.
    """
    megatron_internals.check("pretrain", logger)
    created = not torch.distributed.is_initialized()
    if created:
        if torch.cuda.is_available():
            raise RuntimeError("single_process_megatron runs on the CPU; hide GPUs (CUDA_VISIBLE_DEVICES=)")
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", str(_free_port()))
        torch.distributed.init_process_group("gloo", rank=0, world_size=1)
    cpu_backend.apply()
    parallel_state.initialize_model_parallel(tensor_model_parallel_size=1, pipeline_model_parallel_size=1)
    tensor_parallel.model_parallel_cuda_manual_seed(seed)
    torch.manual_seed(seed)
    try:
        yield
    finally:
        parallel_state.destroy_model_parallel()
        if created:
            torch.distributed.destroy_process_group()


def model_config_from_dict(saved: dict) -> ModelConfig:
    """A ModelConfig from the dict a checkpoint stores (unknown keys ignored: newer fields)."""
    names = {f.name for f in fields(ModelConfig)}
    return ModelConfig(**{k: v for k, v in saved.items() if k in names})


def build_whole_model(model: ModelConfig, padded_vocab_size: int, dtype: str = "fp32") -> BertModel:
    """The full BertModel (every layer, embeddings and heads) in this single process, on the CPU."""
    config = transformer_config(model, ParallelConfig(), TrainConfig(precision="fp32"), on_gpu=False)
    if dtype != "fp32":  # conversion only: keep the checkpoint's dtype without needing a GPU
        config.params_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[dtype]
    bert = build_model(config, model, padded_vocab_size, pre_process=True, post_process=True, local_spec=True)
    for parameter in bert.parameters():
        tensor_parallel.set_defaults_if_not_set_tensor_model_parallel_attributes(parameter)
    if dtype != "fp32":  # every weight, LayerNorms included, as megatron-core's Float16Module keeps them
        bert.to(config.params_dtype)
    return bert


def load_model_weights(bert: BertModel, directory: str) -> None:
    """Load only the model weights of the checkpoint in `directory` (any TP/PP layout)."""
    loaded = dist_checkpointing.load({"model": bert.sharded_state_dict()}, directory)
    bert.load_state_dict(loaded["model"], strict=True)


@torch.no_grad()
def mlm_logits(bert: BertModel, tokens: torch.Tensor, token_types: torch.Tensor,
               attention_mask: torch.Tensor) -> torch.Tensor:
    """[batch, sequence, padded vocab] masked-LM logits of megatron-core's model (eval mode)."""
    bert.eval()
    logits, _ = bert(tokens, attention_mask, tokentype_ids=token_types, lm_labels=None)
    return logits
