"""How megatron-core's BertModel weights map onto Hugging Face `MegatronBert*` (both pre-LayerNorm).

megatron-core's dist checkpoints hold each weight once, at its global (unsharded) shape, whatever
the TP/PP layout of the run that saved it; the transformer layers are stacked along a leading
layer axis (`encoder.layers.mlp.linear_fc1.weight` is [layers, ffn, hidden]). So the mapping is
between global tensors only and never needs to know how a run was split.

Layout facts the mapping depends on:
- `linear_qkv` rows are grouped per attention head: head h owns rows [3·d·h, 3·d·(h+1)) as
  [query_h; key_h; value_h] (d = hidden / heads). HF keeps separate query/key/value matrices
  whose rows are heads in order.
- The vocabulary is padded (to a multiple of 128 × TP); HF gets the real rows only, and the
  padding rows come back as zeros on import.
- The LM decoder weight is tied to the word embeddings on both sides; only the bias is stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

HF_LAYER = "bert.encoder.layer.{}."

# Per-layer weights stacked along the layer axis in megatron-core -> HF name inside a layer.
# linear_qkv is handled apart (one megatron tensor, three HF tensors).
LAYER_WEIGHTS = {
    "encoder.layers.self_attention.linear_qkv.layer_norm_weight": "attention.ln.weight",
    "encoder.layers.self_attention.linear_qkv.layer_norm_bias": "attention.ln.bias",
    "encoder.layers.self_attention.linear_proj.weight": "attention.output.dense.weight",
    "encoder.layers.self_attention.linear_proj.bias": "attention.output.dense.bias",
    "encoder.layers.mlp.linear_fc1.layer_norm_weight": "ln.weight",
    "encoder.layers.mlp.linear_fc1.layer_norm_bias": "ln.bias",
    "encoder.layers.mlp.linear_fc1.weight": "intermediate.dense.weight",
    "encoder.layers.mlp.linear_fc1.bias": "intermediate.dense.bias",
    "encoder.layers.mlp.linear_fc2.weight": "output.dense.weight",
    "encoder.layers.mlp.linear_fc2.bias": "output.dense.bias",
}
QKV_WEIGHT = "encoder.layers.self_attention.linear_qkv.weight"
QKV_BIAS = "encoder.layers.self_attention.linear_qkv.bias"

# Whole-model weights, one to one. Vocabulary-sized ones are trimmed / padded.
SINGLE_WEIGHTS = {
    "embedding.word_embeddings.weight": "bert.embeddings.word_embeddings.weight",
    "embedding.position_embeddings.weight": "bert.embeddings.position_embeddings.weight",
    "embedding.tokentype_embeddings.weight": "bert.embeddings.token_type_embeddings.weight",
    "encoder.final_layernorm.weight": "bert.encoder.ln.weight",
    "encoder.final_layernorm.bias": "bert.encoder.ln.bias",
    "lm_head.dense.weight": "cls.predictions.transform.dense.weight",
    "lm_head.dense.bias": "cls.predictions.transform.dense.bias",
    "lm_head.layer_norm.weight": "cls.predictions.transform.LayerNorm.weight",
    "lm_head.layer_norm.bias": "cls.predictions.transform.LayerNorm.bias",
    "output_layer.bias": "cls.predictions.bias",
}
VOCAB_SIZED = {"embedding.word_embeddings.weight", "output_layer.bias"}
# Present only with the sentence-order head (Megatron builds the pooler for it).
BINARY_HEAD_WEIGHTS = {
    "pooler.dense.weight": "bert.pooler.dense.weight",
    "pooler.dense.bias": "bert.pooler.dense.bias",
    "binary_head.weight": "cls.seq_relationship.weight",
    "binary_head.bias": "cls.seq_relationship.bias",
}
# HF names that are tied to another stored tensor (never written, skipped on import).
HF_TIED = {"cls.predictions.decoder.weight", "cls.predictions.decoder.bias"}


@dataclass(frozen=True)
class Shapes:
    """What the mapping needs to know of the architecture."""

    num_layers: int
    num_attention_heads: int
    vocab_size: int  # real entries (vocab.txt lines)
    padded_vocab_size: int
    binary_head: bool


def megatron_keys(shapes: Shapes) -> list[str]:
    """Every model weight a megatron-core checkpoint of this architecture holds, in a fixed order."""
    keys = [*SINGLE_WEIGHTS, QKV_WEIGHT, QKV_BIAS, *LAYER_WEIGHTS]
    if shapes.binary_head:
        keys += list(BINARY_HEAD_WEIGHTS)
    return keys


def to_hf(key: str, tensor: torch.Tensor, shapes: Shapes) -> Iterator[tuple[str, torch.Tensor]]:
    """The HF tensors made from one global megatron-core tensor (contiguous copies)."""
    if key in SINGLE_WEIGHTS or key in BINARY_HEAD_WEIGHTS:
        name = SINGLE_WEIGHTS.get(key) or BINARY_HEAD_WEIGHTS[key]
        if key in VOCAB_SIZED:
            tensor = tensor[: shapes.vocab_size]
        yield name, tensor.contiguous().clone()
    elif key in (QKV_WEIGHT, QKV_BIAS):
        part = "weight" if key == QKV_WEIGHT else "bias"
        for layer in range(shapes.num_layers):
            query, key_, value = _split_qkv(tensor[layer], shapes.num_attention_heads)
            prefix = HF_LAYER.format(layer) + "attention.self."
            yield prefix + f"query.{part}", query
            yield prefix + f"key.{part}", key_
            yield prefix + f"value.{part}", value
    elif key in LAYER_WEIGHTS:
        for layer in range(shapes.num_layers):
            yield HF_LAYER.format(layer) + LAYER_WEIGHTS[key], tensor[layer].contiguous().clone()
    else:
        raise KeyError(key)


def from_hf(key: str, hf: dict[str, torch.Tensor], shapes: Shapes, layer: int | None = None) -> torch.Tensor:
    """The global megatron-core tensor `key` assembled from HF tensors (`hf` maps HF names), or,
    for a weight stacked over layers, only its slice for `layer` when one is given."""
    if key in SINGLE_WEIGHTS or key in BINARY_HEAD_WEIGHTS:
        tensor = hf[SINGLE_WEIGHTS.get(key) or BINARY_HEAD_WEIGHTS[key]]
        if key in VOCAB_SIZED:
            padded = tensor.new_zeros((shapes.padded_vocab_size, *tensor.shape[1:]))
            padded[: tensor.shape[0]] = tensor
            tensor = padded
        return tensor.contiguous().clone()
    layers = range(shapes.num_layers) if layer is None else [layer]
    if key in (QKV_WEIGHT, QKV_BIAS):
        part = "weight" if key == QKV_WEIGHT else "bias"
        parts = []
        for index in layers:
            prefix = HF_LAYER.format(index) + "attention.self."
            parts.append(_join_qkv(hf[prefix + f"query.{part}"], hf[prefix + f"key.{part}"],
                                   hf[prefix + f"value.{part}"], shapes.num_attention_heads))
    elif key in LAYER_WEIGHTS:
        parts = [hf[HF_LAYER.format(index) + LAYER_WEIGHTS[key]].contiguous().clone() for index in layers]
    else:
        raise KeyError(key)
    return parts[0] if layer is not None else torch.stack(parts)


def is_stacked(key: str) -> bool:
    """Whether megatron-core stacks this weight over the layers (a leading layer axis)."""
    return key in LAYER_WEIGHTS or key in (QKV_WEIGHT, QKV_BIAS)


def hf_names(key: str, shapes: Shapes, layer: int | None = None) -> list[str]:
    """The HF names `from_hf(key, ..., layer)` reads (to stream exactly those from safetensors)."""
    if key in SINGLE_WEIGHTS or key in BINARY_HEAD_WEIGHTS:
        return [SINGLE_WEIGHTS.get(key) or BINARY_HEAD_WEIGHTS[key]]
    layers = range(shapes.num_layers) if layer is None else [layer]
    if key in (QKV_WEIGHT, QKV_BIAS):
        part = "weight" if key == QKV_WEIGHT else "bias"
        return [HF_LAYER.format(index) + f"attention.self.{name}.{part}"
                for index in layers for name in ("query", "key", "value")]
    return [HF_LAYER.format(index) + LAYER_WEIGHTS[key] for index in layers]


def _split_qkv(fused: torch.Tensor, heads: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """[3·hidden, ...] rows grouped per head as [q_h; k_h; v_h] -> (query, key, value)."""
    per_head = fused.reshape(heads, 3, fused.shape[0] // (3 * heads), *fused.shape[1:])
    return tuple(per_head[:, index].reshape(-1, *fused.shape[1:]).contiguous().clone()  # type: ignore
                 for index in range(3))


def _join_qkv(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, heads: int) -> torch.Tensor:
    """The inverse of `_split_qkv`."""
    parts = [t.reshape(heads, t.shape[0] // heads, *t.shape[1:]) for t in (query, key, value)]
    return torch.stack(parts, dim=1).reshape(-1, *query.shape[1:])
