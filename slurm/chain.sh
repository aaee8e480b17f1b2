#!/usr/bin/env bash
# Submit the whole chain as Slurm jobs tied by dependencies, from a login node:
#   vocabulary -> one preprocess array per corpus -> its merge -> blend -> pretrain -> HF export
#   -> fine-tuning (when FINETUNE_DATA is given)
# Each job starts only when the one before succeeded (afterok); a failed job leaves the rest pending
# with Reason=DependencyNeverSatisfied (cancel them with scancel). Settings are KEY=VALUE arguments or
# environment variables of the same name:
#   WORK_DIR         where everything goes (required): vocab/, data/ (shards, merged datasets,
#                    blend.yaml, blend.json), pretrain/ (checkpoints), hf/, finetune/, logs/ (one
#                    <job name>-<job id>.out per job, <job name>-<array id>_<task>.out per array task)
#   NOTES PUBMED WIKIPEDIA  the corpora (a path or a quoted glob each; at least one)
#   SHARDS           array tasks per corpus (default 4)
#   VOCAB_ARGS PREP_ARGS PRETRAIN_ARGS EXPORT_ARGS FINETUNE_ARGS  more Hydra overrides for a stage,
#                    e.g. PRETRAIN_ARGS="model=gatortron_base train.train_iters=250000 parallel.tensor=2"
#   FINETUNE_DATA FINETUNE_TASK  an annotated corpus and its recipe (default deid_2014)
#   SBATCH_ARGS      sbatch options for every job (partition, account, QoS, ...)
#   VOCAB_SBATCH PREP_SBATCH MERGE_SBATCH BLEND_SBATCH PRETRAIN_SBATCH EXPORT_SBATCH FINETUNE_SBATCH
#                    sbatch options for one stage, e.g. PRETRAIN_SBATCH="--nodes=16 --gpus-per-node=8 --time=04:00:00"
#   DRY_RUN=1        print the sbatch lines instead of submitting them
# Example:
#   slurm/chain.sh WORK_DIR=/runs/gt NOTES='/data/notes/*.tsv' PUBMED='/data/pubmed/*.xml.gz' SHARDS=32 \
#     SBATCH_ARGS="--account=clinical" PRETRAIN_SBATCH="--nodes=16 --gpus-per-node=8 --time=04:00:00" \
#     PRETRAIN_ARGS="model=gatortron_medium" FINETUNE_DATA=/data/i2b2_2014
# The jobs' environment (CONTAINER_IMAGE, LAUNCHER, GATORTRON_PYTHON: see slurm/common.sh) is this
# shell's. Prints one line per job (name, id) and writes them to WORK_DIR/logs/jobs.tsv.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SETTINGS=(WORK_DIR NOTES PUBMED WIKIPEDIA SHARDS VOCAB_ARGS PREP_ARGS PRETRAIN_ARGS EXPORT_ARGS
          FINETUNE_ARGS FINETUNE_DATA FINETUNE_TASK SBATCH_ARGS VOCAB_SBATCH PREP_SBATCH MERGE_SBATCH
          BLEND_SBATCH PRETRAIN_SBATCH EXPORT_SBATCH FINETUNE_SBATCH DRY_RUN)
fail() { echo "$(basename "$0"): $*" >&2; exit 2; }
for argument in "$@"; do
  key=${argument%%=*}
  [[ "$argument" == *=* ]] && [[ " ${SETTINGS[*]} " == *" $key "* ]] ||
    fail "unknown setting ${key} (settings: ${SETTINGS[*]})"
  printf -v "$key" '%s' "${argument#*=}"
done
SHARDS=${SHARDS:-4}
FINETUNE_TASK=${FINETUNE_TASK:-deid_2014}
[ -n "${WORK_DIR:-}" ] || fail "WORK_DIR is required"
[ -n "${NOTES:-}${PUBMED:-}${WIKIPEDIA:-}" ] || fail "give at least one corpus: NOTES, PUBMED or WIKIPEDIA"
[[ "$SHARDS" =~ ^[1-9][0-9]*$ ]] || fail "SHARDS must be a positive number"
WORK_DIR=$(realpath -m "$WORK_DIR")
LOGS=$WORK_DIR/logs
if [ "${DRY_RUN:-0}" != 1 ]; then
  mkdir -p "$LOGS" "$WORK_DIR/data"  # sbatch fails a job whose --output folder is missing
  : > "$LOGS/jobs.tsv"
fi

words() { read -r -a "$1" <<< "${2:-}"; }  # a setting's words, split at spaces
words common "${SBATCH_ARGS:-}"
# submit NAME SBATCH_OPTIONS... -- SCRIPT ARGS...: the job's id (a made-up one under DRY_RUN=1)
submit() {
  local name=$1 options=() script
  shift
  while [ "$1" != -- ]; do options+=("$1"); shift; done
  shift
  script=$1
  shift
  local command=(sbatch --parsable "${common[@]}" --job-name="gatortron-$name" "${options[@]}" "$script" "$@")
  if [ "${DRY_RUN:-0}" = 1 ]; then
    printf '%q ' "${command[@]}" >&2; echo >&2
    echo "<$name>"
    return
  fi
  local id
  id=$("${command[@]}") || fail "sbatch of the $name job failed"
  id=${id%%;*}
  printf '%s\t%s\n' "$name" "$id" >> "$LOGS/jobs.tsv"
  echo "$(date +%T) submitted $name: job $id" >&2
  echo "$id"
}
log_of() { echo "--output=$LOGS/%x-%j.out"; }
array_log_of() { echo "--output=$LOGS/%x-%A_%a.out"; }

inputs=()
for corpus in NOTES PUBMED WIKIPEDIA; do
  [ -n "${!corpus:-}" ] && inputs+=("${!corpus}")
done
vocab_input=$(IFS=,; echo "[${inputs[*]}]")
words extra "${VOCAB_SBATCH:-}"; words args "${VOCAB_ARGS:-}"
vocab=$(submit vocab "${extra[@]}" "$(log_of)" -- "$HERE/vocab.sbatch" "input=$vocab_input" \
        "output_dir=$WORK_DIR/vocab" "${args[@]}")

merges=()
blend_yaml=$WORK_DIR/data/blend.yaml
[ "${DRY_RUN:-0}" = 1 ] || echo "corpora:" > "$blend_yaml"
for corpus in NOTES PUBMED WIKIPEDIA; do
  [ -n "${!corpus:-}" ] || continue
  source=${corpus,,}
  prefix=$WORK_DIR/data/$source
  words extra "${PREP_SBATCH:-}"; words args "${PREP_ARGS:-}"
  prep=$(submit "preprocess-$source" --array=0-$((SHARDS - 1)) --dependency=afterok:"$vocab" "${extra[@]}" \
         "$(array_log_of)" -- "$HERE/preprocess.sbatch" "source=$source" "input=${!corpus}" \
         "vocab=$WORK_DIR/vocab" "output_prefix=$prefix" "${args[@]}")
  if [ "$SHARDS" -eq 1 ]; then  # one shard writes the dataset itself: nothing to merge
    merges+=("$prep")
  else
    words extra "${MERGE_SBATCH:-}"
    merges+=("$(submit "merge-$source" --dependency=afterok:"$prep" "${extra[@]}" "$(log_of)" -- \
                "$HERE/merge.sbatch" "inputs=${prefix}_shard*" "output_prefix=$prefix")")
  fi
  [ "${DRY_RUN:-0}" = 1 ] || printf '  - {name: %s, prefix: %s}\n' "$source" "$prefix" >> "$blend_yaml"
done
words extra "${BLEND_SBATCH:-}"
blend=$(submit blend --dependency="afterok:$(IFS=:; echo "${merges[*]}")" "${extra[@]}" "$(log_of)" -- \
        "$HERE/blend.sbatch" "blend=$blend_yaml" "output=$WORK_DIR/data/blend.json")

words extra "${PRETRAIN_SBATCH:-}"; words args "${PRETRAIN_ARGS:-}"
pretrain=$(submit pretrain --dependency=afterok:"$blend" "${extra[@]}" "$(log_of)" -- \
           "$HERE/pretrain.sbatch" "data.blend=$WORK_DIR/data/blend.json" "data.vocab=$WORK_DIR/vocab" \
           "checkpoint.dir=$WORK_DIR/pretrain" "${args[@]}")
words extra "${EXPORT_SBATCH:-}"; words args "${EXPORT_ARGS:-}"
export_job=$(submit export --dependency=afterok:"$pretrain" "${extra[@]}" "$(log_of)" -- \
             "$HERE/hf_convert.sbatch" export "checkpoint=$WORK_DIR/pretrain" "output=$WORK_DIR/hf" "${args[@]}")
if [ -n "${FINETUNE_DATA:-}" ]; then
  words extra "${FINETUNE_SBATCH:-}"; words args "${FINETUNE_ARGS:-}"
  submit finetune --dependency=afterok:"$export_job" "${extra[@]}" "$(log_of)" -- "$HERE/finetune.sbatch" \
    "task=$FINETUNE_TASK" "model=$WORK_DIR/hf" "data_dir=$FINETUNE_DATA" "output_dir=$WORK_DIR/finetune" \
    "${args[@]}" > /dev/null
fi
echo "$(date +%T) jobs in $LOGS/jobs.tsv; logs in $LOGS" >&2
