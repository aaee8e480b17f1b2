"""Peak memory and time of the checkpoint bridge on a GatorTron-base-sized model (345M parameters).

A random HF MegatronBertForPreTraining with gatortron-base's shape (24 layers, hidden 1024, vocab
50,176) is imported into a megatron-core checkpoint and exported back, each in its own process
(`python -m pretrain.import_hf`, `python -m pretrain.export`); the peak memory of each process
and its workers (proportional set size, sampled every 50 ms) is printed as a ratio to the model's
fp32 size. The issue's budget for an 8.9B model is ~2x its fp32 size; the baseline in the same
run is loading the same HF directory with `MegatronBertForPreTraining.from_pretrained`.

    python bench/convert_memory.py                # base size (~1.4 GB of fp32 weights, ~3x on disk)
    python bench/convert_memory.py layers=4       # quicker
"""

from __future__ import annotations

from bench_environment import ROOT

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

MAKE_MODEL = """
import sys, torch
from transformers import MegatronBertConfig, MegatronBertForPreTraining
from tokenizer.export import export_tokenizer
from tokenizer.vocab import bert_header
layers, out = int(sys.argv[1]), sys.argv[2]
tokens = bert_header() + [f"tok{i}" for i in range(50_101 - 104)]
config = MegatronBertConfig(vocab_size=50_176, hidden_size=1024, num_hidden_layers=layers,
                            num_attention_heads=16, intermediate_size=4096, max_position_embeddings=512)
torch.manual_seed(0)
MegatronBertForPreTraining(config).save_pretrained(out)
export_tokenizer(tokens, __import__("pathlib").Path(out), lowercase=False)
"""

HF_LOAD = """
import sys
from transformers import MegatronBertForPreTraining
model = MegatronBertForPreTraining.from_pretrained(sys.argv[1])
"""


def peak_rss(command: list[str]) -> tuple[float, float]:
    """(peak proportional set size in GiB of the process and its children, seconds) of one command."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env={**os.environ, "OMP_NUM_THREADS": "2"})
    watched = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        try:
            # PSS: megatron-core's checkpoint writer forks workers that share the parent's pages;
            # summing their RSS would count those pages once per worker.
            family = [watched, *watched.children(recursive=True)]
            peak = max(peak, sum(p.memory_full_info().pss for p in family))
        except psutil.Error:
            pass
        time.sleep(0.05)
    if process.returncode:
        raise SystemExit(f"{command[:4]} failed:\n{process.stderr.read().decode()[-2000:]}")
    return peak / 2**30, time.perf_counter() - started


def main() -> None:
    settings = dict(argument.split("=", 1) for argument in sys.argv[1:])
    layers = int(settings.get("layers", 24))
    python = sys.executable
    with tempfile.TemporaryDirectory() as scratch:
        hf, checkpoint, back = (Path(scratch) / name for name in ("hf", "ckpt", "back"))
        subprocess.run([python, "-c", MAKE_MODEL, str(layers), str(hf)], cwd=ROOT, check=True,
                       stderr=subprocess.DEVNULL)
        weights = sum(p.stat().st_size for p in hf.glob("*.safetensors")) / 2**30
        baseline, baseline_s = peak_rss([python, "-c", HF_LOAD, str(hf)])
        imported, import_s = peak_rss([python, "-m", "pretrain.import_hf", f"model={hf}",
                                       f"output={checkpoint}"])
        exported, export_s = peak_rss([python, "-m", "pretrain.export", f"checkpoint={checkpoint}",
                                       f"output={back}"])
        # Shards are held until written: with small ones only one stacked weight stays in memory.
        streamed, streamed_s = peak_rss([python, "-m", "pretrain.export", f"checkpoint={checkpoint}",
                                         f"output={back}", "max_shard_size_mb=256"])
    print(f"model: {layers} layers, hidden 1024, vocab 50,176; fp32 weights {weights:.2f} GiB")
    print(f"{'step':<34}{'peak PSS GiB':>14}{'x fp32 size':>13}{'seconds':>9}")
    for name, peak, seconds in (("HF from_pretrained (baseline)", baseline, baseline_s),
                                ("python -m pretrain.import_hf", imported, import_s),
                                ("python -m pretrain.export", exported, export_s),
                                ("  ... max_shard_size_mb=256", streamed, streamed_s)):
        print(f"{name:<34}{peak:>14.2f}{peak / weights:>13.2f}{seconds:>9.1f}")
    print(f"ratios to the baseline: import {imported / baseline:.2f}, export {exported / baseline:.2f}, "
          f"export with 256 MB shards {streamed / baseline:.2f} (HF maps the file lazily: its PSS is mostly "
          "the interpreter)")


if __name__ == "__main__":
    main()
