# Sourced by every script in slurm/ once it has found the checkout ($REPO): which Python runs a stage,
# and how it is launched. Every setting is an environment variable (sbatch passes the submitting
# shell's environment to the job); all are optional:
#   GATORTRON_PYTHON     the Python to run (default: $REPO/.venv/bin/python, else python3 on the PATH,
#                        which is what a container image provides)
#   CONTAINER_IMAGE      run the stage inside this image through pyxis (srun --container-image=...)
#   CONTAINER_MOUNTS     pyxis' --container-mounts (default: the checkout and the submit directory, each
#                        at its own path; add your data folders)
#   LAUNCHER             a command put in front of Python, e.g. "singularity exec --nv /images/gt.sif"
#                        or "apptainer exec --nv --bind /data /images/gt.sif"
#   GATORTRON_DRY_RUN=1  print the command that would run (one line) and exit 0
# The stage runs in the submit directory, so relative paths in its arguments are relative to where
# sbatch was run, and it finds the code through PYTHONPATH even when Python was installed elsewhere.

if [ ! -f "$REPO/pyproject.toml" ] || [ ! -d "$REPO/slurm" ]; then
  echo "$(basename "$0"): $REPO is not a GatorTron checkout; set GATORTRON_REPO" >&2
  exit 2
fi
if [ -n "${CONTAINER_IMAGE:-}" ] && [ -n "${LAUNCHER:-}" ]; then
  echo "$(basename "$0"): set CONTAINER_IMAGE or LAUNCHER, not both" >&2
  exit 2
fi
if [ -n "${GATORTRON_PYTHON:-}" ]; then
  PYTHON=$GATORTRON_PYTHON
elif [ -z "${CONTAINER_IMAGE:-}${LAUNCHER:-}" ] && [ -x "$REPO/.venv/bin/python" ]; then
  PYTHON=$REPO/.venv/bin/python
else
  PYTHON=python3
fi
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1  # log lines reach the job's output file as they happen
if [ -n "${SLURM_CPUS_PER_TASK:-}" ]; then
  export OMP_NUM_THREADS=$SLURM_CPUS_PER_TASK  # torch's threads: the CPUs asked for, not the whole node
fi

# The words put in front of a command: a pyxis srun step, or the LAUNCHER prefix, or nothing.
CONTAINER_SRUN=()
if [ -n "${CONTAINER_IMAGE:-}" ]; then
  CONTAINER_SRUN=(--container-image="$CONTAINER_IMAGE"
                  --container-mounts="${CONTAINER_MOUNTS:-$REPO:$REPO,$PWD:$PWD}"
                  --container-workdir="$PWD")
fi
read -r -a LAUNCHER_WORDS <<< "${LAUNCHER:-}"

gpus_on_node() {  # the GPUs of this job on this node: Slurm's count, else what nvidia-smi lists, else 0
  if [ -n "${SLURM_GPUS_ON_NODE:-}" ]; then
    echo "$SLURM_GPUS_ON_NODE"
  elif command -v nvidia-smi > /dev/null; then
    nvidia-smi -L 2> /dev/null | grep -c '^GPU' || :
  else
    echo 0
  fi
}

job_banner() {  # one line at the top of the job's log: what runs where (no argument values)
  echo "$(date '+%F %T') ${SLURM_JOB_NAME:-$(basename "$0")} job ${SLURM_JOB_ID:-none}${SLURM_ARRAY_TASK_ID:+ task $SLURM_ARRAY_TASK_ID}" \
       "restart ${SLURM_RESTART_COUNT:-0} on $(hostname -s): code $REPO, python $PYTHON" \
       "${CONTAINER_IMAGE:+in container $CONTAINER_IMAGE}${LAUNCHER:+through $LAUNCHER}"
}

# Run one Python process of a stage in place of the script: `run_python -m data_prep key=value ...`.
run_python() {
  local command=("${LAUNCHER_WORDS[@]}" "$PYTHON" "$@")
  if [ ${#CONTAINER_SRUN[@]} -gt 0 ]; then
    command=(srun --ntasks=1 --nodes=1 "${CONTAINER_SRUN[@]}" "${command[@]}")
  fi
  if [ "${GATORTRON_DRY_RUN:-0}" = 1 ]; then
    printf '%q ' "${command[@]}"; echo
    exit 0
  fi
  job_banner
  exec "${command[@]}"
}
