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

from pretrain.attention import key_padding_mask
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


def test_key_padding_mask_from_megatron_cores_masks() -> None:
    real = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1], [0, 0, 0, 0]])
    b1ss = ((real[:, None, :] * real[:, :, None]) < 0.5)[:, None]
    b11s = (real < 0.5)[:, None, None, :]
    expected = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1], [1, 1, 1, 1]], dtype=torch.bool)[:, None, None, :]
    for mask in (b1ss, b11s):
        assert torch.equal(key_padding_mask(mask), expected)  # an all-padding row attends everywhere: no NaN
        assert key_padding_mask(mask) is key_padding_mask(mask)  # derived once for all the layers
    assert key_padding_mask(torch.zeros(2, 1, 1, 4, dtype=torch.bool)) is None  # no padding: flash kernels
    assert key_padding_mask(None) is None


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
