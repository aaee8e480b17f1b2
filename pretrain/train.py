"""The pretraining loop: `setup` makes everything a run needs (settings checked, device, process
group, model chunks, optimizer, scheduler, data, the checkpoint it resumes from) into a `Run`;
`train` steps it to cfg.train.train_iters with `train_step`, `log_step`, `evaluate` and `save`.
megatron-core provides the pieces (BertModel, DDP, the optimizer and its scheduler, the 1F1B
schedules, the datasets); the loop is ours.
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch
from megatron.core import parallel_state, tensor_parallel
from megatron.core.distributed import finalize_model_grads
from megatron.core.optimizer import MegatronOptimizer, OptimizerConfig, get_megatron_optimizer
from megatron.core.optimizer_param_scheduler import OptimizerParamScheduler
from megatron.core.pipeline_parallel import get_forward_backward_func
from megatron.core.transformer.transformer_config import TransformerConfig

from gatortron_common import megatron_internals
from gatortron_common.atomic import atomic_write_text, restrict_outputs_to
from gatortron_common.lifetime import forked_children_end_with_this_process
from gatortron_common.logging import get_logger
from pretrain import checkpoint, cpu_backend, profiling, throughput
from pretrain.config import Precision, PretrainConfig, micro_batches_per_step, model_record, validate
from pretrain.data import (
    LoaderWorkerDied,
    build_datasets,
    check_dataset_vocabularies,
    is_loader_worker_death,
    micro_batches,
    resolve_blend,
)
from pretrain.model import build_model_chunks, forward_step, layer_spec
from tokenizer.vocab import Vocabulary, load_vocabulary, padded_vocab_size

logger = get_logger("pretrain")


@dataclass
class TrainState:
    """What a checkpoint must restore besides weights: where the run is."""

    iteration: int = 0
    consumed_samples: int = 0
    skipped_steps: int = 0  # fp16 overflows (the update was skipped)


@dataclass
class Run:
    """Everything the loop works with, made once by `setup`."""

    cfg: PretrainConfig
    device: torch.device
    vocab: Vocabulary
    padded_vocab_size: int
    model: list  # this rank's model chunks (megatron-core DDP)
    optimizer: MegatronOptimizer
    scheduler: OptimizerParamScheduler
    micro_batches: int  # per step and data-parallel rank (gradient accumulation)
    train_data: Any  # one micro-batch iterator, or one per model chunk (virtual pipeline)
    valid_data: Any  # the same for validation, or None (no validation split)
    state: TrainState
    metrics: Metrics | None  # rank 0 only
    flops: throughput.StepFlops
    rank: int
    forward_backward: Any  # megatron-core's schedule for this pipeline layout


def pretrain(cfg: PretrainConfig) -> TrainState:
    """Train to cfg.train.train_iters steps, resuming from the newest checkpoint in
    cfg.checkpoint.dir; return where the run ended (each step's figures are in
    <checkpoint.dir>/metrics.jsonl).

    Raises:
        InputError: a bad setting or input, before any work.
        LoaderWorkerDied: a data loader process died; a rerun resumes from the last checkpoint.
    """
    group_was_up = torch.distributed.is_initialized()
    try:
        return train(setup(cfg))
    except RuntimeError as error:
        # the loader raises it at its next fetch (`data.without_raising_sigchld_handler`): the step is
        # lost, not the run.
        if is_loader_worker_death(error):
            raise LoaderWorkerDied(str(error).strip().splitlines()[0]) from None
        raise
    finally:
        if parallel_state.model_parallel_is_initialized():
            parallel_state.destroy_model_parallel()
        if not group_was_up and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def train(run: Run) -> TrainState:
    """Step `run` to cfg.train.train_iters (or to a stop signal), validating and saving on the way."""
    cfg, state = run.cfg, run.state
    stop = StopSignal(run.device)
    started, steps_run = time.perf_counter(), 0
    for chunk in run.model:
        chunk.train()
    while state.iteration < cfg.train.train_iters:
        profiling_this_step = run.rank == 0 and state.iteration + 1 == cfg.logging.profile_step
        with profiling.profiled(profiling_this_step, Path(cfg.checkpoint.dir)):
            record = train_step(run)
        steps_run += 1
        log_step(run, record)
        if stop.requested():
            if run.rank == 0:
                action = "saving" if cfg.checkpoint.enabled else "not saving (checkpoint.enabled=false)"
                logger.warning("stop signal received: %s step %d and exiting", action, state.iteration)
            save(run)
            return state
        if _due(state.iteration, cfg.logging.eval_interval):
            evaluate(run)
        if _due(state.iteration, cfg.checkpoint.save_interval):
            save(run)
    if steps_run and not _due(state.iteration, cfg.logging.eval_interval):
        evaluate(run)  # the end of the run, unless the last step just did
    if cfg.checkpoint.enabled and checkpoint.latest_iteration(cfg.checkpoint.dir) != state.iteration:
        save(run)
    if run.rank == 0:
        logger.info("trained to step %d (%d samples) in %.1f s; %s in %s", state.iteration,
                    state.consumed_samples, time.perf_counter() - started,
                    "checkpoints and metrics" if cfg.checkpoint.enabled else "metrics (no checkpoints)",
                    cfg.checkpoint.dir)
    return state


def _due(iteration: int, interval: int) -> bool:
    """Whether an every-`interval`-steps action (0: never) falls on `iteration`."""
    return bool(interval) and iteration % interval == 0


def train_step(run: Run) -> dict:
    """One optimizer step over cfg.train.global_batch_size samples; returns its record."""
    cfg, state = run.cfg, run.state
    started = time.perf_counter()
    for chunk in run.model:
        chunk.zero_grad_buffer()
    run.optimizer.zero_grad()
    losses = _forward_backward(run, run.train_data, forward_only=False)
    updated, grad_norm, _ = run.optimizer.step()
    if updated:
        run.scheduler.step(increment=cfg.train.global_batch_size)
    else:  # fp16: an overflow skips the update and lowers the loss scale
        state.skipped_steps += 1
    state.iteration += 1
    state.consumed_samples += cfg.train.global_batch_size
    seconds = time.perf_counter() - started
    record = {"iteration": state.iteration, "lr": run.scheduler.get_lr(run.optimizer.param_groups[0]),
              "grad_norm": float(grad_norm) if grad_norm is not None else math.nan, "step_seconds": seconds,
              "tokens_per_second": cfg.train.global_batch_size * cfg.model.seq_length / seconds,
              **run.flops.rates(seconds, torch.distributed.get_world_size()),
              "memory_gib": throughput.memory_gib(run.device), **_mean_losses(losses, run.device)}
    if cfg.train.precision == Precision.fp16:
        record["loss_scale"] = float(run.optimizer.get_loss_scale())
        record["skipped_steps"] = state.skipped_steps
    return record


def log_step(run: Run, record: dict) -> None:
    """Rank 0 records every step in metrics.jsonl (and TensorBoard) and logs every log_interval-th."""
    if run.rank != 0:
        return
    run.metrics.write(record)
    iteration = record["iteration"]
    if iteration % run.cfg.logging.log_interval and iteration != 1:
        return
    utilisation = ", ".join(f"{name.upper()} {record[name]:.1%}" for name in ("mfu", "hfu") if name in record)
    logger.info("step %d/%d  lm loss %.4f%s  lr %.3e  grad norm %.3f%s  %.2f s/step  %.0f tokens/s  "
                "%.2f TFLOP/s per device%s  %.1f GiB",
                iteration, run.cfg.train.train_iters, record.get("lm loss", math.nan),
                f"  sop loss {record['sop loss']:.4f}" if "sop loss" in record else "",
                record["lr"], record["grad_norm"],
                f"  loss scale {record['loss_scale']:g} ({record['skipped_steps']} skipped)"
                if "loss_scale" in record else "",
                record["step_seconds"], record["tokens_per_second"], record["tflops_per_device"],
                f" ({utilisation})" if utilisation else "", record["memory_gib"])


def evaluate(run: Run) -> None:
    """Validation lm loss and perplexity over eval_iters steps' worth of held-out samples."""
    if run.valid_data is None:
        return
    for chunk in run.model:
        chunk.eval()
    with torch.no_grad():
        results = [_forward_backward(run, run.valid_data, forward_only=True)
                   for _ in range(run.cfg.logging.eval_iters)]
    for chunk in run.model:
        chunk.train()
    loss = sum(_mean_losses(r, run.device)["lm loss"] for r in results) / len(results)
    record = {"iteration": run.state.iteration, "valid lm loss": loss,
              "valid perplexity": math.exp(min(loss, 50.0))}
    if run.rank == 0:
        run.metrics.write(record)
        logger.info("validation at step %d: lm loss %.4f, perplexity %.2f", run.state.iteration, loss,
                    record["valid perplexity"])


def save(run: Run) -> None:
    """A checkpoint of the step just made (collective), unless checkpoint.enabled=false."""
    cfg = run.cfg
    if not cfg.checkpoint.enabled:
        return
    position = {"consumed_samples": run.state.consumed_samples, "padded_vocab_size": run.padded_vocab_size,
                "vocab_size": run.vocab.size, "vocab": str(Path(cfg.data.vocab).resolve()),
                "vocabulary": run.vocab.identity(), "model": cfg.model.name,
                "model_config": model_record(cfg.model)}
    checkpoint.save_checkpoint(cfg.checkpoint.dir, run.state.iteration, run.model, run.optimizer,
                               run.scheduler, position, cfg.checkpoint.keep_last)


def _forward_backward(run: Run, data, forward_only: bool) -> list[dict]:
    """One step's micro-batches through megatron-core's schedule (1F1B with pipeline stages)."""
    return run.forward_backward(
        forward_step_func=partial(forward_step, device=run.device), data_iterator=data,
        model=run.model if len(run.model) > 1 else run.model[0], num_microbatches=run.micro_batches,
        seq_length=run.cfg.model.seq_length, micro_batch_size=run.cfg.train.micro_batch_size,
        forward_only=forward_only)


def _mean_losses(losses: list[dict], device: torch.device) -> dict:
    """Mean of each reported loss over the micro-batches, across the last pipeline stage's ranks
    (the other stages compute none: they receive it by broadcast)."""
    names = ("lm loss", "sop loss")
    values = torch.zeros(len(names), dtype=torch.float64, device=device)
    if parallel_state.is_pipeline_last_stage(ignore_virtual=True) and losses:
        for i, name in enumerate(names):
            present = [float(m[name]) for m in losses if name in m]
            values[i] = sum(present) / len(present) if present else math.nan
    last = parallel_state.get_pipeline_model_parallel_last_rank()
    torch.distributed.broadcast(values, src=last, group=parallel_state.get_pipeline_model_parallel_group())
    torch.distributed.all_reduce(values, group=parallel_state.get_data_parallel_group())
    values /= parallel_state.get_data_parallel_world_size()
    return {name: float(values[i]) for i, name in enumerate(names) if not math.isnan(float(values[i]))}


def choose_device() -> torch.device:
    """This process's device, chosen once: its GPU (torchrun's LOCAL_RANK) or the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device("cpu")


def world_size() -> int:
    """Processes in the job: the process group's, or torchrun's WORLD_SIZE before it exists."""
    if torch.distributed.is_initialized():
        return torch.distributed.get_world_size()
    return int(os.environ.get("WORLD_SIZE", 1))


def initialize_distributed(device: torch.device) -> None:
    """One process group for the job (nccl on GPUs, gloo on the CPU): torchrun's environment, or a
    world of one."""
    if torch.distributed.is_initialized():
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if "MASTER_ADDR" not in os.environ:
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", str(29500 + os.getpid() % 1000))
    torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo",
                                         rank=int(os.environ.get("RANK", 0)), world_size=world_size())


def setup(cfg: PretrainConfig) -> Run:
    """Everything a run needs, in order: settings and inputs checked (before any work), the device,
    the process group and model-parallel state, model chunks, optimizer, scheduler, the checkpoint
    to resume from, the data iterators and rank 0's metrics file."""
    device = choose_device()
    validate(cfg, on_gpu=device.type == "cuda", world_size=world_size())
    megatron_internals.check("pretrain", logger)
    vocab = load_vocabulary(cfg.data.vocab)
    prefixes = resolve_blend(cfg.data.blend)[0]
    check_dataset_vocabularies(prefixes, vocab, f"data.vocab={cfg.data.vocab}")
    # Checkpoints can memorise the notes: no more readable than the datasets they were trained on.
    restrict_outputs_to(Path(f"{prefix}.bin") for prefix in prefixes)
    forked_children_end_with_this_process()
    initialize_distributed(device)
    _quiet_megatron(cfg.log_level)
    redirected = [] if device.type == "cuda" else cpu_backend.apply()
    parallel_state.initialize_model_parallel(
        tensor_model_parallel_size=cfg.parallel.tensor, pipeline_model_parallel_size=cfg.parallel.pipeline,
        virtual_pipeline_model_parallel_size=cfg.parallel.virtual_pipeline)
    tensor_parallel.model_parallel_cuda_manual_seed(cfg.train.seed)
    torch.manual_seed(cfg.train.seed)

    resume = checkpoint.latest_iteration(cfg.checkpoint.dir) if cfg.checkpoint.enabled else None
    vocab_size = padded_vocab_size(vocab.size, cfg.parallel.tensor, cfg.model.make_vocab_size_divisible_by)
    if resume is not None:  # keep the checkpoint's padding: it must load at any TP that divides it
        saved = checkpoint.saved_position(cfg.checkpoint.dir, resume)
        checkpoint.check_resumable(saved, cfg, vocab)
        vocab_size = saved["padded_vocab_size"]
    config, model = build_model_chunks(cfg, vocab_size, device)
    optimizer = build_optimizer(cfg, config, model)
    scheduler = build_scheduler(cfg, optimizer)
    _connect_schedule(config, model, optimizer, cfg.parallel.overlap_grad_reduce)
    state = TrainState()
    if resume is not None:
        position = checkpoint.load_checkpoint(cfg.checkpoint.dir, resume, model, optimizer, scheduler)
        state.iteration, state.consumed_samples = position["iteration"], position["consumed_samples"]

    rank = torch.distributed.get_rank()
    train_data, valid_data = _data(cfg, vocab, len(model), state.consumed_samples)
    run = Run(cfg=cfg, device=device, vocab=vocab, padded_vocab_size=vocab_size, model=model,
              optimizer=optimizer, scheduler=scheduler,
              micro_batches=micro_batches_per_step(cfg, torch.distributed.get_world_size()),
              train_data=train_data, valid_data=valid_data, state=state,
              metrics=Metrics(cfg, state.iteration if resume is not None else None) if rank == 0 else None,
              flops=throughput.StepFlops.of(cfg, vocab_size, device), rank=rank,
              forward_backward=get_forward_backward_func())
    if rank == 0:
        _log_run(run, resumed=resume is not None, redirected=len(redirected))
    return run


def build_optimizer(cfg: PretrainConfig, config: TransformerConfig, model: list) -> MegatronOptimizer:
    """megatron-core's Adam (AdamW-style decay) over the chunks, with loss scaling for fp16."""
    train = cfg.train
    return get_megatron_optimizer(OptimizerConfig(
        optimizer="adam", lr=train.lr, min_lr=train.min_lr, weight_decay=train.weight_decay,
        adam_beta1=train.adam_beta1, adam_beta2=train.adam_beta2, adam_eps=train.adam_eps,
        clip_grad=train.clip_grad, bf16=train.precision == Precision.bf16,
        fp16=train.precision == Precision.fp16, params_dtype=config.params_dtype,
        initial_loss_scale=train.initial_loss_scale,
        use_distributed_optimizer=cfg.parallel.distributed_optimizer), model)


def build_scheduler(cfg: PretrainConfig, optimizer: MegatronOptimizer) -> OptimizerParamScheduler:
    """Linear warm-up then decay, counted in samples as Megatron-LM does."""
    train, samples_per_step = cfg.train, cfg.train.global_batch_size
    decay_iters = train.lr_decay_iters or max(train.train_iters, 1)
    return OptimizerParamScheduler(
        optimizer, init_lr=0.0, max_lr=train.lr, min_lr=train.min_lr,
        lr_warmup_steps=int(train.lr_warmup_fraction * decay_iters) * samples_per_step,
        lr_decay_steps=decay_iters * samples_per_step, lr_decay_style=str(train.lr_decay_style),
        start_wd=train.weight_decay, end_wd=train.weight_decay,
        wd_incr_steps=max(train.train_iters, 1) * samples_per_step, wd_incr_style="constant")


def _connect_schedule(config: TransformerConfig, model: list, optimizer: MegatronOptimizer,
                      overlap_grad_reduce: bool) -> None:
    """What megatron-core's schedule calls around the micro-batches, as Megatron-LM sets it: no
    gradient sync until the last micro-batch, then DDP's reduction (each chunk's launched as its
    backward ends with overlap_grad_reduce), and the loss scale."""
    def one_or_all(calls: list):
        return calls if len(calls) > 1 else calls[0]

    config.no_sync_func = one_or_all([chunk.no_sync for chunk in model])
    if overlap_grad_reduce:
        config.grad_sync_func = one_or_all([chunk.start_grad_sync for chunk in model])
    config.finalize_model_grads_func = finalize_model_grads
    config.grad_scale_func = optimizer.scale_loss


def _data(cfg: PretrainConfig, vocab: Vocabulary, chunks: int, consumed_samples: int) -> tuple[Any, Any]:
    """Training and validation micro-batch iterators for this data-parallel rank: one per model
    chunk with virtual pipeline stages, as every chunk reads the same micro-batches (the first takes
    the tokens, the last the labels). Validation: None without enough held-out samples for a step."""
    samples_per_step = cfg.train.global_batch_size
    eval_runs = (cfg.train.train_iters // cfg.logging.eval_interval if cfg.logging.eval_interval else 0) + 1
    splits = build_datasets(cfg.data, cfg.model.seq_length, cfg.model.binary_head,
                            (max(cfg.train.train_iters, 1) * samples_per_step,
                             eval_runs * cfg.logging.eval_iters * samples_per_step, 0),
                            cfg.data.cache_dir or str(Path(cfg.checkpoint.dir) / "data_cache"),
                            lowercase=vocab.lowercase)
    data_rank = parallel_state.get_data_parallel_rank()
    data_size = parallel_state.get_data_parallel_world_size()

    def iterators(dataset, consumed: int, workers: int):
        made = [micro_batches(dataset, cfg.train.micro_batch_size, data_rank, data_size, consumed, workers)
                for _ in range(chunks)]
        return made if len(made) > 1 else made[0]

    valid = None
    if splits.valid is not None and len(splits.valid) >= samples_per_step:
        valid = iterators(splits.valid, 0, 0)
    return iterators(splits.train, consumed_samples, cfg.data.num_workers), valid


def _log_run(run: Run, resumed: bool, redirected: int) -> None:
    cfg = run.cfg
    parameters = sum(p.numel() for chunk in run.model for p in chunk.parameters())
    logger.info("model %s: %d layers, hidden %d, vocab %d (padded %d), %s spec, %d parameters on rank 0; "
                "TP %d PP %d DP %d, %d micro-batch(es) of %d per step%s%s",
                cfg.model.name, cfg.model.num_layers, cfg.model.hidden_size, run.vocab.size,
                run.padded_vocab_size, layer_spec(cfg.model)[1], parameters, cfg.parallel.tensor,
                cfg.parallel.pipeline, parallel_state.get_data_parallel_world_size(), run.micro_batches,
                cfg.train.micro_batch_size, f"; resumed at step {run.state.iteration}" if resumed else "",
                f"; CPU backend: {redirected} redirections" if redirected else "")


def _quiet_megatron(level: str) -> None:
    """megatron-core logs every dataset file and bucket at INFO: keep it to warnings unless DEBUG."""
    if str(level).upper() != "DEBUG":
        logging.getLogger("megatron").setLevel(logging.WARNING)


class Metrics:
    """Rank 0's record of every step: <checkpoint.dir>/metrics.jsonl and TensorBoard scalars."""

    def __init__(self, cfg: PretrainConfig, resumed_at: int | None) -> None:
        Path(cfg.checkpoint.dir).mkdir(parents=True, exist_ok=True)
        self.path = Path(cfg.checkpoint.dir) / "metrics.jsonl"
        if resumed_at is not None:
            self._drop_records_after(resumed_at)
        board = cfg.logging.tensorboard_dir
        board = str(Path(cfg.checkpoint.dir) / "tensorboard") if board is None else board
        self.board = None
        if board:
            from torch.utils.tensorboard import SummaryWriter

            self.board = SummaryWriter(board)

    def _drop_records_after(self, iteration: int) -> None:
        """A resumed run replays the steps after its checkpoint: the killed run's records of them
        (and a last line cut short by the kill) go first, so each step is recorded once."""
        if not self.path.is_file():
            return
        lines = self.path.read_text(encoding="utf-8").splitlines()
        steps = [_iteration_of(line) for line in lines]
        kept = [line for line, step in zip(lines, steps, strict=True)
                if step is not None and step <= iteration]
        if len(kept) < len(lines):
            atomic_write_text(self.path, "".join(line + "\n" for line in kept))
            logger.info("%s: dropped %d record(s) past the checkpoint at step %d (they are replayed)",
                        self.path, len(lines) - len(kept), iteration)

    def write(self, record: dict) -> None:
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        if self.board is not None:
            for name, value in record.items():
                if name != "iteration":
                    self.board.add_scalar(name.replace(" ", "_"), value, record["iteration"])
            self.board.flush()


def _iteration_of(line: str) -> int | None:
    """The step of one metrics.jsonl line; None for a line that is not a whole record."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return None
    return record.get("iteration") if isinstance(record, dict) else None


class StopSignal:
    """SIGTERM and SIGUSR1 (Slurm's --signal=USR1@<seconds>) ask for a checkpoint and a clean exit
    at the end of the current step; every rank stops at the same step."""

    def __init__(self, device: torch.device) -> None:
        self.flag, self.device = False, device
        for number in (signal.SIGTERM, signal.SIGUSR1):
            signal.signal(number, self._handle)

    def _handle(self, number, frame) -> None:
        self.flag = True

    def requested(self) -> bool:
        flag = torch.tensor([1.0 if self.flag else 0.0], device=self.device)
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        return bool(flag.item())
