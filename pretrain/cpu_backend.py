"""Run megatron-core on a machine without CUDA (gloo process groups, CPU tensors).

megatron-core has no CPU support: a few of its modules call torch.cuda directly (device queries,
streams, synchronize, the CUDA RNG state) or make tensors with device="cuda". This module, applied
once and only when CUDA is unavailable, redirects exactly those call sites, in this process only
(nothing on disk changes):

- in each module of `CUDA_ON_CPU_MODULES`, the name `torch` is replaced by a proxy whose `cuda`
  answers with the CPU (current_device() is the CPU, synchronize/streams do nothing, the RNG state
  is the CPU generator's) and whose tensor factories turn device="cuda" into the CPU; everything
  else is the real torch;
- the tensor-parallel RNG tracker saves and restores the CPU generator instead of CUDA's;
- gradient clipping checks float32 instead of `torch.cuda.FloatTensor`;
- the tied word embedding of the last pipeline stage skips its `.cuda()` copy.

Every internal touched here is listed, with why, in `gatortron_common.megatron_internals`.
Each redirection is listed by `apply()` and counted when used (`redirected_calls()`). The number of
CUDA references in megatron-core's sources is pinned in `CUDA_REFERENCES` (tests compare), so a
megatron-core upgrade that adds call sites shows up as a failing test, not a crash on CPU.
Observed on megatron-core 0.16.1: with these redirections TP=2, PP=2 and TP2xPP2 reproduce the
TP=1 losses and dist checkpoints reshard exactly.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import re
import types
from collections import Counter
from pathlib import Path

import torch

from gatortron_common.megatron_internals import CUDA_ON_CPU_MODULES

_CPU = torch.device("cpu")
_CALLS: Counter = Counter()
_APPLIED: list[str] = []

# torch.cuda / device="cuda" / .cuda( references per source file, as of megatron-core CHECKED_VERSION.
CUDA_PATTERN = re.compile(r"torch\.cuda\.|device\s*=\s*['\"]cuda|\.cuda\(")
# The redirected modules, and the others on the training path (their CUDA uses are on paths the
# CPU never takes: sequence parallel, TE, CUDA graphs), checked so that new ones are noticed.
CUDA_REFERENCES = {
    "megatron.core.tensor_parallel.random": 14,
    "megatron.core.utils": 28,
    "megatron.core.optimizer.optimizer": 14,
    "megatron.core.optimizer.clip_grads": 6,
    "megatron.core.distributed.param_and_grad_buffer": 7,
    "megatron.core.pipeline_parallel.p2p_communication": 8,
    "megatron.core.pipeline_parallel.schedules": 3,
    "megatron.core.dist_checkpointing.strategies.state_dict_saver": 2,
    "megatron.core.dist_checkpointing.strategies.filesystem_async": 1,
    "megatron.core.distributed.distributed_data_parallel": 8,
    "megatron.core.optimizer.distrib_optimizer": 11,
    "megatron.core.dist_checkpointing.strategies.async_utils": 5,
    "megatron.core.dist_checkpointing.strategies.fully_parallel": 3,
    "megatron.core.dist_checkpointing.exchange_utils": 5,
    "megatron.core.tensor_parallel.layers": 12,
    "megatron.core.tensor_parallel.mappings": 5,
    "megatron.core.tensor_parallel.utils": 2,
    "megatron.core.transformer.module": 4,
    "megatron.core.transformer.attention": 1,
    "megatron.core.transformer.dot_product_attention": 2,
    "megatron.core.transformer.transformer_layer": 2,
    "megatron.core.transformer.transformer_block": 0,
    "megatron.core.models.bert.bert_model": 1,
    "megatron.core.models.bert.bert_lm_head": 0,
    "megatron.core.models.common.language_module.language_module": 1,
    "megatron.core.parallel_state": 5,
    "megatron.core.distributed.finalize_model_grads": 0,
    "megatron.core.optimizer_param_scheduler": 0,
    "megatron.core.dist_checkpointing.serialization": 0,
}


def needed() -> bool:
    """Whether the redirections apply here: only where CUDA is unavailable."""
    return not torch.cuda.is_available()


def redirected_calls() -> dict[str, int]:
    """How often each redirected call site was used in this process."""
    return dict(_CALLS)


def cuda_references(module: str) -> int:
    """CUDA references in a megatron-core module's source (see CUDA_PATTERN)."""
    spec = importlib.util.find_spec(module)
    return len(CUDA_PATTERN.findall(Path(spec.origin).read_text(encoding="utf-8")))


def apply(cuda_available: bool | None = None) -> list[str]:
    """Redirect megatron-core's CUDA call sites to the CPU, once per process.

    Args:
        cuda_available: override the CUDA check (tests); by default torch.cuda.is_available().

    Returns:
        One line per redirection applied (empty when CUDA is available: nothing is changed).
    """
    if (not needed()) if cuda_available is None else cuda_available:
        return []
    if _APPLIED:
        return list(_APPLIED)
    for name in CUDA_ON_CPU_MODULES:
        module = importlib.import_module(name)
        module.torch = _TorchOnCpu(name)
        _APPLIED.append(f"{name}: torch.cuda -> CPU (device queries, streams, synchronize, RNG), "
                        f"device='cuda' -> cpu")
    _APPLIED.append(_redirect_rng_tracker())
    # The tracker warns when the CPU generator moved inside its context; on the CPU that generator
    # is the one it forks, so the warning would fire on every dropout.
    logging.getLogger("megatron.core.tensor_parallel.random").addFilter(
        lambda record: "CPU RNG state changed" not in record.getMessage())
    _APPLIED.append(_redirect_clip_grads())
    _APPLIED.append(_redirect_tied_embedding_copy())
    return list(_APPLIED)


class _Stream:
    """A CUDA stream that is no stream: every call does nothing."""

    def __init__(self, *args, **kwargs) -> None:
        pass

    def __getattr__(self, name: str):
        return lambda *args, **kwargs: None


class _CudaOnCpu:
    """`torch.cuda` as the redirected modules see it."""

    def __init__(self, owner: str) -> None:
        self._owner = owner

    def _count(self, call: str) -> None:
        _CALLS[f"{self._owner}: torch.cuda.{call}"] += 1

    def __getattr__(self, name: str):
        return getattr(torch.cuda, name)

    def current_device(self) -> torch.device:
        self._count("current_device")
        return _CPU

    def synchronize(self, *args, **kwargs) -> None:
        self._count("synchronize")

    def empty_cache(self) -> None:
        self._count("empty_cache")

    def set_device(self, *args, **kwargs) -> None:
        self._count("set_device")

    def current_stream(self, *args, **kwargs) -> _Stream:
        self._count("current_stream")
        return _Stream()

    def default_stream(self, *args, **kwargs) -> _Stream:
        self._count("default_stream")
        return _Stream()

    def Stream(self, *args, **kwargs) -> _Stream:  # noqa: N802  (torch's name)
        self._count("Stream")
        return _Stream()

    def stream(self, *args, **kwargs):
        self._count("stream")
        return contextlib.nullcontext()

    def get_rng_state(self, *args, **kwargs) -> torch.Tensor:
        self._count("get_rng_state")
        return torch.get_rng_state()

    def set_rng_state(self, state: torch.Tensor, *args, **kwargs) -> None:
        self._count("set_rng_state")
        torch.set_rng_state(state)

    def manual_seed(self, seed: int) -> None:
        self._count("manual_seed")
        torch.manual_seed(seed)


_FACTORIES = ("tensor", "zeros", "ones", "empty", "full", "arange", "zeros_like", "ones_like", "empty_like",
              "full_like", "rand", "randn", "randint", "as_tensor")


class _TorchOnCpu(types.ModuleType):
    """The name `torch` inside one redirected module: torch, but with `cuda` on the CPU."""

    def __init__(self, owner: str) -> None:
        super().__init__("torch")
        self._owner = owner
        self.cuda = _CudaOnCpu(owner)
        for name in _FACTORIES:
            setattr(self, name, self._on_cpu(getattr(torch, name), name))

    def _on_cpu(self, factory, name: str):
        owner = self._owner

        def make(*args, **kwargs):
            device = kwargs.get("device")
            if (isinstance(device, torch.device) and device.type == "cuda") or (
                    isinstance(device, str) and device.startswith("cuda")):
                _CALLS[f"{owner}: torch.{name}(device='cuda')"] += 1
                kwargs["device"] = _CPU
            kwargs.pop("pin_memory", None)
            return factory(*args, **kwargs)

        return make

    def __getattr__(self, name: str):
        return getattr(torch, name)


def _redirect_rng_tracker() -> str:
    random = importlib.import_module("megatron.core.tensor_parallel.random")

    def get_state(device="cuda", clone=False, graph_safe=False):
        _CALLS["megatron.core.tensor_parallel.random: _get_cuda_rng_state"] += 1
        return torch.get_rng_state()

    def set_state(new_state, device=-1, graph_safe=False):
        _CALLS["megatron.core.tensor_parallel.random: _set_cuda_rng_state"] += 1
        torch.set_rng_state(new_state)

    random._get_cuda_rng_state, random._set_cuda_rng_state = get_state, set_state
    return ("megatron.core.tensor_parallel.random: _get/_set_cuda_rng_state -> the CPU generator "
            "(the model-parallel RNG tracker forks it)")


def _redirect_clip_grads() -> str:
    clip_grads = importlib.import_module("megatron.core.optimizer.clip_grads")
    optimizer = importlib.import_module("megatron.core.optimizer.optimizer")

    def clip_grad_by_total_norm_fp32(parameters, max_norm, total_norm, use_decoupled_grad=False):
        # megatron-core's version, without its assert that grads are torch.cuda.FloatTensor.
        _CALLS["megatron.core.optimizer.clip_grads: clip_grad_by_total_norm_fp32"] += 1
        parameters = [parameters] if isinstance(parameters, torch.Tensor) else parameters
        grads = []
        for parameter in parameters:
            grad = getattr(parameter, "decoupled_grad", None) if use_decoupled_grad else parameter.grad
            if grad is not None:
                if grad.dtype != torch.float32 and not (use_decoupled_grad and grad.dtype == torch.bfloat16):
                    raise TypeError(f"gradient clipping expects float32 gradients, got {grad.dtype}")
                grads.append(clip_grads.to_local_if_dtensor(grad).detach())
        coefficient = max_norm / (total_norm + 1.0e-6)
        if coefficient < 1.0 and grads:
            torch._foreach_mul_(grads, coefficient)

    clip_grads.clip_grad_by_total_norm_fp32 = clip_grad_by_total_norm_fp32
    optimizer.clip_grad_by_total_norm_fp32 = clip_grad_by_total_norm_fp32
    return ("megatron.core.optimizer.clip_grads.clip_grad_by_total_norm_fp32 (also as imported by "
            "optimizer.optimizer): checks float32 instead of torch.cuda.FloatTensor")


def _redirect_tied_embedding_copy() -> str:
    language_module = importlib.import_module(
        "megatron.core.models.common.language_module.language_module")
    module_class = language_module.LanguageModule
    original = module_class.setup_embeddings_and_output_layer

    def setup_embeddings_and_output_layer(self):
        # The last pipeline stage copies the tied word embedding with `.data.cuda()` before its
        # all-reduce; on the CPU the tensor is already where it belongs.
        real = torch.Tensor.cuda
        torch.Tensor.cuda = lambda tensor, *args, **kwargs: tensor
        _CALLS["megatron.core.models.common.language_module: Tensor.cuda"] += 1
        try:
            return original(self)
        finally:
            torch.Tensor.cuda = real

    module_class.setup_embeddings_and_output_layer = setup_embeddings_and_output_layer
    return ("megatron.core.models.common.language_module.LanguageModule.setup_embeddings_and_output_layer:"
            " Tensor.cuda() is the identity during the call (tied embedding of the last pipeline stage)")
