"""The pretraining loop, top to bottom: distributed set-up, model, optimizer, data, then steps
with logging and validation. megatron-core provides the pieces (BertModel, DDP, the optimizer and
its scheduler, the 1F1B schedules, the datasets); the loop is ours.
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from megatron.core import parallel_state, tensor_parallel
from megatron.core.distributed import (
    DistributedDataParallel,
    DistributedDataParallelConfig,
    finalize_model_grads,
)
from megatron.core.models.bert import bert_layer_specs
from megatron.core.optimizer import OptimizerConfig, get_megatron_optimizer
from megatron.core.optimizer_param_scheduler import OptimizerParamScheduler
from megatron.core.pipeline_parallel import get_forward_backward_func

from gatortron_common.atomic import atomic_write_text
from gatortron_common.logging import InputError, get_logger
from pretrain import checkpoint, cpu_backend, lifetime, throughput
from pretrain.config import ARCHITECTURE_FIELDS, PretrainConfig, validate
from pretrain.data import (
    LoaderWorkerDied,
    build_datasets,
    check_dataset_vocabularies,
    is_loader_worker_death,
    micro_batches,
    resolve_blend,
)
from pretrain.model import build_model, in_training_precision, layer_spec, transformer_config
from tokenizer.vocab import Vocabulary, check_same_vocabulary, load_vocabulary, padded_vocab_size

logger = get_logger("pretrain")


@dataclass
class TrainState:
    """What a checkpoint must restore besides weights: where the run is."""

    iteration: int = 0
    consumed_samples: int = 0
    history: list[dict] = field(default_factory=list)
    stopped: bool = False  # by a signal, before train_iters (a checkpoint was saved)
    skipped_steps: int = 0  # fp16 overflows (the update was skipped)


def initialize_distributed(on_gpu: bool) -> bool:
    """One process group for the job: torchrun's environment, or a world of one. Returns whether
    this call created it."""
    if torch.distributed.is_initialized():
        return False
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    if on_gpu:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    if "MASTER_ADDR" not in os.environ:
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", str(29500 + os.getpid() % 1000))
    torch.distributed.init_process_group("nccl" if on_gpu else "gloo", rank=rank, world_size=world)
    return True


def setup_model_parallel(cfg: PretrainConfig) -> None:
    virtual = cfg.parallel.virtual_pipeline
    if virtual is not None:
        # Interleaved 1F1B: `virtual` model chunks per pipeline rank, each an equal share of layers.
        stages = cfg.parallel.pipeline * virtual
        if virtual < 2 or cfg.parallel.pipeline < 2 or cfg.model.num_layers % stages:
            raise InputError(f"parallel.virtual_pipeline={virtual} needs parallel.pipeline >= 2, "
                             f"virtual_pipeline >= 2 (null = off) and model.num_layers "
                             f"({cfg.model.num_layers}) a multiple of pipeline x virtual_pipeline")
    world = torch.distributed.get_world_size()
    model_parallel = cfg.parallel.tensor * cfg.parallel.pipeline
    if world % model_parallel:
        raise InputError(f"world size {world} is not a multiple of tensor x pipeline = {model_parallel}")
    parallel_state.initialize_model_parallel(
        tensor_model_parallel_size=cfg.parallel.tensor, pipeline_model_parallel_size=cfg.parallel.pipeline,
        virtual_pipeline_model_parallel_size=cfg.parallel.virtual_pipeline)


def refuse_unsupported_settings(cfg: PretrainConfig, on_gpu: bool) -> None:
    """Settings megatron-core cannot run here, refused with a message instead of its TypeError or
    assert deep inside (each tried with megatron-core 0.16.1)."""
    te_or_apex = bert_layer_specs.HAVE_TE or bert_layer_specs.HAVE_APEX
    if cfg.parallel.distributed_optimizer and not on_gpu:
        # DistributedOptimizer checks each parameter's type string against torch.cuda.*Tensor.
        raise InputError("parallel.distributed_optimizer=true needs GPUs (megatron-core's distributed "
                         "optimizer accepts CUDA parameters only)")
    if cfg.parallel.distributed_optimizer and not te_or_apex:
        # With torch's Adam it trains and saves, but loading its checkpoint fails (KeyError 'step' in
        # DistributedOptimizer._set_main_param_and_optimizer_states; seen on an H200): refused at
        # the start rather than at the first resume.
        raise InputError("parallel.distributed_optimizer=true needs Transformer Engine or Apex: without "
                         "their fused Adam, megatron-core 0.16.1 cannot resume the distributed optimizer's "
                         "checkpoints (use an NGC PyTorch container, or leave it off)")
    if cfg.parallel.sequence_parallel:
        if not on_gpu:
            raise InputError("parallel.sequence_parallel=true needs GPUs (megatron-core's sequence-parallel "
                             "LayerNorm path needs Apex or Transformer Engine)")
        if not te_or_apex:
            # The local spec's torch LayerNorm asserts it is not sequence parallel.
            raise InputError("parallel.sequence_parallel=true needs Transformer Engine or Apex (neither is "
                             "importable here: use an NGC PyTorch container)")
        if cfg.parallel.tensor < 2:
            raise InputError("parallel.sequence_parallel=true needs parallel.tensor >= 2 (it shards "
                             "activations across the tensor-parallel ranks)")


def check_batch(cfg: PretrainConfig) -> int:
    """Micro-batches per step (gradient accumulation) for this data-parallel size."""
    data_parallel = parallel_state.get_data_parallel_world_size()
    per_step = cfg.train.micro_batch_size * data_parallel
    if cfg.train.global_batch_size % per_step:
        raise InputError(f"train.global_batch_size={cfg.train.global_batch_size} is not a multiple of "
                         f"micro_batch_size x data-parallel size = {per_step}")
    accumulation = cfg.train.global_batch_size // per_step
    if cfg.parallel.virtual_pipeline and accumulation % cfg.parallel.pipeline:
        # megatron-core's interleaved schedule runs micro-batches in groups of the pipeline size.
        raise InputError(f"parallel.virtual_pipeline needs a multiple of parallel.pipeline="
                         f"{cfg.parallel.pipeline} micro-batches per step; this run has {accumulation} "
                         f"(train.global_batch_size / (micro_batch_size x data-parallel size))")
    return accumulation


def build_model_chunks(cfg: PretrainConfig, vocab_size: int, on_gpu: bool):
    """The model chunks of this rank, wrapped in megatron-core DDP."""
    config = transformer_config(cfg.model, cfg.parallel, cfg.train, on_gpu)
    chunks = []
    virtual = cfg.parallel.virtual_pipeline or 1
    for vp_stage in range(virtual):
        stage = vp_stage if cfg.parallel.virtual_pipeline else None
        first = parallel_state.is_pipeline_first_stage(ignore_virtual=False, vp_stage=stage)
        last = parallel_state.is_pipeline_last_stage(ignore_virtual=False, vp_stage=stage)
        chunk = build_model(config, cfg.model, vocab_size, pre_process=first, post_process=last,
                            vp_stage=stage)
        for parameter in chunk.parameters():  # as Megatron-LM: every parameter says how TP splits it
            tensor_parallel.set_defaults_if_not_set_tensor_model_parallel_attributes(parameter)
        if on_gpu:
            chunk.cuda(torch.cuda.current_device())
        chunks.append(in_training_precision(chunk, config))
    ddp_config = DistributedDataParallelConfig(grad_reduce_in_fp32=True, overlap_grad_reduce=False,
                                               use_distributed_optimizer=cfg.parallel.distributed_optimizer)
    wrapped = [DistributedDataParallel(config=config, ddp_config=ddp_config, module=chunk,
                                       disable_bucketing=index > 0) for index, chunk in enumerate(chunks)]
    return config, wrapped


def check_resumable(saved: dict, cfg: PretrainConfig, vocab: Vocabulary) -> None:
    """Refuse, naming what differs, a checkpoint this run's model or vocabulary cannot continue."""
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


def bert_loss(loss_mask: torch.Tensor, sentence_order: torch.Tensor, output) -> tuple[torch.Tensor, dict]:
    """Masked-LM loss (mean over masked tokens) plus sentence-order loss, as Megatron's BERT."""
    lm_losses, sop_logits = output
    lm_loss = torch.sum(lm_losses.view(-1).float() * loss_mask.reshape(-1)) / loss_mask.sum().clamp(min=1)
    # Copies: the schedule divides the returned loss in place by the number of micro-batches.
    reported = {"lm loss": lm_loss.detach().clone()}
    loss = lm_loss
    if sop_logits is not None:
        sop_loss = F.cross_entropy(sop_logits.view(-1, 2).float(), sentence_order.view(-1), ignore_index=-1)
        loss = loss + sop_loss
        reported["sop loss"] = sop_loss.detach().clone()
    return loss, reported


def forward_step(data_iterator, model, device: torch.device):
    """One micro-batch through one model chunk; the loss function finishes it on the last stage."""
    batch = {key: value.to(device) for key, value in next(data_iterator).items()}
    output = model(batch["text"], batch["padding_mask"], tokentype_ids=batch["types"],
                   lm_labels=batch["labels"])
    return output, partial(bert_loss, batch["loss_mask"], batch["is_random"])


def pretrain(cfg: PretrainConfig) -> TrainState:
    """Train to cfg.train.train_iters steps, resuming from the newest checkpoint in
    cfg.checkpoint.dir; return the final state (with this run's loss history).

    Raises:
        LoaderWorkerDied: a data loader process died; a rerun resumes from the last checkpoint.
    """
    on_gpu = torch.cuda.is_available()
    # Every setting and input that can be checked without the process group, before any work.
    validate(cfg, on_gpu)
    refuse_unsupported_settings(cfg, on_gpu)
    vocab = load_vocabulary(cfg.data.vocab)
    check_dataset_vocabularies(resolve_blend(cfg.data.blend)[0], vocab, f"data.vocab={cfg.data.vocab}")
    lifetime.forked_children_end_with_this_process()
    created_group = initialize_distributed(on_gpu)
    try:
        return _pretrain(cfg, on_gpu, vocab)
    except RuntimeError as error:
        # torch raises it from its SIGCHLD handler, wherever the step is: the step is lost, not the run.
        if is_loader_worker_death(error):
            raise LoaderWorkerDied(str(error).strip().splitlines()[0]) from None
        raise
    finally:
        if parallel_state.model_parallel_is_initialized():
            parallel_state.destroy_model_parallel()
        if created_group:
            torch.distributed.destroy_process_group()


def _pretrain(cfg: PretrainConfig, on_gpu: bool, vocab: Vocabulary) -> TrainState:
    _quiet_megatron(cfg.log_level)
    redirected = [] if on_gpu else cpu_backend.apply()
    setup_model_parallel(cfg)
    tensor_parallel.model_parallel_cuda_manual_seed(cfg.train.seed)
    torch.manual_seed(cfg.train.seed)
    accumulation = check_batch(cfg)
    rank = torch.distributed.get_rank()
    device = torch.device("cuda", torch.cuda.current_device()) if on_gpu else torch.device("cpu")
    state = TrainState()

    tokenizer_size = vocab.size
    vocab_size = padded_vocab_size(
        tokenizer_size, cfg.parallel.tensor, cfg.model.make_vocab_size_divisible_by)
    resume = checkpoint.latest_iteration(cfg.checkpoint.dir) if cfg.checkpoint.enabled else None
    if resume is not None:  # keep the checkpoint's padding: it must load at any TP that divides it
        saved = checkpoint.saved_position(cfg.checkpoint.dir, resume)
        check_resumable(saved, cfg, vocab)
        vocab_size = saved["padded_vocab_size"]
    config, model = build_model_chunks(cfg, vocab_size, on_gpu)
    optimizer = get_megatron_optimizer(OptimizerConfig(
        optimizer="adam", lr=cfg.train.lr, min_lr=cfg.train.min_lr, weight_decay=cfg.train.weight_decay,
        adam_beta1=cfg.train.adam_beta1, adam_beta2=cfg.train.adam_beta2, adam_eps=cfg.train.adam_eps,
        clip_grad=cfg.train.clip_grad, bf16=cfg.train.precision == "bf16", fp16=cfg.train.precision == "fp16",
        params_dtype=config.params_dtype, initial_loss_scale=cfg.train.initial_loss_scale,
        use_distributed_optimizer=cfg.parallel.distributed_optimizer), model)
    samples_per_step = cfg.train.global_batch_size
    decay_iters = cfg.train.lr_decay_iters or max(cfg.train.train_iters, 1)
    scheduler = OptimizerParamScheduler(
        optimizer, init_lr=0.0, max_lr=cfg.train.lr, min_lr=cfg.train.min_lr,
        lr_warmup_steps=int(cfg.train.lr_warmup_fraction * decay_iters) * samples_per_step,
        lr_decay_steps=decay_iters * samples_per_step, lr_decay_style=cfg.train.lr_decay_style,
        start_wd=cfg.train.weight_decay, end_wd=cfg.train.weight_decay,
        wd_incr_steps=max(cfg.train.train_iters, 1) * samples_per_step, wd_incr_style="constant")
    config.no_sync_func = [chunk.no_sync for chunk in model] if len(model) > 1 else model[0].no_sync
    config.finalize_model_grads_func = finalize_model_grads
    config.grad_scale_func = optimizer.scale_loss
    if resume is not None:
        position = checkpoint.load_checkpoint(cfg.checkpoint.dir, resume, model, optimizer, scheduler)
        state.iteration, state.consumed_samples = position["iteration"], position["consumed_samples"]

    cache_dir = cfg.data.cache_dir or str(Path(cfg.checkpoint.dir) / "data_cache")
    eval_runs = (cfg.train.train_iters // cfg.logging.eval_interval if cfg.logging.eval_interval else 0) + 1
    splits = build_datasets(cfg.data, cfg.model.seq_length, cfg.model.binary_head,
                            (max(cfg.train.train_iters, 1) * samples_per_step,
                             eval_runs * cfg.logging.eval_iters * samples_per_step, 0), cache_dir,
                            lowercase=vocab.lowercase)
    data_rank = parallel_state.get_data_parallel_rank()
    data_size = parallel_state.get_data_parallel_world_size()

    def chunk_iterators(dataset, consumed: int, workers: int):
        """One iterator per model chunk: with virtual pipeline stages every chunk reads the same
        micro-batches (the first takes the tokens, the last the labels)."""
        made = [micro_batches(dataset, cfg.train.micro_batch_size, data_rank, data_size, consumed, workers)
                for _ in model]
        return made if len(made) > 1 else made[0]

    iterators = chunk_iterators(splits.train, state.consumed_samples, cfg.data.num_workers)
    forward_backward = get_forward_backward_func()
    validation = None
    if splits.valid is not None and len(splits.valid) >= samples_per_step:
        validation = chunk_iterators(splits.valid, 0, 0)

    def validate() -> None:
        """Validation lm loss and perplexity over eval_iters steps' worth of held-out samples."""
        if validation is None:
            return
        for chunk in model:
            chunk.eval()
        results = []
        with torch.no_grad():
            for _ in range(cfg.logging.eval_iters):
                results.append(_mean_losses(forward_backward(
                    forward_step_func=partial(forward_step, device=device),
                    data_iterator=validation,
                    model=model if len(model) > 1 else model[0], num_microbatches=accumulation,
                    seq_length=cfg.model.seq_length, micro_batch_size=cfg.train.micro_batch_size,
                    forward_only=True)))
        for chunk in model:
            chunk.train()
        loss = sum(r["lm loss"] for r in results) / len(results)
        record = {"iteration": state.iteration, "valid lm loss": loss,
                  "valid perplexity": math.exp(min(loss, 50.0))}
        if metrics is not None:
            metrics.write(record)
        if rank == 0:
            logger.info("validation at step %d: lm loss %.4f, perplexity %.2f", state.iteration, loss,
                        record["valid perplexity"])

    if rank == 0:
        parameters = sum(p.numel() for chunk in model for p in chunk.parameters())
        logger.info("model %s: %d layers, hidden %d, vocab %d (padded %d), %s spec, %d parameters on rank 0; "
                    "TP %d PP %d DP %d, %d micro-batch(es) of %d per step%s%s",
                    cfg.model.name, cfg.model.num_layers, cfg.model.hidden_size, tokenizer_size, vocab_size,
                    layer_spec()[1], parameters, cfg.parallel.tensor, cfg.parallel.pipeline, data_size,
                    accumulation, cfg.train.micro_batch_size,
                    f"; resumed at step {state.iteration}" if resume is not None else "",
                    f"; CPU backend: {len(redirected)} redirections" if redirected else "")

    def save() -> None:
        if not cfg.checkpoint.enabled:
            return
        position = {"consumed_samples": state.consumed_samples, "padded_vocab_size": vocab_size,
                    "vocab_size": tokenizer_size, "vocab": str(Path(cfg.data.vocab).resolve()),
                    "vocabulary": vocab.identity(),
                    "model": cfg.model.name, "model_config": asdict(cfg.model)}
        checkpoint.save_checkpoint(cfg.checkpoint.dir, state.iteration, model, optimizer, scheduler, position,
                                   cfg.checkpoint.keep_last)

    stop = _StopSignal()
    metrics = _Metrics(cfg, state.iteration if resume is not None else None) if rank == 0 else None
    step_flops = throughput.flops_per_step(cfg.model, vocab_size, samples_per_step,
                                           full_recompute=cfg.parallel.recompute == "full")
    peak = throughput.peak_tflops(cfg.train.precision)
    started = time.perf_counter()
    for chunk in model:
        chunk.train()
    while state.iteration < cfg.train.train_iters:
        step_started = time.perf_counter()
        for chunk in model:
            chunk.zero_grad_buffer()
        optimizer.zero_grad()
        losses = forward_backward(
            forward_step_func=partial(forward_step, device=device), data_iterator=iterators,
            model=model if len(model) > 1 else model[0], num_microbatches=accumulation,
            seq_length=cfg.model.seq_length, micro_batch_size=cfg.train.micro_batch_size, forward_only=False)
        updated, grad_norm, _ = optimizer.step()
        if updated:
            scheduler.step(increment=samples_per_step)
        else:  # fp16: an overflow skips the update and lowers the loss scale
            state.skipped_steps += 1
        state.iteration += 1
        state.consumed_samples += samples_per_step
        seconds = time.perf_counter() - step_started
        tflops = step_flops / seconds / torch.distributed.get_world_size() / 1e12
        record = {"iteration": state.iteration, "lr": scheduler.get_lr(optimizer.param_groups[0]),
                  "grad_norm": float(grad_norm) if grad_norm is not None else math.nan,
                  "step_seconds": seconds,
                  "tokens_per_second": samples_per_step * cfg.model.seq_length / seconds,
                  "tflops_per_device": tflops, "memory_gib": throughput.memory_gib(), **_mean_losses(losses)}
        if peak:
            record["mfu"] = tflops / peak
        if cfg.train.precision == "fp16":
            record["loss_scale"] = float(optimizer.get_loss_scale())
            record["skipped_steps"] = state.skipped_steps
        state.history.append(record)
        if metrics is not None:
            metrics.write(record)
        if rank == 0 and (state.iteration % cfg.logging.log_interval == 0 or state.iteration == 1):
            logger.info("step %d/%d  lm loss %.4f%s  lr %.3e  grad norm %.3f%s  %.2f s/step  %.0f tokens/s  "
                        "%.2f TFLOP/s per device%s  %.1f GiB",
                        state.iteration, cfg.train.train_iters, record.get("lm loss", math.nan),
                        f"  sop loss {record['sop loss']:.4f}" if "sop loss" in record else "",
                        record["lr"], record["grad_norm"],
                        f"  loss scale {record['loss_scale']:g} ({state.skipped_steps} skipped)"
                        if "loss_scale" in record else "",
                        seconds, record["tokens_per_second"], tflops,
                        f" (MFU {record['mfu']:.1%})" if "mfu" in record else "", record["memory_gib"])
        if stop.requested():
            if rank == 0:
                action = "saving" if cfg.checkpoint.enabled else "not saving (checkpoint.enabled=false)"
                logger.warning("stop signal received: %s step %d and exiting", action, state.iteration)
            save()
            state.stopped = True
            return state
        if cfg.logging.eval_interval and state.iteration % cfg.logging.eval_interval == 0:
            validate()
        if cfg.checkpoint.save_interval and state.iteration % cfg.checkpoint.save_interval == 0:
            save()
    if state.history and not (cfg.logging.eval_interval and state.iteration % cfg.logging.eval_interval == 0):
        validate()
    if cfg.checkpoint.enabled and checkpoint.latest_iteration(cfg.checkpoint.dir) != state.iteration:
        save()
    if rank == 0:
        logger.info("trained to step %d (%d samples) in %.1f s; %s in %s", state.iteration,
                    state.consumed_samples, time.perf_counter() - started,
                    "checkpoints and metrics" if cfg.checkpoint.enabled else "metrics (no checkpoints)",
                    cfg.checkpoint.dir)
    return state


class _Metrics:
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


class _StopSignal:
    """SIGTERM and SIGUSR1 (Slurm's --signal=USR1@<seconds>) ask for a checkpoint and a clean exit
    at the end of the current step; every rank stops at the same step."""

    def __init__(self) -> None:
        self.flag = False
        for number in (signal.SIGTERM, signal.SIGUSR1):
            signal.signal(number, self._handle)

    def _handle(self, number, frame) -> None:
        self.flag = True

    def requested(self) -> bool:
        flag = torch.tensor([1.0 if self.flag else 0.0])
        if torch.cuda.is_available():
            flag = flag.cuda()
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        return bool(flag.item())


def _quiet_megatron(level: str) -> None:
    """megatron-core logs every dataset file and bucket at INFO: keep it to warnings unless DEBUG."""
    if str(level).upper() != "DEBUG":
        logging.getLogger("megatron").setLevel(logging.WARNING)


def _mean_losses(losses: list[dict]) -> dict:
    """Mean of each reported loss over the micro-batches, across the last pipeline stage's ranks
    (the other stages compute none: they receive it by broadcast)."""
    names = ("lm loss", "sop loss")
    values = torch.zeros(len(names) + 1, dtype=torch.float64,
                         device="cuda" if torch.cuda.is_available() else "cpu")
    if parallel_state.is_pipeline_last_stage(ignore_virtual=True) and losses:
        for i, name in enumerate(names):
            present = [float(m[name]) for m in losses if name in m]
            values[i] = sum(present) / len(present) if present else math.nan
        values[-1] = 1.0
    last = parallel_state.get_pipeline_model_parallel_last_rank()
    torch.distributed.broadcast(values, src=last, group=parallel_state.get_pipeline_model_parallel_group())
    data_group = parallel_state.get_data_parallel_group()
    torch.distributed.all_reduce(values, group=data_group)
    values /= parallel_state.get_data_parallel_world_size()
    return {name: float(values[i]) for i, name in enumerate(names) if not math.isnan(float(values[i]))}
