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
    from pretrain import cpu_backend

    found = {module: cpu_backend.cuda_references(module) for module in cpu_backend.CUDA_REFERENCES}
    assert found == cpu_backend.CUDA_REFERENCES, (
        f"megatron-core's CUDA references changed (pinned for {cpu_backend.CUDA_REFERENCES_VERSION}); "
        f"review pretrain/cpu_backend.py")


def test_model_flops_count() -> None:
    """8h^2 + 4hf + 4sh per token and layer, 2h^2 + 2hV for the LM head, x3 (x4 with recompute)."""
    from pretrain.config import ModelConfig
    from pretrain.throughput import flops_per_step

    tiny = ModelConfig(name="t", num_layers=2, hidden_size=64, num_attention_heads=4, ffn_hidden_size=256,
                       seq_length=128)
    per_token = 2 * (8 * 64 * 64 + 4 * 64 * 256 + 4 * 128 * 64) + 2 * 64 * 64 + 2 * 64 * 8064
    assert per_token == 1_302_528
    assert flops_per_step(tiny, 8064, samples=8, full_recompute=False) == 3 * 8 * 128 * per_token
    assert flops_per_step(tiny, 8064, samples=8, full_recompute=True) == 4 * 8 * 128 * per_token
