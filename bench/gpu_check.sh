#!/usr/bin/env bash
# The GPU check to run first on a lent GPU machine (one H100/H200, no network), in under 10 minutes:
#   1. pretraining before/after: bench/pretrain_gpu.py's base_bf16_unfused -> base_bf16 runs
#   2. `predict` throughput: bench/ner_infer.py, fp32 and bf16 on the GPU (12-layer / 768 MegatronBert)
#   3. bf16 fine-tuning smoke: a tiny bf16 pretraining -> pretrain.export verify=true -> finetune
#      task=deid_2014 in bf16 on synthetic i2b2 2014 notes, scored on its test split
#   4. Transformer Engine's layer spec (model.spec=te, gatortron_base bf16) where transformer_engine
#      imports; otherwise recorded as not installed
# Each step runs under its own timeout inside one overall budget; a failure is recorded and the next
# step still runs. The one summary is ${OUT:-bench_out/gpu_check}/gpu_check.json (date, GPU, versions,
# each step's exit code and seconds, the numbers parsed from each step's JSON, a Markdown table for
# bench/RESULTS.md); the logs lie beside it: 7 files in all (the device tool returns at most 8).
#
# First, here (a machine with a package index): bench/gpu_wheels.sh puts the project dependencies the
# GPU machine's image lacks (megatron-core, hydra-core, ...) in .whl/. Then, through the device tool,
# from the repository root:
#   run  command="bash bench/gpu_check.sh"  carry=[".whl"]  timeout_s=600
#
# Environment: GPU_CHECK_BUDGET_S (whole run, default 510), GPU_CHECK_WORK (scratch, /tmp/gpu_check),
# PRETRAIN_STEPS (per pretrain_gpu run, 30), PY (python3: on the GPU image, the one with torch).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
RES=${OUT:-$ROOT/bench_out/gpu_check}
WORK=${GPU_CHECK_WORK:-/tmp/gpu_check}
PY=${PY:-python3}
BUDGET=${GPU_CHECK_BUDGET_S:-510}
STEPS=${PRETRAIN_STEPS:-30}
RESERVE=25  # kept back for the summary
NPROC=$(nproc)
START=$SECONDS
mkdir -p "$RES"
rm -rf "$WORK"
mkdir -p "$WORK"
STEPLOG=$WORK/steps.jsonl
DATA=$WORK/data
FT=$WORK/finetune
LOG_SETUP=$RES/setup_data.log
LOG_FT=$RES/finetune.log
# No hub lookups (offline machine); unbuffered so that a killed step still leaves its log.
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

note() { printf '[gpu_check %3ds] %s\n' $((SECONDS - START)) "$*"; }
left() { echo $((START + BUDGET - RESERVE - SECONDS)); }
record() {  # name exit_code seconds timeout_s skipped-reason (JSON values)
    printf '{"step": "%s", "exit_code": %s, "seconds": %s, "timeout_s": %s, "skipped": %s}\n' \
        "$1" "$2" "$3" "$4" "$5" >>"$STEPLOG"
}
skip() {  # name reason
    record "$1" null 0 0 "\"$2\""
    note "$1: skipped ($2)"
}
# step NAME CAP LOG CMD...: CMD under `timeout` (the smaller of CAP and the time left; its whole process
# group is killed), output appended to LOG; records the exit code and seconds and returns the exit code.
step() {
    local name=$1 cap=$2 log=$3
    shift 3
    local limit
    limit=$(left)
    ((cap < limit)) && limit=$cap
    if ((limit < 15)); then
        skip "$name" "no time left"
        return 125
    fi
    printf '\n=== %s (timeout %ss): %s\n' "$name" "$limit" "$*" >>"$log"
    local t0 t1 rc
    t0=$(date +%s.%N)
    timeout -k 10 "$limit" "$@" >>"$log" 2>&1
    rc=$?
    t1=$(date +%s.%N)
    local seconds
    seconds=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    record "$name" "$rc" "$seconds" "$limit" null
    note "$name: exit $rc in ${seconds}s$( ((rc == 124 || rc == 137)) && echo ' (timed out)')"
    return "$rc"
}

note "results in $RES, scratch in $WORK, budget ${BUDGET}s"

# --- setup: the carried wheels (the image has torch, transformers, ...; not megatron-core, hydra, ...)
if compgen -G ".whl/*.whl" >/dev/null; then
    step wheels 90 "$LOG_SETUP" "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
        --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site:$ROOT
else
    skip wheels "no .whl/ (run bench/gpu_wheels.sh here and carry .whl)"
    export PYTHONPATH=$ROOT
fi

# Versions, the GPU, and what does not import; transformer_engine's import decides step 4.
step environment 120 "$LOG_SETUP" "$PY" - "$WORK" <<'EOF'
import importlib, json, os, platform, subprocess, sys
from importlib import metadata
from pathlib import Path

work = Path(sys.argv[1])
env = {"python": platform.python_version(), "executable": sys.executable, "cpus": os.cpu_count()}
try:
    env["nvidia_smi"] = subprocess.run(
        ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
        capture_output=True, text=True, timeout=30).stdout.strip()
except Exception as error:
    env["nvidia_smi"] = f"failed: {error}"
for dist in ("torch", "triton", "transformers", "accelerate", "tokenizers", "numpy", "megatron-core",
             "hydra-core", "omegaconf", "nanotoken", "transformer-engine", "transformer_engine", "apex"):
    try:
        env[dist] = metadata.version(dist)
    except Exception:
        env[dist] = None
errors = {}
for module in ("torch", "transformers", "accelerate", "tokenizers", "sentencepiece", "safetensors", "yaml",
               "regex", "psutil", "rich", "tqdm", "tensorboard", "hydra", "omegaconf", "mwparserfromhell",
               "nanotoken", "megatron.core"):
    try:
        importlib.import_module(module)
    except Exception as error:
        errors[module] = f"{type(error).__name__}: {error}"[:300]
env["import_errors"] = errors
try:
    import torch
    env["cuda"] = torch.version.cuda
    env["cuda_available"] = torch.cuda.is_available()
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        env.update(gpu=props.name, gpu_gib=round(props.total_memory / 2**30, 1),
                   gpu_count=torch.cuda.device_count(), bf16_supported=torch.cuda.is_bf16_supported())
except Exception as error:
    env["torch_error"] = f"{type(error).__name__}: {error}"[:300]
try:
    import transformer_engine
    env["transformer_engine_import"] = getattr(transformer_engine, "__version__", None) or "imports"
    (work / "te_version").write_text(env["transformer_engine_import"])
except Exception as error:
    env["transformer_engine_import"] = None
    env["transformer_engine_error"] = f"{type(error).__name__}: {error}"[:300]
(work / "env.json").write_text(json.dumps(env, indent=2) + "\n")
print(json.dumps(env, indent=2))
EOF
note "GPU: $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | head -n1)"

# --- data: a vocabulary and a notes dataset, as `make demo` builds them (~2.5M tokens: enough for
# 30 steps of micro-batch 32 at 512 tokens without many repeats). vocab_size is GatorTron's; the
# synthetic corpus supports fewer tokens, and the summary records how many.
step corpora 60 "$LOG_SETUP" "$PY" -m synthetic.corpora output_dir="$DATA/corpora" notes_mb=12 \
    pubmed_articles=200 wiki_pages=100 seed=0 &&
    step vocab 90 "$LOG_SETUP" "$PY" -m tokenizer \
        "input=[$DATA/corpora/notes.jsonl,$DATA/corpora/pubmed/*.xml.gz,$DATA/corpora/wikipedia/*.xml.bz2]" \
        output_dir="$DATA/vocab" vocab_size=50101 workers="$NPROC" &&
    step data_prep 90 "$LOG_SETUP" "$PY" -m data_prep source=notes input="$DATA/corpora/notes.jsonl" \
        vocab="$DATA/vocab" output_prefix="$DATA/notes" workers="$NPROC" unit_mb=1
DATA_OK=$?

# --- 1. pretraining before/after (each run a fresh `python -m pretrain`; ~1-2 minutes each)
if ((DATA_OK == 0)); then
    step pretrain_gpu 300 "$RES/pretrain_gpu.log" "$PY" bench/pretrain_gpu.py data.blend="$DATA/notes" \
        data.vocab="$DATA/vocab" runs=base_bf16_unfused,base_bf16 steps="$STEPS" warmup=8 \
        out="$WORK/pretrain_gpu" timeout_s=140
    cp "$WORK/pretrain_gpu/results.json" "$RES/pretrain_gpu_results.json" 2>/dev/null
else
    skip pretrain_gpu "no data"
fi

# --- 2. predict throughput, fp32 and bf16 (ner_infer builds its own vocabulary and model)
rm -f bench_out/ner_infer/result_cuda.json  # never report an earlier run's numbers
step ner_infer 150 "$RES/ner_infer.log" "$PY" bench/ner_infer.py --device cuda --precisions fp32,bf16 \
    --no-pipeline --notes 200

# --- 3. bf16 fine-tuning smoke: an encoder from a tiny bf16 pretraining exported to HF (a random one
# if that fails, so the fine-tune still runs), then deid_2014 in bf16 on the GPU
ENCODER=none
if ((DATA_OK == 0)); then
    step tiny_pretrain 120 "$LOG_FT" "$PY" -m pretrain model=tiny data.blend="$DATA/notes" \
        data.vocab="$DATA/vocab" "data.split='90,10,0'" checkpoint.dir="$FT/pretrain" train.train_iters=60 \
        train.lr=1e-3 train.micro_batch_size=16 train.global_batch_size=16 train.precision=bf16 \
        logging.log_interval=10 &&
        step export 90 "$LOG_FT" "$PY" -m pretrain.export checkpoint="$FT/pretrain" output="$FT/hf" \
            verify=true &&
        ENCODER="tiny (2 layers, 64 wide), 60 bf16 pretraining steps on the GPU, exported with verify=true"
else
    skip tiny_pretrain "no data"
fi
if [[ $ENCODER == none ]]; then
    vocab=$DATA/vocab
    [[ -f $vocab/tokenizer.json ]] || vocab=bench_out/ner_infer/vocab
    if step random_encoder 60 "$LOG_FT" "$PY" - "$vocab" "$FT/hf" <<'EOF'
import sys

from transformers import AutoTokenizer, MegatronBertConfig, MegatronBertForMaskedLM

vocab, output = sys.argv[1:3]
tokenizer = AutoTokenizer.from_pretrained(vocab)
config = MegatronBertConfig(vocab_size=len(tokenizer), hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                            intermediate_size=1024, max_position_embeddings=512)
MegatronBertForMaskedLM(config).save_pretrained(output)
tokenizer.save_pretrained(output)
EOF
    then
        ENCODER="random (4 layers, 256 wide): the tiny pretraining or its export failed"
    fi
fi
step annotated 60 "$LOG_FT" "$PY" -m synthetic.annotated output_dir="$FT/annotated" 'corpora=[i2b2_2014]' \
    documents=160 seed=0 overwrite=true
if [[ $ENCODER != none && -d $FT/annotated/i2b2_2014 ]]; then
    step finetune 180 "$LOG_FT" "$PY" -m finetune task=deid_2014 model="$FT/hf" \
        data_dir="$FT/annotated/i2b2_2014" output_dir="$FT/deid" overwrite=true device=cuda \
        task.trainer.precision=bf16 task.dataset.max_seq_length=128 task.dataset.stride=32 \
        task.head.kind=linear task.optim.lr=3e-3 task.trainer.epochs=4 task.trainer.early_stopping_patience=0
else
    skip finetune "no encoder or no corpus"
fi

# --- 4. Transformer Engine's spec: base_bf16's command line with model.spec=te, through pretrain_gpu's
# own functions so the figures are computed the same way
if [[ ! -s $WORK/te_version ]]; then
    skip te "TE not installed"
    echo "transformer_engine does not import: TE not installed (see setup_data.log)" >"$RES/te.log"
elif ((DATA_OK != 0)); then
    skip te "no data"
else
    inner=$(($(left) - 20))
    ((inner > 160)) && inner=160
    step te 180 "$RES/te.log" "$PY" - "$DATA/notes" "$DATA/vocab" "$WORK/te" "$STEPS" "$inner" <<'EOF'
import json
import sys
from pathlib import Path

sys.path.insert(0, "bench")
from pretrain_gpu import BASE, pretrain, summarize  # noqa: E402

blend, vocab, run_dir, steps, limit = sys.argv[1:6]
run_dir, steps = Path(run_dir), int(steps)
run_dir.mkdir(parents=True, exist_ok=True)
args = {"data.blend": blend, "data.vocab": vocab, "warmup": "8", "timeout_s": limit}
overrides = [*BASE, "train.precision=bf16", "model.spec=te"]
code, seconds = pretrain(run_dir, [*overrides, "checkpoint.enabled=false"], steps, args, "train.log")
result = {"overrides": overrides, "exit_code": code, "wall_s": round(seconds, 1)}
if code == 0:
    result.update(summarize(run_dir, min(8, steps // 2)))
print((run_dir / "train.log").read_text(errors="replace")[-30000:])
(run_dir / "result.json").write_text(json.dumps(result, indent=2) + "\n")
print(json.dumps(result))
sys.exit(code)
EOF
fi

# --- the summary: one JSON file with a Markdown table for bench/RESULTS.md
TOTAL=$((SECONDS - START))
timeout 60 "$PY" - "$WORK" "$RES" "$ROOT" "$BUDGET" "$TOTAL" "$ENCODER" <<'EOF'
import json
import subprocess
import sys
import time
from pathlib import Path

work, res, root = map(Path, sys.argv[1:4])
budget, total, encoder = int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]


def load(path):
    try:
        return json.loads(Path(path).read_text())
    except Exception:
        return None


def git(*args):
    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:
        return ""


def top_kernels(run_dir, count=3):
    profile = load(Path(run_dir) / "profile.json") or {}
    return [f"{entry['name'][:60]} {entry['share']:.0%}" for entry in profile.get("top", [])[:count]]


steps = {}
for line in (work / "steps.jsonl").read_text().splitlines():
    if line.strip():
        entry = json.loads(line)
        steps[entry.pop("step")] = {k: v for k, v in entry.items() if v is not None}
report = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
          "commit": git("rev-parse", "--short", "HEAD") or "unknown",
          "uncommitted_files": len(git("status", "--porcelain").splitlines()) if git("rev-parse", "HEAD") else None,
          "environment": load(work / "env.json"), "budget_s": budget, "total_s": total, "steps": steps}

vocab, stats = load(work / "data/vocab/report.json") or {}, load(work / "data/notes.stats.json") or {}
report["data"] = {"vocab_size": vocab.get("vocab_size"),
                  "padded_vocab_size": (vocab.get("padded_vocab_size") or {}).get("tp1"),
                  **{key: stats.get(key) for key in ("documents", "sentences", "tokens")}}

pretrain = load(work / "pretrain_gpu/results.json") or {}
runs = dict(pretrain.get("runs", {}))
for name in runs:
    runs[name]["top_kernels"] = top_kernels(work / "pretrain_gpu" / name)
te = load(work / "te/result.json")
if te is not None:
    te["top_kernels"] = top_kernels(work / "te")
    runs["base_bf16_te"] = te
report["pretrain"] = {"environment": pretrain.get("environment"), "steps": None, "runs": runs}
before, after = runs.get("base_bf16_unfused", {}), runs.get("base_bf16", {})
if before.get("tokens_per_s") and after.get("tokens_per_s"):
    report["pretrain"]["speedup_base_bf16_over_unfused"] = round(after["tokens_per_s"] / before["tokens_per_s"], 3)
if runs:
    report["pretrain"]["steps"] = max((r.get("steps") or 0) for r in runs.values())

ner = load(root / "bench_out/ner_infer/result_cuda.json")
report["predict"] = ner if ner is not None else {"error": "no bench_out/ner_infer/result_cuda.json (see ner_infer.log)"}

summary = load(work / "finetune/deid/train_summary.json")
export = load(work / "finetune/hf/export_info.json") or {}
fine = {"encoder": encoder, "export_verify_max_abs_logit_diff": export.get("verify_max_abs_logit_diff")}
if summary:
    test = summary.get("test", {})
    fine.update(seconds=summary.get("seconds"), steps=summary.get("steps"), train_loss=summary.get("train_loss"),
                documents=summary.get("documents"), best_dev_strict_micro_f1=summary.get("best_dev_strict_micro_f1"),
                test_strict_micro=test.get("strict_micro"), test_relaxed_micro=test.get("relaxed_micro"),
                test_prediction=test.get("prediction"))
else:
    fine["error"] = "no train_summary.json (see finetune.log)"
report["finetune_bf16"] = fine
env = report["environment"] or {}
report["transformer_engine"] = ({"installed": env["transformer_engine_import"], "run": te}
                                if env.get("transformer_engine_import") else "TE not installed")

# The Markdown for bench/RESULTS.md (a missing figure must not cost the JSON above).
def table():
    gpu = env.get("gpu") or env.get("nvidia_smi") or "GPU unknown"
    lines = [f"**{report['date'][:10]}; one {gpu}, torch {env.get('torch')} + CUDA {env.get('cuda')}, "
             f"megatron-core {env.get('megatron-core')}, transformers {env.get('transformers')}, "
             f"{(pretrain.get('environment') or {}).get('layer_spec', '?')} spec; vocabulary "
             f"{report['data']['vocab_size']} (padded {report['data']['padded_vocab_size']}).** "
             f"gatortron_base, micro-batch 32, sequence 512, medians after step 8 of {report['pretrain']['steps']}.",
             "", "| run | s/step | tokens/s | model TFLOP/s | MFU | GiB | lm loss | ok |", "|---|---|---|---|---|---|---|---|"]
    for name in ("base_bf16_unfused", "base_bf16", "base_bf16_te"):
        r = runs.get(name)
        if not r:
            continue
        if r.get("exit_code"):
            lines.append(f"| {name} | exit {r['exit_code']} | | | | | | no |")
            continue
        mfu = f"{r['mfu']:.1%}" if r.get("mfu") is not None else "–"
        lines.append(f"| {name} | {r['step_s']:.3f} | {r['tokens_per_s']:,.0f} | {r['tflops']:.1f} | {mfu} | "
                     f"{r['memory_gib']:.1f} | {r['lm_loss_first']:.2f} → {r['lm_loss_last']:.2f} | "
                     f"{'yes' if r.get('ok', r.get('finite') and r.get('loss_falls')) else 'no'} |")
    if "speedup_base_bf16_over_unfused" in report["pretrain"]:
        lines.append(f"\nbase_bf16 / base_bf16_unfused tokens/s: {report['pretrain']['speedup_base_bf16_over_unfused']}×")
    if ner is not None:
        lines += ["", f"`predict` path, 12-layer / 768 MegatronBert, {ner.get('notes')} notes, {ner.get('tokens'):,} "
                  f"subwords, batch {ner.get('batch_size')}, on {ner.get('device')}:", "",
                  "| precision | tokens/s | GPU peak GiB | entities as the reference |", "|---|---:|---:|---:|"]
        for precision, row in (ner.get("ours") or {}).items():
            lines.append(f"| {precision} | {row.get('tokens_per_s'):,.0f} | {row.get('gpu_peak_memory_gib', '–')} | "
                         f"{row.get('agreement_of_reference_entities')} ({ner.get('reference')}) |")
        ours = ner.get("ours") or {}
        if ours.get("fp32", {}).get("tokens_per_s") and ours.get("bf16", {}).get("tokens_per_s"):
            report["predict_bf16_over_fp32"] = round(ours["bf16"]["tokens_per_s"] / ours["fp32"]["tokens_per_s"], 2)
            lines.append(f"\nbf16 / fp32 tokens/s: {report['predict_bf16_over_fp32']}×")
    if summary:
        strict = (fine.get("test_strict_micro") or {}).get("f1")
        documents = " / ".join(f"{count} {split}" for split, count in (fine.get("documents") or {}).items()
                               if split in ("train", "dev", "test"))
        lines += ["", f"bf16 fine-tune, deid_2014 on synthetic notes ({documents} documents), 4 epochs, on the GPU; "
                  f"encoder: {encoder}: {fine['seconds']} s, {fine['steps']} steps, test strict micro F1 "
                  f"{strict if strict is None else round(strict, 4)}."]
    lines.append("\nTransformer Engine: " + (f"{env['transformer_engine_import']} (row base_bf16_te)"
                                             if env.get("transformer_engine_import") else "not installed"))
    return "\n".join(lines)


try:
    report["table_markdown"] = table()
except Exception as error:
    report["table_markdown"] = f"(no table: {type(error).__name__}: {error})"

(res / "gpu_check.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
print("\n" + report["table_markdown"])
print("\nsteps: " + ", ".join(f"{name} {s.get('exit_code', s.get('skipped'))}" for name, s in steps.items()))
failed = [name for name, s in steps.items() if s.get("exit_code") not in (0, None)]
print(f"summary: {res / 'gpu_check.json'}; {len(failed)} step(s) failed{': ' + ', '.join(failed) if failed else ''}")
sys.exit(1 if failed else 0)
EOF
rc=$?
# Should the summary itself fail, the step records still come back as one JSON file.
[[ -s $RES/gpu_check.json ]] ||
    printf '{"error": "the summary failed (exit %s); see the logs", "steps": [%s]}\n' "$rc" \
        "$(paste -sd, "$STEPLOG")" >"$RES/gpu_check.json"
note "done in $((SECONDS - START))s; files: $(cd "$RES" && printf '%s ' *)"
exit "$rc"
