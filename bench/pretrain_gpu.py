"""Pretraining smoke and throughput on one GPU: `python -m pretrain` runs of the GatorTron sizes in
bf16 and fp16, each a fresh process as a user would start it, then a table of step time, tokens/s,
model TFLOP/s per GPU, MFU (model FLOPs against the GPU's dense peak in pretrain/throughput.py), HFU
where activations are recomputed (the FLOPs the GPU computed, recomputation included) and peak memory,
with checks that every loss is finite and that the lm loss falls.

    python bench/pretrain_gpu.py data.blend=<prefix or blend.json> data.vocab=<tokenizer dir>
    python bench/pretrain_gpu.py ... runs=base_bf16,base_fp16 steps=50 out=bench_out/gpu/runs

Runs (names for `runs=`; default all that fit the GPU's memory):
  base_bf16_unfused gatortron_base, bf16, micro-batch 32 with megatron-core's unfused attention and
                    unfused bias + GELU (model.attention=unfused model.fused_bias_gelu=false): before
  base_bf16         the same with SDPA attention and the fused exact bias-GELU (the defaults): after
  base_bf16_mb64    micro-batch 64
  medium_bf16_unfused  gatortron_medium as medium_bf16 below, with the unfused attention and bias-GELU
  base_fp16         the same in fp16 with dynamic loss scaling (loss scale and skipped steps shown)
  base_recompute    bf16 with full activation recomputation (MFU on model FLOPs, HFU with the recompute)
  base_resume       bf16, checkpoint at the end, then a second process resumes from it for 5
                    more steps (the GPU checkpoint round trip)
  base_distopt      the same with the distributed optimizer; needs Transformer Engine or Apex
  medium_bf16       gatortron_medium (3.9B) on one GPU, bf16, full recompute; needs >= 120 GiB
  medium_bf16_norecompute  the same without activation recomputation, micro-batch 4

Each run profiles one steady step (logging.profile_step: <run>/profile.txt, profile.json) and the
table is followed by each run's top kernels by GPU time, so the next bottleneck is named by data.

Steady-state figures are medians over the steps after `warmup` (CUDA/cuBLAS set-up and TorchScript
fusion profiling happen in the first steps). Needs a CUDA GPU; on a CPU machine it says so and
exits 2.
"""

from __future__ import annotations

from bench_environment import ROOT

import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from gatortron_common.atomic import atomic_write_text
from pretrain.checkpoint import iteration_dir

DEFAULTS = {"data.blend": str(ROOT / "bench_out" / "gpu" / "data" / "notes"),
            "data.vocab": str(ROOT / "bench_out" / "gpu" / "vocab"),
            "out": str(ROOT / "bench_out" / "gpu" / "runs"), "steps": "40", "warmup": "8",
            "runs": "", "timeout_s": "420"}


@dataclass
class Run:
    """One `python -m pretrain` invocation (or two, for the resume check)."""

    name: str
    overrides: list[str]
    min_gib: float = 0.0  # GPU memory it needs
    needs_fused: bool = False  # Transformer Engine or Apex (pretrain refuses the run without)
    checkpointed: bool = False  # save at the end and resume in a second process
    steps: int | None = None  # None: the bench's `steps`
    results: dict = field(default_factory=dict)


BASE = ["model=gatortron_base", "train.micro_batch_size=32", "train.global_batch_size=32", "train.lr=3e-4",
        "train.lr_warmup_fraction=0.1", "data.num_workers=4"]
UNFUSED = ["model.attention=unfused", "model.fused_bias_gelu=false"]
MEDIUM = ["model=gatortron_medium", "parallel.tensor=1", "train.precision=bf16", "train.lr=1e-4",
          "train.lr_decay_iters=null", "data.num_workers=4"]
RUNS = [
    Run("base_bf16_unfused", BASE + ["train.precision=bf16", *UNFUSED]),
    Run("base_bf16", BASE + ["train.precision=bf16"]),
    Run("base_bf16_mb64", [*BASE, "train.precision=bf16", "train.micro_batch_size=64",
                           "train.global_batch_size=64"]),
    Run("base_fp16", BASE + ["train.precision=fp16", "train.initial_loss_scale=65536"]),
    Run("base_recompute", BASE + ["train.precision=bf16", "parallel.recompute=full"]),
    Run("base_resume", BASE + ["train.precision=bf16"], checkpointed=True, steps=20),
    Run("base_distopt", BASE + ["train.precision=bf16", "parallel.distributed_optimizer=true"],
        checkpointed=True, steps=20, needs_fused=True),
    # The published 3.9B recipe (configs/pretrain/model/gatortron_medium.yaml) at TP=1 on one GPU.
    Run("medium_bf16_unfused", [*MEDIUM, "train.micro_batch_size=8", "train.global_batch_size=8", *UNFUSED],
        min_gib=120.0, steps=20),
    Run("medium_bf16", [*MEDIUM, "train.micro_batch_size=8", "train.global_batch_size=8"], min_gib=120.0,
        steps=20),
    Run("medium_bf16_norecompute", [*MEDIUM, "parallel.recompute=null", "train.micro_batch_size=4",
                                    "train.global_batch_size=4"], min_gib=120.0, steps=20),
]


def parse_args(argv: list[str]) -> dict[str, str]:
    args = dict(DEFAULTS)
    for item in argv:
        key, _, value = item.partition("=")
        if key not in args or not _:
            sys.exit(f"unknown argument {item!r}; expected key=value with key in {', '.join(args)}")
        args[key] = value
    return args


def pretrain(run_dir: Path, overrides: list[str], steps: int, args: dict, log_name: str) -> tuple[int, float]:
    """One training process; returns (exit code, seconds). Its log goes to <run_dir>/<log_name>."""
    command = [sys.executable, "-m", "pretrain", f"data.blend={args['data.blend']}",
               f"data.vocab={args['data.vocab']}", "data.split='98,2,0'", f"checkpoint.dir={run_dir}",
               f"train.train_iters={steps}", "logging.log_interval=5", "logging.eval_iters=2",
               f"logging.profile_step={min(int(args['warmup']) + 2, steps)}", *overrides]
    started = time.perf_counter()
    with open(run_dir / log_name, "w", encoding="utf-8") as log:
        try:
            code = subprocess.run(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                  timeout=int(args["timeout_s"])).returncode
        except subprocess.TimeoutExpired:
            code = 124
    return code, time.perf_counter() - started


def summarize(run_dir: Path, warmup: int) -> dict:
    """Steady-state figures and loss checks from a run's metrics.jsonl."""
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "step_seconds" in r]
    steady = steps[warmup:] or steps
    losses = [r.get("lm loss", math.nan) for r in steps]
    head, tail = losses[: max(len(losses) // 5, 1)], losses[-max(len(losses) // 5, 1):]
    out = {"steps": len(steps),
           "step_s": statistics.median(r["step_seconds"] for r in steady),
           "tokens_per_s": statistics.median(r["tokens_per_second"] for r in steady),
           "tflops": statistics.median(r["tflops_per_device"] for r in steady),
           "mfu": _median(steady, "mfu"), "hfu": _median(steady, "hfu"),
           "memory_gib": max(r["memory_gib"] for r in steps),
           "lm_loss_first": statistics.fmean(head), "lm_loss_last": statistics.fmean(tail),
           "finite": all(math.isfinite(v) for v in losses),
           "valid_lm_loss": next((r["valid lm loss"] for r in reversed(records) if "valid lm loss" in r),
                                 None)}
    if "loss_scale" in steps[-1]:
        out["loss_scale"], out["skipped_steps"] = steps[-1]["loss_scale"], steps[-1]["skipped_steps"]
    out["loss_falls"] = out["lm_loss_last"] < out["lm_loss_first"]
    return out


def _median(records: list[dict], key: str) -> float | None:
    """The median of `key` over the records, or None where a record lacks it (CPU, no recompute)."""
    return statistics.median(r[key] for r in records) if all(key in r for r in records) else None


def environment() -> dict:
    import torch
    from megatron.core import package_info
    from megatron.core.models.bert import bert_layer_specs

    from pretrain.model import fused_kernels, layer_spec

    props = torch.cuda.get_device_properties(0)
    return {"gpu": props.name, "gpu_gib": round(props.total_memory / 2**30, 1), "torch": torch.__version__,
            "cuda": torch.version.cuda, "megatron_core": package_info.__version__,
            "layer_spec": layer_spec()[1],
            "transformer_engine": bert_layer_specs.HAVE_TE, "apex": bert_layer_specs.HAVE_APEX,
            **fused_kernels()}


def main() -> int:
    args = parse_args(sys.argv[1:])
    import torch

    if not torch.cuda.is_available():
        print("bench/pretrain_gpu.py needs a CUDA GPU (this machine has none); on the CPU use "
              "bench/pretrain_step.py", file=sys.stderr)
        return 2
    env = environment()
    print("environment: " + ", ".join(f"{k} {v}" for k, v in env.items()), flush=True)
    wanted = [name for name in args["runs"].split(",") if name]
    unknown = set(wanted) - {run.name for run in RUNS}
    if unknown:
        sys.exit(f"unknown run(s) {', '.join(sorted(unknown))}; known: {', '.join(r.name for r in RUNS)}")
    out = Path(args["out"])
    out.mkdir(parents=True, exist_ok=True)
    failures = 0
    for run in RUNS:
        if wanted and run.name not in wanted:
            continue
        if env["gpu_gib"] < run.min_gib:
            print(f"{run.name}: skipped (needs {run.min_gib} GiB, this GPU has {env['gpu_gib']})", flush=True)
            continue
        if run.needs_fused and not (env["transformer_engine"] or env["apex"]):
            print(f"{run.name}: skipped (needs Transformer Engine or Apex)", flush=True)
            continue
        run_dir = out / run.name
        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir.mkdir(parents=True)
        steps = run.steps or int(args["steps"])
        overrides = run.overrides + ([] if run.checkpointed else ["checkpoint.enabled=false"])
        code, seconds = pretrain(run_dir, overrides, steps, args, "train.log")
        run.results = {"exit_code": code, "wall_s": round(seconds, 1)}
        if code == 0:
            run.results.update(summarize(run_dir, min(int(args["warmup"]), steps // 2)))
        if code == 0 and run.checkpointed:
            saved = iteration_dir(run_dir, steps)
            size = sum(f.stat().st_size for f in saved.rglob("*") if f.is_file()) if saved.is_dir() else 0
            resumed, seconds = pretrain(run_dir, overrides, steps + 5, args, "resume.log")
            log = (run_dir / "resume.log").read_text()
            run.results.update({"checkpoint_gib": round(size / 2**30, 2), "resume_exit_code": resumed,
                                "resume_wall_s": round(seconds, 1),
                                "resumed_at": f"resumed at step {steps}" in log})
        resumed_ok = not run.checkpointed or (run.results.get("resume_exit_code") == 0
                                              and run.results.get("resumed_at", False))
        ok = code == 0 and run.results["finite"] and run.results["loss_falls"] and resumed_ok
        run.results["ok"] = ok
        failures += not ok
        print(f"{run.name}: {'ok' if ok else 'FAILED'} {json.dumps(run.results)}", flush=True)
        if code != 0:
            print("".join((run_dir / "train.log").read_text().splitlines(keepends=True)[-25:]), flush=True)
    report = {"environment": env, "runs": {run.name: {"overrides": run.overrides, **run.results}
                                           for run in RUNS if run.results}}
    atomic_write_text(out / "results.json", json.dumps(report, indent=2) + "\n")
    print(f"\n{env['gpu']} ({env['layer_spec']} spec), seq 512, medians after {args['warmup']} steps:")
    print(f"{'run':<16}{'step s':>8}{'tokens/s':>10}{'TFLOP/s':>9}{'MFU':>7}{'HFU':>7}{'GiB':>7}"
          f"{'lm loss':>16}  notes")
    for run in RUNS:
        r = run.results
        if not r or r.get("exit_code"):
            if r:
                print(f"{run.name:<16}exit {r['exit_code']} (log: {out / run.name / 'train.log'})")
            continue
        notes = []
        if "loss_scale" in r:
            notes.append(f"loss scale {r['loss_scale']:g}, {r['skipped_steps']} skipped")
        if run.checkpointed:
            notes.append(f"ckpt {r['checkpoint_gib']} GiB, resume {'ok' if r['resumed_at'] else 'FAILED'}")
        mfu, hfu = (f"{r[key]:.1%}" if r[key] is not None else "-" for key in ("mfu", "hfu"))
        print(f"{run.name:<16}{r['step_s']:>8.3f}{r['tokens_per_s']:>10.0f}{r['tflops']:>9.1f}{mfu:>7}{hfu:>7}"
              f"{r['memory_gib']:>7.1f}{r['lm_loss_first']:>8.2f}->{r['lm_loss_last']:<6.2f}  "
              f"{'; '.join(notes)}")
    for run in RUNS:
        profile = out / run.name / "profile.json"
        if run.results and profile.is_file():
            top = json.loads(profile.read_text())["top"][:5]
            print(f"{run.name} top kernels by GPU time: "
                  + "; ".join(f"{entry['name'][:60]} {entry['share']:.0%}" for entry in top))
    print(f"results: {out / 'results.json'}; {failures} run(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
