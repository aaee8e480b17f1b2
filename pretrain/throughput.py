"""Throughput figures for the logs: tokens/s, model TFLOP/s per GPU, MFU and memory.

FLOPs follow the usual dense-transformer count (matrix multiplies only, 2 FLOPs per multiply-add):
per token and layer 8h^2 (QKV and output projection) + 4h*f (MLP) + 4sh (attention scores and
context), plus 2h^2 + 2hV for the LM head; a training step is 3x the forward pass, 4x with full
activation recomputation. MFU divides by the GPU's dense peak for the run's precision.
"""

from __future__ import annotations

import psutil
import torch

from pretrain.config import ModelConfig

# Dense peak TFLOP/s per GPU, by precision (vendor data sheets; fp32 = TF32 tensor cores).
PEAK_TFLOPS = {
    "H200": {"bf16": 989.0, "fp16": 989.0, "fp32": 494.0},
    "H100": {"bf16": 989.0, "fp16": 989.0, "fp32": 494.0},
    "A100": {"bf16": 312.0, "fp16": 312.0, "fp32": 156.0},
    "L40S": {"bf16": 362.0, "fp16": 362.0, "fp32": 183.0},
    "A10": {"bf16": 125.0, "fp16": 125.0, "fp32": 62.5},
    "V100": {"fp16": 125.0, "fp32": 15.7},
}


def flops_per_step(model: ModelConfig, vocab_size: int, samples: int, full_recompute: bool) -> float:
    """Model FLOPs of one optimizer step over `samples` sequences."""
    h, f, s, layers = model.hidden_size, model.ffn_hidden_size, model.seq_length, model.num_layers
    per_token = layers * (8 * h * h + 4 * h * f + 4 * s * h) + 2 * h * h + 2 * h * vocab_size
    return (4 if full_recompute else 3) * samples * s * per_token


def peak_tflops(precision: str) -> float | None:
    """This GPU's dense peak for `precision`, or None (CPU, or a GPU not in the table)."""
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name()
    for key, peaks in PEAK_TFLOPS.items():
        if key in name:
            return peaks.get(precision)
    return None


def memory_gib() -> float:
    """Peak GPU memory allocated by this process, or its resident memory on the CPU."""
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**30
    return psutil.Process().memory_info().rss / 2**30
