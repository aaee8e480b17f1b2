"""The BERT MLP with its bias add and exact (erf) GELU in one fused pass on a GPU.

megatron-core fuses bias + GELU only as the tanh approximation of GELU, while the exported HF model
(`hidden_act: gelu`) computes the exact one; so that fusion stays off and its MLP adds the bias and
applies GELU in two passes over the [s, b, 4h] activations. `bias_gelu` is the exact function
compiled with `torch.compile` on CUDA (forward and backward each one elementwise kernel); on the CPU
it is the same expression run eagerly. `ExactGeluMLP` is megatron-core's MLP using it: the same
weights and state dict, so checkpoints move freely between the two.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from megatron.core.transformer.mlp import MLP
from torch import Tensor


def _bias_gelu(x: Tensor, bias: Tensor) -> Tensor:
    return F.gelu(x + bias)  # approximate="none": the erf form, as the HF export computes


@functools.cache
def _compiled_bias_gelu():
    return torch.compile(_bias_gelu, dynamic=False)


def bias_gelu(x: Tensor, bias: Tensor) -> Tensor:
    """GELU(x + bias), exact; one fused kernel per direction on CUDA."""
    if x.is_cuda:
        return _compiled_bias_gelu()(x, bias)
    return _bias_gelu(x, bias)


class ExactGeluMLP(MLP):
    """megatron-core's MLP with the bias add and exact GELU fused (plain BERT MLP only: no gated
    linear unit, a bias, GELU; anything else goes to megatron-core's own forward)."""

    def forward(self, hidden_states: Tensor, per_token_scale: Tensor | None = None, **kwargs):
        plain = (per_token_scale is None and not self.config.gated_linear_unit
                 and self.config.add_bias_linear and self.activation_func is F.gelu
                 and not self.config.bias_activation_fusion and not self.config.use_te_activation_func)
        if not plain:
            return super().forward(hidden_states, per_token_scale=per_token_scale, **kwargs)
        intermediate, bias = self.linear_fc1(hidden_states)
        return self.linear_fc2(bias_gelu(intermediate, bias))
