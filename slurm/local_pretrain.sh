#!/usr/bin/env bash
# Pretraining on this machine without Slurm: one process per GPU (or one CPU process when there is
# no GPU, or NPROC=<n> to choose). Every Hydra override is passed through, e.g.
#   slurm/local_pretrain.sh data.blend=demo_out/data/blend.json data.vocab=demo_out/vocab \
#     checkpoint.dir=runs/local "data.split='90,10,0'"
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${GATORTRON_PYTHON:-$REPO/.venv/bin/python}
NPROC=${NPROC:-$(nvidia-smi -L 2>/dev/null | wc -l)}
[ "${NPROC:-0}" -gt 0 ] || NPROC=1
cd "$REPO"
if [ "$NPROC" -eq 1 ]; then
  exec "$PYTHON" -m pretrain "$@"
fi
exec "$PYTHON" -m torch.distributed.run --standalone --nproc-per-node="$NPROC" -m pretrain "$@"
