"""The local spec's faster pieces (pretrain/attention.py, pretrain/mlp.py) compute what megatron-core's
own modules compute: SDPA core attention against DotProductAttention, the fused bias + exact GELU MLP
against megatron-core's MLP, alone and in the whole model, at TP=1 and TP=2, with padded batches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from pretrain_runs import launch, metrics

from pretrain.attention import keys_of, padding_keys
from pretrain.mlp import bias_gelu

TESTS = Path(__file__).resolve().parent
FP32_TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def layouts() -> list[list[dict]]:
    """attention_check.py under torchrun with 2 processes: a report per rank for TP=1 and for TP=2."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(TESTS.parent)}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
               str(TESTS / "attention_check.py")]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    reports = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("[{")]
    assert [[r["tp"] for r in report] for report in reports] == [[1, 1], [2, 2]]
    return reports


@pytest.mark.parametrize("tp", [1, 2])
def test_sdpa_core_attention_equals_megatron_cores_on_padded_batches(layouts, tp: int) -> None:
    for rank in layouts[tp - 1]:
        assert rank["core"]["output_scale"] > 0.5  # real outputs were compared, not zeros
        assert rank["core"]["output"] <= FP32_TOLERANCE
        assert rank["core"]["grad"] <= FP32_TOLERANCE


@pytest.mark.parametrize("tp", [1, 2])
def test_local_spec_with_sdpa_and_fused_gelu_is_the_same_model(layouts, tp: int) -> None:
    """The same weights (loaded strictly, same checkpoint keys) give the same logits at real tokens
    and the same gradients as megatron-core's own local spec (differences relative to the largest
    value: the weights are made large, where the tanh form of GELU would show)."""
    for rank in layouts[tp - 1]:
        model = rank["model"]
        assert model["spec"] == "SdpaAttention+ExactGeluMLP"
        assert model["same_keys"]
        assert model["logits"] <= FP32_TOLERANCE and model["grad"] <= FP32_TOLERANCE


def test_padding_keys_from_megatron_cores_masks() -> None:
    real = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1], [0, 0, 0, 0]])
    b1ss = ((real[:, None, :] * real[:, :, None]) < 0.5)[:, None]
    b11s = (real < 0.5)[:, None, None, :]
    # True = masked; a row of padding only masks nothing (SDPA would give NaN)
    expected = torch.tensor([[0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]], dtype=torch.bool)[:, None, None, :]
    for mask in (b1ss, b11s):
        assert torch.equal(keys_of(mask), expected) and torch.equal(padding_keys(mask), expected)
    assert padding_keys(torch.zeros(2, 1, 1, 4, dtype=torch.bool)) is None  # no padding: flash kernels
    assert padding_keys(None) is None


def test_the_model_derives_the_padding_keys_once_per_forward() -> None:
    """GatorTronBert hands every layer the one mask it derived for the forward; nothing is kept between
    forwards (a module-level cache once kept the last batch alive)."""
    script = """
import json, warnings
warnings.filterwarnings("ignore")
import torch
import pretrain.model
from pretrain.attention import SdpaAttention, padding_keys
from pretrain.config import ModelConfig, ParallelConfig, TrainConfig
from pretrain.model import build_model, transformer_config
from pretrain.standalone import single_process_megatron
tiny = ModelConfig(name="tiny", num_layers=3, hidden_size=64, num_attention_heads=4, ffn_hidden_size=256,
                   seq_length=16)
derived, seen = [], []
pretrain.model.padding_keys = lambda mask: derived.append(1) or padding_keys(mask)
forward = SdpaAttention.forward
SdpaAttention.forward = lambda self, q, k, v, mask, *a, **kw: (seen.append(mask)
                                                             or forward(self, q, k, v, mask, *a, **kw))
with single_process_megatron():
    config = transformer_config(tiny, ParallelConfig(), TrainConfig(), on_gpu=False)
    model = build_model(config, tiny, 128, pre_process=True, post_process=True).eval()
    tokens, types = torch.randint(5, 128, (2, 16)), torch.zeros(2, 16, dtype=torch.long)
    report = {}
    some = torch.tensor([[1.0] * 10 + [0.0] * 6, [1.0] * 16])
    for name, padding in (("none", torch.ones(2, 16)), ("some", some)):
        seen.clear()
        with torch.no_grad():
            model(tokens, padding, tokentype_ids=types)
        report[name] = {"layers": len(seen), "objects": len({id(m) for m in seen}),
                        "masked": [] if seen[0] is None else seen[0].flatten().tolist()}
    report["derived"] = len(derived)
print(json.dumps(report))
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=TESTS.parent, capture_output=True, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["derived"] == 2  # once per forward, not once per layer
    assert report["none"] == {"layers": 3, "objects": 1, "masked": []}  # None: SDPA may take flash kernels
    assert report["some"]["layers"] == 3 and report["some"]["objects"] == 1
    assert report["some"]["masked"] == [False] * 10 + [True] * 6 + [False] * 16


def test_fused_bias_gelu_is_the_exact_gelu_the_export_computes() -> None:
    x, bias = torch.randn(8, 2, 32) * 3, torch.randn(32)
    assert torch.equal(bias_gelu(x, bias), F.gelu(x + bias))
    # megatron-core's own fusion (the tanh form) would differ by this much here: the test can tell
    assert (F.gelu(x + bias, approximate="tanh") - F.gelu(x + bias)).abs().max() > 1e-4


def test_a_profiled_step_names_the_kernels_and_training_uses_sdpa(tmp_path: Path,
                                                                  pretrain_data: dict[str, str]) -> None:
    run = tmp_path / "run"
    process = launch(pretrain_data, run, **{"train.train_iters": 3, "logging.profile_step": 2,
                                            "checkpoint.enabled": "false", "logging.tensorboard_dir": "''"})
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output[-3000:]
    assert "local (sdpa attention, fused bias-GELU) spec" in output
    assert [r["iteration"] for r in metrics(run)] == [1, 2, 3]
    profile = json.loads((run / "profile.json").read_text())
    assert profile["device"] == "cpu" and len(profile["top"]) == 25
    shares = [entry["share"] for entry in profile["top"]]
    assert shares == sorted(shares, reverse=True) and 0 < sum(shares) <= 1.0 + 1e-6
    # the step's attention ran SDPA, not megatron-core's baddbmm + masked softmax
    table = (run / "profile.txt").read_text()
    assert "Self CPU" in table and "scaled_dot_product" in table and "aten::baddbmm" not in table
