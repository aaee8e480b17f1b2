"""Core attention for megatron-core's local layer spec on `torch.nn.functional.scaled_dot_product_attention`.

megatron-core's `DotProductAttention` materializes the [b, heads, s, s] scores, masks and softmaxes them
in separate passes; SDPA runs FlashAttention or the memory-efficient kernel on a GPU (and a fused
CPU kernel), without the scores in memory. It is a drop-in subclass: same constructor, same (empty)
state dict, so checkpoints move freely between the two.

BERT's padding mask (True = masked) reaches it as the keys' padding, [b, 1, 1, s], derived once per
forward by `GatorTronBert` (None when nothing is padded); megatron-core's [b, 1, s, s] form (the outer
product of the padding of queries and keys) is reduced to it. Rows of real tokens then attend exactly
as in `DotProductAttention`; rows of padding tokens (whose outputs no loss reads: padding keys
get zero weight everywhere and the loss mask is zero there) attend to the real tokens instead of
uniformly to all.
"""

from __future__ import annotations

import torch.nn.functional as F
from megatron.core import tensor_parallel
from megatron.core.transformer.dot_product_attention import DotProductAttention
from torch import Tensor


def keys_of(attention_mask: Tensor) -> Tensor:
    """megatron-core's BERT mask (True = masked), [b, 1, 1, s] or [b, 1, s, s], reduced to the keys'
    padding, [b, 1, 1, s]; a row of padding only masks nothing (SDPA would give NaN). No GPU sync."""
    masked_keys = attention_mask.all(dim=-2, keepdim=True)  # masked for every query: a padding key
    return masked_keys & ~masked_keys.all(dim=-1, keepdim=True)


def padding_keys(attention_mask: Tensor | None) -> Tensor | None:
    """`keys_of(attention_mask)`, or None when nothing is masked (SDPA may then take FlashAttention).
    Deciding that reads a value back from the GPU, a sync: `GatorTronBert` calls this once per
    forward and hands the result to every layer."""
    if attention_mask is None:
        return None
    masked_keys = keys_of(attention_mask)
    return masked_keys if bool(masked_keys.any()) else None


class SdpaAttention(DotProductAttention):
    """`DotProductAttention` computed by `scaled_dot_product_attention` (see the module docstring)."""

    def forward(self, query: Tensor, key: Tensor, value: Tensor, attention_mask: Tensor | None,
                attn_mask_type=None, attention_bias=None, packed_seq_params=None) -> Tensor:
        if packed_seq_params is not None or attention_bias is not None:
            raise ValueError("SdpaAttention takes neither packed sequences nor an attention bias")
        if self.config.softmax_type != "vanilla":
            raise ValueError(f"SdpaAttention computes the vanilla softmax, not {self.config.softmax_type}")
        groups = self.num_attention_heads_per_partition // self.num_query_groups_per_partition
        if groups > 1:
            key, value = key.repeat_interleave(groups, dim=2), value.repeat_interleave(groups, dim=2)
        # megatron-core divides the scale by the layer number and multiplies it back in the softmax
        scale = self.softmax_scale * (self.layer_number if self.config.apply_query_key_layer_scaling else 1)
        # [s, b, heads, head dim] -> [b, heads, s, head dim]
        query, key, value = (t.permute(1, 2, 0, 3) for t in (query, key, value))
        dropout = self.attention_dropout.p if self.training else 0.0
        mask = None if attention_mask is None else ~keys_of(attention_mask)  # SDPA's: True = attend
        if dropout > 0 and not self.config.sequence_parallel:
            # each tensor-parallel rank holds other heads: dropout draws from the model-parallel stream
            with tensor_parallel.get_cuda_rng_tracker().fork():
                context = F.scaled_dot_product_attention(query, key, value, attn_mask=mask,
                                                         dropout_p=dropout, scale=scale)
        else:
            context = F.scaled_dot_product_attention(query, key, value, attn_mask=mask, dropout_p=dropout,
                                                     scale=scale)
        # [b, heads, s, head dim] -> [s, b, heads x head dim]
        context = context.permute(2, 0, 1, 3).contiguous()
        return context.view(*context.shape[:2], self.hidden_size_per_partition)
