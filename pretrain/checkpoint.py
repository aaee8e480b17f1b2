"""Checkpoints with megatron-core's dist_checkpointing (torch_dist format): model, optimizer,
scheduler, random generators and the run's position (iteration, consumed samples), sharded so that
a checkpoint saved at one TP/PP layout loads at another.

Layout (Megatron's): <dir>/iter_0000100/ per checkpoint and <dir>/latest_checkpointed_iteration.txt.
The tracker is written only after every rank finished saving, so a job killed mid-save never
leaves a checkpoint that looks complete; older checkpoints beyond `keep_last` are deleted after.
"""

from __future__ import annotations

import pickle
import random
import shutil
from pathlib import Path

import numpy
import torch
from megatron.core import dist_checkpointing, parallel_state, tensor_parallel
from megatron.core.dist_checkpointing.core import CheckpointingException
from megatron.core.dist_checkpointing.mapping import ShardedObject

from gatortron_common.atomic import atomic_write_text
from gatortron_common.logging import InputError, get_logger
from pretrain.config import ARCHITECTURE_FIELDS, PretrainConfig
from pretrain.lifetime import own_checkpoint_writer_queue
from tokenizer.vocab import Vocabulary, check_same_vocabulary

logger = get_logger("pretrain.checkpoint")

TRACKER = "latest_checkpointed_iteration.txt"
# dist_checkpointing writes this file last, after every shard and the common state: an iteration
# directory without it is a save that did not finish (or a deletion that did not).
COMPLETE_MARKER = "metadata.json"
# The distributed optimizer's state in the canonical per-parameter layout (gathered across data-
# parallel ranks on save), so its checkpoints reshard across TP/PP like the rest. Its default layout
# is refused by megatron-core 0.16.1's own checkpointing ("ShardedTensor.flattened_range is not
# supported", seen on an H200). Other optimizers ignore this.
OPTIMIZER_METADATA = {"distrib_optim_sharding_type": "fully_reshardable"}


def iteration_dir(root: str | Path, iteration: int) -> Path:
    return Path(root) / f"iter_{iteration:07d}"


def is_complete(directory: Path) -> bool:
    return (directory / COMPLETE_MARKER).is_file()


def latest_iteration(root: str | Path) -> int | None:
    """The iteration of the newest complete checkpoint under `root`, or None."""
    tracker = Path(root) / TRACKER
    if not tracker.is_file():
        return None
    text = tracker.read_text(encoding="utf-8").strip()
    if not text.isdigit():
        raise InputError(f"{tracker}: not an iteration number")
    directory = iteration_dir(root, int(text))
    if not directory.is_dir():
        raise InputError(f"{tracker} names iteration {text}, but {directory} is missing")
    if not is_complete(directory):
        raise InputError(f"{tracker} names iteration {text}, but {directory} is incomplete "
                         f"(no {COMPLETE_MARKER})")
    return int(text)


def _rng_state() -> ShardedObject:
    """This rank's random generators (dropout masks continue exactly after a resume), one object
    per (pipeline, tensor) rank; data-parallel ranks are replicas."""
    states = {"python": random.getstate(), "numpy": numpy.random.get_state(), "torch": torch.get_rng_state(),
              "cuda": torch.cuda.get_rng_state() if torch.cuda.is_available() else None,
              "tracker": tensor_parallel.get_cuda_rng_tracker().get_states()}
    return ShardedObject("rng_state", states,
                         (parallel_state.get_pipeline_model_parallel_world_size(),
                          parallel_state.get_tensor_model_parallel_world_size()),
                         (parallel_state.get_pipeline_model_parallel_rank(),
                          parallel_state.get_tensor_model_parallel_rank()),
                         replica_id=parallel_state.get_data_parallel_rank())


def _restore_rng(states: dict) -> None:
    random.setstate(states["python"])
    numpy.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if states["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state(states["cuda"])
    tensor_parallel.get_cuda_rng_tracker().set_states(states["tracker"])


def _layout() -> list[int]:
    return [parallel_state.get_pipeline_model_parallel_world_size(),
            parallel_state.get_tensor_model_parallel_world_size()]


def _sharded_state(model: list, optimizer, scheduler, position: dict, loading: bool,
                   with_rng: bool = True, with_optimizer: bool = True) -> dict:
    state = {"rng_state": _rng_state()} if with_rng else {}
    for index, chunk in enumerate(model):
        module = getattr(chunk, "module", chunk)  # a DDP-wrapped chunk or a bare BertModel
        state["model" if index == 0 else f"model{index}"] = module.sharded_state_dict()
    if with_optimizer:
        # The chunks' states nested, not merged: virtual pipeline chunks share local parameter
        # names (encoder.layers.0...), so a merged dict would drop all but the last chunk's.
        model_state = {key: value for key, value in state.items() if key.startswith("model")}
        state["optimizer"] = optimizer.sharded_state_dict(model_state, is_loading=loading,
                                                          metadata=OPTIMIZER_METADATA)
    if scheduler is not None:
        state["opt_param_scheduler"] = scheduler.state_dict()
    state["position"] = position
    return state


def save_checkpoint(root: str | Path, iteration: int, model: list, optimizer, scheduler, position: dict,
                    keep_last: int, with_rng: bool = True) -> Path:
    """Save on every rank (collective); returns the checkpoint directory.

    Args:
        model: the model chunks (DDP-wrapped or bare BertModels).
        optimizer: its state is saved after the first step (at step 0 Adam has none).
        scheduler: the learning-rate scheduler, or None for weights made outside a run
            (`import_hf`): the run that starts from them then uses its own schedule.
        position: where the run is (consumed samples, padded vocabulary, model settings, ...).
        keep_last: complete checkpoints to keep.
        with_rng: save this rank's random generators (not for converted weights).
    """
    directory = iteration_dir(root, iteration)
    rank = torch.distributed.get_rank()
    own_checkpoint_writer_queue()
    if rank == 0:
        shutil.rmtree(directory, ignore_errors=True)  # a killed save of the same iteration
        directory.mkdir(parents=True)
    torch.distributed.barrier()
    # Before the first step Adam has no state yet: a step-0 checkpoint (initial weights) has none.
    with_optimizer = iteration > 0 and optimizer is not None
    position = {**position, "iteration": iteration, "layout": _layout(), "optimizer": with_optimizer,
                "scheduler": scheduler is not None, "rng": with_rng}
    state = _sharded_state(model, optimizer, scheduler, position, loading=False, with_rng=with_rng,
                           with_optimizer=with_optimizer)
    dist_checkpointing.save(state, str(directory), sharded_strategy=("torch_dist", 1))
    torch.distributed.barrier()
    if rank == 0:
        atomic_write_text(Path(root) / TRACKER, f"{iteration}\n")
        # The newest keep_last complete checkpoints up to this one stay; older ones go, and so do
        # older incomplete ones (killed saves). A newer directory is not this run's to delete.
        kept = [i for i in complete_iterations(root) if i <= iteration][-max(keep_last, 1):]
        for old in saved_iterations(root):
            if old < iteration and old not in kept:
                shutil.rmtree(iteration_dir(root, old), ignore_errors=True)
        logger.info("saved checkpoint %s", directory)
    torch.distributed.barrier()
    return directory


def load_checkpoint(root: str | Path, iteration: int, model: list, optimizer, scheduler) -> dict:
    """Load checkpoint `iteration` into the model chunks, optimizer and scheduler (collective);
    returns the saved position (iteration, consumed_samples, padded_vocab_size, ...)."""
    directory = iteration_dir(root, iteration)
    # Random generator states only carry over to the same pipeline x tensor layout.
    saved = saved_position(root, iteration)
    same_layout = saved.get("layout") == _layout()
    with_rng = same_layout and saved.get("rng", True)
    with_scheduler = saved.get("scheduler", True)
    state = _sharded_state(model, optimizer, scheduler if with_scheduler else None, {}, loading=True,
                           with_rng=with_rng, with_optimizer=saved.get("optimizer", True))
    loaded = dist_checkpointing.load(state, str(directory))
    if with_rng:
        _restore_rng(loaded["rng_state"])
    elif torch.distributed.get_rank() == 0 and saved.get("rng", True):
        logger.info("other parallel layout than the checkpoint's: random generators start afresh")
    for index, chunk in enumerate(model):
        chunk.module.load_state_dict(loaded["model" if index == 0 else f"model{index}"], strict=True)
    if "optimizer" in loaded:
        optimizer.load_state_dict(loaded["optimizer"])
    if with_scheduler:
        scheduler.load_state_dict(loaded["opt_param_scheduler"])
    if torch.distributed.get_rank() == 0:
        logger.info("resumed from %s", directory)
    return loaded["position"]


def saved_position(root: str | Path, iteration: int) -> dict:
    """The position saved with a checkpoint, read without building a model (common state)."""
    directory = iteration_dir(root, iteration)
    available = ", ".join(str(i) for i in complete_iterations(root)) or "none"
    if not directory.is_dir():
        raise InputError(f"{directory}: no such checkpoint (complete iterations there: {available})")
    if not is_complete(directory):
        raise InputError(f"{directory}: incomplete checkpoint (no {COMPLETE_MARKER}: its save did not "
                         f"finish); complete iterations there: {available}")
    try:
        common = dist_checkpointing.load_common_state_dict(str(directory))
        return dict(common["position"])
    except (CheckpointingException, OSError, EOFError, RuntimeError, KeyError, TypeError, ValueError,
            pickle.UnpicklingError) as error:
        # The exception's text may quote the damaged bytes: name the directory and the kind only.
        raise InputError(f"{directory}: unreadable checkpoint ({type(error).__name__}): damaged, or not "
                         f"saved by python -m pretrain") from None


def saved_iterations(root: str | Path) -> list[int]:
    """Iterations with a checkpoint directory under `root` (complete or not), ascending."""
    return sorted(int(p.name[5:]) for p in Path(root).glob("iter_*") if p.name[5:].isdigit())


def complete_iterations(root: str | Path) -> list[int]:
    """Iterations whose checkpoint under `root` finished saving, ascending."""
    return [i for i in saved_iterations(root) if is_complete(iteration_dir(root, i))]


def check_resumable(saved: dict, cfg: PretrainConfig, vocab: Vocabulary) -> None:
    """Refuse, naming what differs, a checkpoint (its saved position) that this run's model or
    vocabulary cannot continue."""
    tokenizer_size = vocab.size
    check_same_vocabulary(saved.get("vocabulary"), vocab.identity(),
                          f"the checkpoint in {cfg.checkpoint.dir}", f"data.vocab={cfg.data.vocab}")
    vocab_size = saved["padded_vocab_size"]
    if vocab_size % cfg.parallel.tensor or vocab_size < tokenizer_size:
        raise InputError(f"the checkpoint's padded vocabulary ({vocab_size}) does not fit "
                         f"{tokenizer_size} tokens at tensor parallel {cfg.parallel.tensor}")
    if "vocab_size" in saved and saved["vocab_size"] != tokenizer_size:
        raise InputError(f"{cfg.checkpoint.dir}: the checkpoint was made with a {saved['vocab_size']}-token "
                         f"vocabulary, data.vocab={cfg.data.vocab} has {tokenizer_size}")
    stored = saved.get("model_config") or {}
    differing = [f"model.{name}: checkpoint {stored[name]}, this run {getattr(cfg.model, name)}"
                 for name in ARCHITECTURE_FIELDS
                 if name in stored and stored[name] != getattr(cfg.model, name)]
    if differing:
        raise InputError(f"{cfg.checkpoint.dir}: the checkpoint's model differs from this run's: "
                         + "; ".join(differing))
