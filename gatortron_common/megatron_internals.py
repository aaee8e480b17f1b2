"""Every megatron-core internal this project relies on, in one place: what, who uses it, and why.

megatron-core's public API does not cover all that a CPU run, our attention kernel or a fast dataset
writer needs. Where the code reaches past it (a private name, a method it overrides or replaces, a
module attribute it swaps), the place is listed here, and nowhere else may do so (tests/
test_pretrain_structure.py checks our sources against this list). The entries were read against
megatron-core `CHECKED_VERSION`: `check()` refuses to start when one of them is gone from the installed
megatron-core, and warns when its version differs, so that an upgrade re-reads these places first.

Light imports only: megatron-core is imported by `check()`, for the entries of the calling stage.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from importlib import metadata

from gatortron_common.logging import InputError

CHECKED_VERSION = "0.16.1"


@dataclass(frozen=True)
class Internal:
    """One internal: `target` is "module:attribute.path" in megatron-core, `user` our module."""

    target: str
    user: str
    why: str


# Modules on the training path that call torch.cuda or make CUDA tensors: pretrain.cpu_backend swaps
# the name `torch` inside each for one whose `cuda` answers with the CPU (megatron-core has no CPU path).
CUDA_ON_CPU_MODULES = (
    "megatron.core.tensor_parallel.random",  # RNG tracker: torch.cuda.get_rng_state / manual_seed
    "megatron.core.utils",  # GlobalMemoryBuffer (attention), grad-norm fallback
    "megatron.core.optimizer.optimizer",  # loss-scale tensors
    "megatron.core.optimizer.clip_grads",  # norm buffers
    "megatron.core.distributed.param_and_grad_buffer",  # grad buffers on current_device()
    "megatron.core.pipeline_parallel.p2p_communication",  # current_device, synchronize
    "megatron.core.pipeline_parallel.schedules",  # token counters
    "megatron.core.dist_checkpointing.strategies.state_dict_saver",  # failure flag tensor
    "megatron.core.dist_checkpointing.strategies.filesystem_async",  # synchronize
    # Same kind of calls on optional paths (distributed optimizer, overlapped grad reduction,
    # fully parallel or async checkpointing).
    "megatron.core.distributed.distributed_data_parallel",
    "megatron.core.optimizer.distrib_optimizer",
    "megatron.core.dist_checkpointing.strategies.async_utils",
    "megatron.core.dist_checkpointing.strategies.fully_parallel",
    "megatron.core.dist_checkpointing.exchange_utils",
)

_CPU = "pretrain.cpu_backend"
INTERNALS: tuple[Internal, ...] = (
    *(Internal(f"{module}:torch", _CPU, "its `torch` is swapped for one whose `cuda` answers with the CPU")
      for module in CUDA_ON_CPU_MODULES),
    Internal("megatron.core.tensor_parallel.random:_get_cuda_rng_state", _CPU,
             "the model-parallel RNG tracker saves CUDA's generator: on the CPU, the CPU generator's"),
    Internal("megatron.core.tensor_parallel.random:_set_cuda_rng_state", _CPU,
             "the model-parallel RNG tracker restores CUDA's generator: on the CPU, the CPU generator"),
    Internal("megatron.core.optimizer.clip_grads:clip_grad_by_total_norm_fp32", _CPU,
             "asserts torch.cuda.FloatTensor gradients: replaced by a copy that checks float32"),
    Internal("megatron.core.optimizer.optimizer:clip_grad_by_total_norm_fp32", _CPU,
             "the same function as the optimizer module imported it"),
    Internal("megatron.core.models.common.language_module.language_module:"
             "LanguageModule.setup_embeddings_and_output_layer", _CPU,
             "copies the last stage's tied embedding with .cuda(): the identity on the CPU"),
    Internal("megatron.core.models.bert.bert_model:BertModel._sanity_check_attention_and_get_attn_mask_dimension",
             "pretrain.model",
             "knows only DotProductAttention as a local core attention: GatorTronBert says that "
             "SdpaAttention takes the keys' padding, [b, 1, 1, s]"),
    Internal("megatron.core.models.bert.bert_model:BertModel.bert_extended_attention_mask", "pretrain.model",
             "GatorTronBert derives SdpaAttention's mask there, once per forward for every layer"),
    Internal("megatron.core.dist_checkpointing.strategies.filesystem_async:_results_queue",
             "pretrain.lifetime",
             "the checkpoint writer spawns a Manager for this queue, never stopped: ours ends with the run"),
    Internal("megatron.core.datasets.indexed_dataset:_IndexWriter", "data_prep.indexed_writer",
             "subclassed, to replace the method below"),
    Internal("megatron.core.datasets.indexed_dataset:_IndexWriter._sequence_pointers",
             "data_prep.indexed_writer",
             "a Python loop per sentence, the largest cost of writing a dataset: numpy instead (same bytes)"),
    Internal("megatron.core.datasets.indexed_dataset:_INDEX_HEADER", "data_prep.indexed_writer",
             "the .idx header: index files are checked and sized without reading them whole"),
)


def resolve(target: str) -> object:
    """The object `target` ("module:attribute.path") names in the installed megatron-core.

    Raises:
        ImportError, AttributeError: it is not there.
    """
    module_name, _, path = target.partition(":")
    found: object = importlib.import_module(module_name)
    for name in path.split("."):
        found = getattr(found, name)
    return found


def installed_version() -> str:
    return metadata.version("megatron-core")


def check(user_prefix: str, logger: logging.Logger) -> None:
    """Before a stage starts: the internals its modules (names starting `user_prefix`) use exist in
    the installed megatron-core; a version other than CHECKED_VERSION is logged as a warning.

    Raises:
        InputError: one is gone (one line naming them, and the version to install).
    """
    mine = [internal for internal in INTERNALS if internal.user.startswith(user_prefix)]
    missing = []
    for internal in mine:
        try:
            resolve(internal.target)
        except (ImportError, AttributeError):
            missing.append(internal.target)
    version = installed_version()
    if missing:
        raise InputError(f"megatron-core {version} lacks what {user_prefix} relies on "
                         f"({', '.join(missing)}); install megatron-core=={CHECKED_VERSION} "
                         f"(see gatortron_common/megatron_internals.py)")
    if version != CHECKED_VERSION and mine:
        logger.warning("megatron-core %s: %d internal(s) that %s relies on were checked against %s only "
                       "(gatortron_common/megatron_internals.py)", version, len(mine), user_prefix,
                       CHECKED_VERSION)
