"""Pretraining on megatron-core, on CPU with gloo: a tiny BERT learns from data_prep output; TP=2,
PP=2, TP2xPP2 and interleaved PP2xVP2 reproduce TP=1; an interrupted run resumes exactly; TP=2 and
PP2xVP2 checkpoints resume at TP=1; the stop signal saves; the CPU backend is applied only without
CUDA and lists what it does."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pretrain_runs import ROOT, launch, losses, metrics, pretrain

TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def data(pretrain_data: dict[str, str]) -> dict[str, str]:
    return pretrain_data


@pytest.fixture(scope="module")
def initial(tmp_path_factory: pytest.TempPathFactory, data: dict[str, str]) -> Path:
    """A TP=1 checkpoint at step 0: the same starting weights for every layout."""
    run = tmp_path_factory.mktemp("initial") / "run"
    assert pretrain(data, run, **{"train.train_iters": 0}) == []
    assert (run / "latest_checkpointed_iteration.txt").read_text().strip() == "0"
    return run


def from_initial(initial: Path, tmp_path: Path, name: str) -> Path:
    run = tmp_path / name
    shutil.copytree(initial, run, ignore=shutil.ignore_patterns("metrics.jsonl", "tensorboard"))
    return run


def test_tiny_model_learns(tmp_path: Path, data: dict[str, str]) -> None:
    records = pretrain(data, tmp_path / "run", **{"train.train_iters": 40, "logging.eval_interval": 20})
    values = losses(records)
    assert len(values) == 40
    assert sum(values[-5:]) / 5 < sum(values[:5]) / 5 - 0.5
    for key in ("tokens_per_second", "tflops_per_device", "memory_gib"):
        assert all(r[key] > 0 for r in records), key
    validations = metrics(tmp_path / "run", "valid")
    assert [v["iteration"] for v in validations] == [20, 40]
    assert validations[1]["valid lm loss"] < validations[0]["valid lm loss"] < values[0]
    assert (tmp_path / "run" / "iter_0000040").is_dir()
    assert list((tmp_path / "run" / "tensorboard").glob("events.*"))


@pytest.mark.parametrize(("name", "processes", "layout"), [
    ("tp2", 2, {"parallel.tensor": 2}),
    ("pp2", 2, {"parallel.pipeline": 2}),
    ("tp2pp2", 4, {"parallel.tensor": 2, "parallel.pipeline": 2}),
    # DP=2 with megatron-core's gradient reduction overlapped with the backward, in small buckets.
    ("dp2_overlap", 2, {"parallel.overlap_grad_reduce": "true", "parallel.bucket_size": 20000}),
])
def test_parallel_layouts_reproduce_tp1(tmp_path: Path, data: dict[str, str], initial: Path, name: str,
                                         processes: int, layout: dict) -> None:
    steps = {"train.train_iters": 4}
    reference = losses(pretrain(data, from_initial(initial, tmp_path, "tp1"), **steps))
    parallel = losses(pretrain(data, from_initial(initial, tmp_path, name), processes, **steps, **layout))
    assert len(parallel) == 4
    difference = max(abs(a - b) for a, b in zip(reference, parallel, strict=True))
    assert difference <= TOLERANCE, (reference, parallel)


def test_a_tp2_checkpoint_resumes_at_tp1(tmp_path: Path, data: dict[str, str], initial: Path) -> None:
    reference = losses(pretrain(data, from_initial(initial, tmp_path, "tp1"), **{"train.train_iters": 6}))
    run = from_initial(initial, tmp_path, "tp2_then_tp1")
    pretrain(data, run, 2, **{"train.train_iters": 4, "parallel.tensor": 2})
    resumed = losses(pretrain(data, run, **{"train.train_iters": 6}))
    assert max(abs(a - b) for a, b in zip(reference[4:], resumed, strict=True)) <= TOLERANCE


def test_interleaved_pipeline_reproduces_tp1_and_its_checkpoints_resume(tmp_path: Path,
                                                                       data: dict[str, str]) -> None:
    """PP=2 x VP=2 (two model chunks per rank, 4 layers): the same losses as TP=1 from the same
    step-0 weights, through a resume at the same layout and one at TP=1."""
    four_layers = {"model.num_layers": 4}
    initial = tmp_path / "initial"
    pretrain(data, initial, **four_layers, **{"train.train_iters": 0})
    reference = losses(pretrain(data, from_initial(initial, tmp_path, "tp1"), **four_layers,
                                **{"train.train_iters": 6}))
    run = from_initial(initial, tmp_path, "pp2vp2")
    interleaved = {**four_layers, "parallel.pipeline": 2, "parallel.virtual_pipeline": 2}
    resumed = losses(pretrain(data, run, 2, **interleaved, **{"train.train_iters": 2}))
    resumed += losses(pretrain(data, run, 2, **interleaved, **{"train.train_iters": 4}))
    resumed += losses(pretrain(data, run, **four_layers, **{"train.train_iters": 6}))
    assert len(resumed) == 6
    assert max(abs(a - b) for a, b in zip(reference, resumed, strict=True)) <= TOLERANCE, (reference, resumed)


def test_stop_signal_saves_and_the_resumed_run_continues_exactly(tmp_path: Path,
                                                                  data: dict[str, str]) -> None:
    settings = {"train.train_iters": 30, "model.hidden_dropout": 0.1, "model.attention_dropout": 0.1}
    uninterrupted = pretrain(data, tmp_path / "straight", **settings)
    run = tmp_path / "interrupted"
    process = launch(data, run, **settings)
    deadline = time.monotonic() + 300
    while not metrics(run) and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGUSR1)
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output[-3000:]  # saved and stopped cleanly
    assert "stop signal received" in output
    stopped = len(metrics(run))
    assert 1 <= stopped < 30 and (run / f"iter_{stopped:07d}").is_dir()
    resumed = pretrain(data, run, **settings)  # dropout on: the random generators resume too
    assert [r["iteration"] for r in resumed] == list(range(stopped + 1, 31))
    assert losses(resumed) == losses(uninterrupted[stopped:])
    assert [r["lr"] for r in resumed] == [r["lr"] for r in uninterrupted[stopped:]]


def test_cpu_backend_applies_only_without_cuda_and_lists_its_redirections() -> None:
    script = """
import json, warnings
warnings.filterwarnings("ignore")
import megatron.core.utils as utils
from pretrain import cpu_backend
real = utils.torch
with_cuda = cpu_backend.apply(cuda_available=True)
untouched = utils.torch is real
applied = cpu_backend.apply(cuda_available=False)
buffer = utils.GlobalMemoryBuffer().get_tensor((2, 3), utils.torch.float32, "test")
print(json.dumps({"with_cuda": with_cuda, "untouched": untouched, "applied": applied,
                  "device": str(buffer.device), "calls": cpu_backend.redirected_calls()}))
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["with_cuda"] == [] and report["untouched"]
    assert len(report["applied"]) >= 12
    assert any("tensor_parallel.random" in line for line in report["applied"])
    assert report["device"] == "cpu"
    assert report["calls"] == {"megatron.core.utils: torch.cuda.current_device": 1}


def test_megatron_core_cuda_call_sites_are_the_known_ones() -> None:
    """A megatron-core upgrade that adds CUDA call sites on the training path must be looked at."""
    from gatortron_common.megatron_internals import CHECKED_VERSION
    from pretrain import cpu_backend

    found = {module: cpu_backend.cuda_references(module) for module in cpu_backend.CUDA_REFERENCES}
    assert found == cpu_backend.CUDA_REFERENCES, (
        f"megatron-core's CUDA references changed (pinned for {CHECKED_VERSION}); "
        f"review pretrain/cpu_backend.py")


def test_model_flops_count_mfu_and_hfu() -> None:
    """8h^2 + 4hf + 4sh per token and layer, 2h^2 + 2hV for the LM head; model FLOPs are 3x that
    whatever is recomputed (MFU), hardware FLOPs 4x with full recompute and 3x plus the attention
    core with selective (HFU)."""
    from pretrain.config import ModelConfig, Recompute
    from pretrain.throughput import StepFlops, hardware_flops_per_step, model_flops_per_step

    tiny = ModelConfig(name="t", num_layers=2, hidden_size=64, num_attention_heads=4, ffn_hidden_size=256,
                       seq_length=128)
    per_token = 2 * (8 * 64 * 64 + 4 * 64 * 256 + 4 * 128 * 64) + 2 * 64 * 64 + 2 * 64 * 8064
    assert per_token == 1_302_528
    model = model_flops_per_step(tiny, 8064, samples=8)
    assert model == 3 * 8 * 128 * per_token
    assert hardware_flops_per_step(tiny, 8064, 8, recompute=None) == model
    assert hardware_flops_per_step(tiny, 8064, 8, recompute=Recompute.full) == 4 * 8 * 128 * per_token
    attention_core = 8 * 128 * 2 * (4 * 128 * 64)
    assert hardware_flops_per_step(tiny, 8064, 8, recompute=Recompute.selective) == model + attention_core

    # bench/RESULTS.md's recompute row: 989 TFLOP/s peak, 4x counted as 17.8 % is 13.35 % of model FLOPs.
    full = StepFlops(model=3e15, hardware=4e15, peak_tflops=989.0)
    rates = full.rates(seconds=2.0, devices=8)
    assert rates["tflops_per_device"] == 3e15 / 2.0 / 8 / 1e12
    assert rates["mfu"] == rates["tflops_per_device"] / 989.0
    assert rates["hfu"] == 4e15 / 2.0 / 8 / 1e12 / 989.0
    assert abs(rates["hfu"] / rates["mfu"] - 4 / 3) < 1e-12
    assert set(StepFlops(model=3e15, hardware=None, peak_tflops=989.0).rates(2.0, 8)) == {
        "tflops_per_device", "mfu"}  # no recomputation: no HFU
    assert set(StepFlops(model=3e15, hardware=None, peak_tflops=None).rates(2.0, 8)) == {"tflops_per_device"}


def test_half_precision_chunks_train_in_that_precision() -> None:
    """bf16/fp16 chunks run inside megatron-core's Float16Module: megatron-core makes the local
    spec's LayerNorms and some embeddings fp32 whatever params_dtype says, and without the wrapper
    the first matmul fails (as it did on an H200). Checked on the CPU, where bf16 math exists."""
    script = """
import json, warnings
warnings.filterwarnings("ignore")
import torch
from pretrain.config import ModelConfig, ParallelConfig, TrainConfig
from pretrain.model import build_model, in_training_precision, transformer_config
from pretrain.standalone import single_process_megatron
tiny = ModelConfig(name="tiny", num_layers=2, hidden_size=64, num_attention_heads=4, ffn_hidden_size=256,
                   seq_length=16)
report = {}
with single_process_megatron():
    config = transformer_config(tiny, ParallelConfig(), TrainConfig(), on_gpu=False)
    config.bf16, config.params_dtype = True, torch.bfloat16  # what precision=bf16 sets on a GPU
    chunk = build_model(config, tiny, 128, pre_process=True, post_process=True)
    report["bare_fp32"] = sorted(n for n, p in chunk.named_parameters() if p.dtype == torch.float32)
    tokens = torch.randint(0, 128, (2, 16))
    mask, types = torch.ones(2, 16, dtype=torch.bool), torch.zeros(2, 16, dtype=torch.long)
    try:
        chunk(tokens, mask, tokentype_ids=types, lm_labels=tokens)
        report["bare"] = "ran"
    except RuntimeError as error:
        report["bare"] = str(error)
    wrapped = in_training_precision(chunk, config)
    report["dtypes"] = sorted({str(p.dtype) for p in wrapped.parameters()})
    lm_losses, sop_logits = wrapped(tokens, mask, tokentype_ids=types, lm_labels=tokens)
    report["outputs"] = [str(lm_losses.dtype), str(sop_logits.dtype)]
    (lm_losses.sum() + sop_logits.sum()).backward()
    report["grads"] = sorted({str(p.grad.dtype) for p in wrapped.parameters()})
    fp32 = transformer_config(tiny, ParallelConfig(), TrainConfig(), on_gpu=False)
    report["fp32_unwrapped"] = in_training_precision(chunk, fp32) is chunk
print(json.dumps(report))
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert "encoder.layers.0.input_layernorm.weight" in report["bare_fp32"]
    assert "same dtype" in report["bare"]
    assert report["dtypes"] == ["torch.bfloat16"]
    assert report["outputs"] == ["torch.float32", "torch.float32"]
    assert report["grads"] == ["torch.bfloat16"]
    assert report["fp32_unwrapped"]


def test_settings_this_machine_cannot_run_are_refused_with_a_reason() -> None:
    from omegaconf import OmegaConf

    from gatortron_common.logging import InputError
    from pretrain.config import PretrainConfig, validate

    def settings(**parallel) -> PretrainConfig:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(PretrainConfig), {
            "parallel": parallel, "data": {"blend": "x", "vocab": "x"}, "checkpoint": {"dir": "x"},
            "model": {"name": "t", "num_layers": 2, "hidden_size": 64, "num_attention_heads": 4,
                      "ffn_hidden_size": 256}}))

    with pytest.raises(InputError, match="distributed_optimizer=true needs GPUs"):
        validate(settings(distributed_optimizer=True), on_gpu=False)
    # This CI machine has neither Transformer Engine nor Apex: no fused Adam, no fused LayerNorm.
    with pytest.raises(InputError, match="distributed_optimizer=true needs Transformer Engine or Apex"):
        validate(settings(distributed_optimizer=True), on_gpu=True)
    with pytest.raises(InputError, match="sequence_parallel=true needs GPUs"):
        validate(settings(sequence_parallel=True, tensor=2), on_gpu=False)
    with pytest.raises(InputError, match="needs Transformer Engine or Apex"):
        validate(settings(sequence_parallel=True, tensor=2), on_gpu=True)
    validate(settings(), on_gpu=True)


def test_checkpoints_off_saves_and_resumes_nothing(tmp_path: Path, data: dict[str, str]) -> None:
    run = tmp_path / "run"
    first = pretrain(data, run, **{"train.train_iters": 3, "checkpoint.enabled": "false",
                                   "checkpoint.save_interval": 1})
    assert [r["iteration"] for r in first] == [1, 2, 3]
    assert not list(run.glob("iter_*")) and not (run / "latest_checkpointed_iteration.txt").exists()
    again = pretrain(data, run, **{"train.train_iters": 3, "checkpoint.enabled": "false"})
    assert [r["iteration"] for r in again] == [1, 2, 3]  # started afresh, not resumed
    assert losses(again) == losses(first)


def test_gpu_settings_compute_what_the_cpu_and_the_hf_export_compute() -> None:
    """The GPU's TransformerConfig (fusions on) gives the CPU's logits on the same weights: no
    tanh-approximated GELU in training that the exported HF model (exact GELU) would not have.
    megatron-core's bias-GELU fusion alone would differ by ~2e-3 here."""
    script = """
import json, warnings
warnings.filterwarnings("ignore")
import torch
from pretrain.config import ModelConfig, ParallelConfig, TrainConfig
from pretrain.model import build_model, transformer_config
from pretrain.standalone import single_process_megatron
tiny = ModelConfig(name="tiny", num_layers=2, hidden_size=64, num_attention_heads=4, ffn_hidden_size=256,
                   seq_length=16, hidden_dropout=0.0, attention_dropout=0.0)
with single_process_megatron():
    cpu = transformer_config(tiny, ParallelConfig(), TrainConfig(), on_gpu=False)
    gpu = transformer_config(tiny, ParallelConfig(), TrainConfig(), on_gpu=True)
    gpu.use_cpu_initialization = True  # no GPU here to make the weights on
    ours = build_model(cpu, tiny, 128, pre_process=True, post_process=True)
    with torch.no_grad():
        for weight in ours.parameters():
            if weight.dim() > 1:
                weight.normal_(0, 0.5)  # large activations, where the GELU variants differ most
    theirs = build_model(gpu, tiny, 128, pre_process=True, post_process=True)
    theirs.load_state_dict(ours.state_dict())
    ours.eval(), theirs.eval()
    tokens = torch.randint(0, 128, (2, 16))
    mask, types = torch.ones(2, 16, dtype=torch.bool), torch.zeros(2, 16, dtype=torch.long)
    with torch.no_grad():
        difference = (ours(tokens, mask, tokentype_ids=types)[0]
                      - theirs(tokens, mask, tokentype_ids=types)[0]).abs().max()
print(json.dumps({"difference": float(difference), "fused_dropout": gpu.bias_dropout_fusion}))
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["fused_dropout"]  # the GPU settings were the ones compared
    assert report["difference"] <= 1e-6
