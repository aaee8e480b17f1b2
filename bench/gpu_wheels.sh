#!/usr/bin/env bash
# Fetches, on a machine with a package index, the wheels that bench/gpu_check.sh installs on the lent
# GPU machine. That machine has no network; its image (Python 3.12, x86-64) holds torch, transformers,
# accelerate, tokenizers, sentencepiece, safetensors, numpy, psutil, regex, rich, tensorboard, tqdm and
# pyyaml, but none of the project dependencies below (/work/.library/device/KINDS.md). Versions are the
# ones this repository's .venv is tested with. About 4.2 MiB in all.
#
#   bench/gpu_wheels.sh          # -> .whl/ (kept out of git by .git/info/exclude; name .whl in carry)
#
# Override the target interpreter with GPU_PYTHON=3.12 (the default) and the local one with PY=python3.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
TARGET=${GPU_PYTHON:-3.12}

exclude=$(git rev-parse --git-path info/exclude)
mkdir -p "$(dirname "$exclude")"
grep -qxF '/.whl/' "$exclude" 2>/dev/null || echo '/.whl/' >>"$exclude"
rm -rf .whl
mkdir .whl

# pip matches manylinux tags exactly: megatron-core's wheel is 2_24/2_28, the others 2_17/2014 or abi3.
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version "$TARGET" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
    -d .whl megatron-core==0.16.1 hydra-core==1.3.8 omegaconf==2.3.1 mwparserfromhell==0.7.2 nanotoken==0.1.0
# omegaconf needs antlr4-python3-runtime 4.9.*, which PyPI has as a source archive only: built here
# into a pure-Python (py3-none-any) wheel.
"$PY" -m pip wheel -q --no-deps -w .whl antlr4-python3-runtime==4.9.3

ls -l .whl
du -sh .whl
