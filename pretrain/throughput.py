"""Throughput figures for the logs: tokens/s, TFLOP/s per device, MFU (and HFU) and memory.

FLOPs follow the usual dense-transformer count (matrix multiplies only, 2 FLOPs per multiply-add):
per token and layer 8h^2 (QKV and output projection) + 4h*f (MLP) + 4sh (attention scores and
context), plus 2h^2 + 2hV for the LM head. A training step's model FLOPs are 3x the forward pass
(forward, and backward at twice the forward); MFU (model FLOPs utilisation) divides them by the
GPU's dense peak for the run's precision, whatever the run recomputes. With activation
recomputation the GPU also repeats forward work: its hardware FLOPs are 4x the forward pass with
full recomputation, 3x plus the attention scores and context with selective; HFU divides those by
the peak and is reported beside MFU.
"""

from __future__ import annotations

from dataclasses import dataclass

import psutil
import torch

from pretrain.config import ModelConfig, PretrainConfig, Recompute

# Dense peak TFLOP/s per GPU, by precision (vendor data sheets; fp32 = TF32 tensor cores).
PEAK_TFLOPS = {
    "H200": {"bf16": 989.0, "fp16": 989.0, "fp32": 494.0},
    "H100": {"bf16": 989.0, "fp16": 989.0, "fp32": 494.0},
    "A100": {"bf16": 312.0, "fp16": 312.0, "fp32": 156.0},
    "L40S": {"bf16": 362.0, "fp16": 362.0, "fp32": 183.0},
    "A10": {"bf16": 125.0, "fp16": 125.0, "fp32": 62.5},
    "V100": {"fp16": 125.0, "fp32": 15.7},
}


def forward_flops(model: ModelConfig, vocab_size: int, samples: int) -> float:
    """FLOPs of one forward pass over `samples` sequences."""
    h, f, s, layers = model.hidden_size, model.ffn_hidden_size, model.seq_length, model.num_layers
    per_token = layers * (8 * h * h + 4 * h * f + 4 * s * h) + 2 * h * h + 2 * h * vocab_size
    return samples * s * per_token


def model_flops_per_step(model: ModelConfig, vocab_size: int, samples: int) -> float:
    """Model FLOPs of one optimizer step over `samples` sequences: forward and backward, 3x forward."""
    return 3 * forward_flops(model, vocab_size, samples)


def hardware_flops_per_step(model: ModelConfig, vocab_size: int, samples: int,
                            recompute: Recompute | None) -> float:
    """FLOPs the GPU computes for one step: the model FLOPs plus what recomputation repeats (the
    whole forward for "full", the attention scores and context for "selective")."""
    step = model_flops_per_step(model, vocab_size, samples)
    if recompute == Recompute.full:
        return step + forward_flops(model, vocab_size, samples)
    if recompute == Recompute.selective:
        s, h = model.seq_length, model.hidden_size
        return step + samples * s * model.num_layers * 4 * s * h
    return step


@dataclass(frozen=True)
class StepFlops:
    """One step's model FLOPs, its hardware FLOPs when recomputation is on, and the device's peak."""

    model: float
    hardware: float | None  # None: no recomputation (hardware = model FLOPs)
    peak_tflops: float | None  # None: CPU, or a GPU not in PEAK_TFLOPS

    @classmethod
    def of(cls, cfg: PretrainConfig, vocab_size: int, device: torch.device) -> StepFlops:
        samples, recompute = cfg.train.global_batch_size, cfg.parallel.recompute
        hardware = None if recompute is None else hardware_flops_per_step(cfg.model, vocab_size, samples,
                                                                          recompute)
        return cls(model_flops_per_step(cfg.model, vocab_size, samples), hardware,
                   peak_tflops(str(cfg.train.precision), device))

    def rates(self, seconds: float, devices: int) -> dict[str, float]:
        """TFLOP/s per device and MFU for a step of `seconds` on `devices`; with recomputation also
        the hardware TFLOP/s and HFU."""
        tflops = self.model / seconds / devices / 1e12
        rates = {"tflops_per_device": tflops}
        if self.peak_tflops:
            rates["mfu"] = tflops / self.peak_tflops
        if self.hardware is not None:
            rates["hardware_tflops_per_device"] = self.hardware / seconds / devices / 1e12
            if self.peak_tflops:
                rates["hfu"] = rates["hardware_tflops_per_device"] / self.peak_tflops
        return rates


def peak_tflops(precision: str, device: torch.device) -> float | None:
    """The device's dense peak for `precision`, or None (CPU, or a GPU not in the table)."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key, peaks in PEAK_TFLOPS.items():
        if key in name:
            return peaks.get(precision)
    return None


def memory_gib(device: torch.device) -> float:
    """Peak GPU memory allocated by this process, or its resident memory on the CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return psutil.Process().memory_info().rss / 2**30
