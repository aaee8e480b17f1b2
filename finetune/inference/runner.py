"""What `finetune.predict` and `finetune.deid` share: one sharded, streamed inference run.

- `InferenceRunConfig`: the settings both commands take (how fast, which shard, replace or not),
  stated once; each command's settings dataclass extends it.
- `gatortron_common.shards.Shard`: this task's shard (the settings, else the Slurm array) and its
  outputs (`{shard}`). Shard
  i of n takes the i-th contiguous part of the input, so the shards' outputs joined in order hold
  what one run writes: a range of a folder's sorted files; of a single line-based file (JSONL,
  CSV/TSV), the records whose first line starts in the i-th range of its bytes (a JSONL task seeks
  to its range and reads only that; a CSV task parses from the top, since a quoted cell may hold a
  newline, and stops at its range's end); formats read whole, a range of their documents.
- `load_predictor`: the model behind the prediction fast path (`finetune.inference.predictor.Predictor`).
- `RunMarker`: written last, it says every output is complete and records what made them; a rerun of
  the identical run skips, a marker of another run is refused (its outputs would pass for this one's).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finetune.inference.int8 import runtime_version
from finetune.inference.predictor import LongNoteProgress, Predictor, check_precision, resolve_device
from finetune.models.ner import load_ner_model
from gatortron_common.atomic import atomic_open
from gatortron_common.fingerprint import files_fingerprint
from gatortron_common.logging import InputError
from gatortron_common.shards import Shard

# Settings that do not change what is written (how fast, how loud, whether to replace).
RUN_NEUTRAL = frozenset({"overwrite", "log_level", "batch_size", "batch_tokens", "device", "chunk_documents",
                         "int8_cache"})


@dataclass
class InferenceRunConfig:
    """Settings every inference command takes (`finetune.predict`, `finetune.deid`).

    Attributes:
        batch_size: the most windows per forward pass.
        batch_tokens: the most tokens per forward pass (0 = no limit; None = 512 on a CPU, no
            limit on a GPU).
        precision: `fp32`, `bf16` (autocast; fast on CPUs with bf16 units and on GPUs), `fp16` (GPU)
            or `int8` (CPU: ONNX Runtime with int8 weights, ~5x fp32's tokens/s on 2 cores; the graph
            is built once per model and cached, see `finetune.inference.int8`).
        int8_cache: the folder int8 graphs are cached in, keyed by the model's files (null:
            `$XDG_CACHE_HOME/gatortron/int8`, else `~/.cache/gatortron/int8`).
        device: `auto` (a GPU when there is one; the CPU for precision=int8), `cpu`, `cuda` or `cuda:N`.
        chunk_documents: documents read and processed together.
        shard_index: this task's shard, the shard_index-th contiguous part of the input (None: the
            Slurm array task, else 0); `{shard}` in the outputs names each shard's own.
        shard_count: number of shards (None: the Slurm array's size, else 1).
        overwrite: replace existing outputs (an identical finished run is skipped, not redone).
        log_level: logging level.
    """

    batch_size: int = 16
    batch_tokens: int | None = None
    precision: str = "fp32"
    device: str = "auto"
    int8_cache: str | None = None
    chunk_documents: int = 64
    shard_index: int | None = None
    shard_count: int | None = None
    overwrite: bool = False
    log_level: str = "INFO"


def shard_of(settings: InferenceRunConfig) -> Shard:
    """This task's shard: from the settings, else the Slurm array, else the only one."""
    return Shard.of(settings.shard_index, settings.shard_count)


def check_inference_settings(settings: InferenceRunConfig) -> None:
    """Raises InputError naming the first bad batching setting."""
    for name in ("chunk_documents", "batch_size"):
        if getattr(settings, name) < 1:
            raise InputError(f"{name}={getattr(settings, name)}: must be at least 1")
    if settings.batch_tokens is not None and settings.batch_tokens < 0:
        raise InputError(f"batch_tokens={settings.batch_tokens}: must be 0 (no limit) or positive")
    check_precision(settings.precision, resolve_device(settings.device, settings.precision))
    if settings.precision == "int8":
        runtime_version()  # onnxruntime is there


def load_predictor(model: str, settings: InferenceRunConfig, **options: Any) -> Predictor:
    """The fine-tuned model behind the prediction fast path, batched as the settings say."""
    return Predictor(load_ner_model(model), batch_size=settings.batch_size,
                     batch_tokens=settings.batch_tokens, precision=settings.precision, device=settings.device,
                     on_windows=LongNoteProgress(), int8_cache=settings.int8_cache, **options)


# --- the finished-run marker --------------------------------------------------------------------

def inputs_fingerprints(locations: dict[str, str | None]) -> dict[str, str]:
    """name -> fingerprint of each input that exists (model, notes, word lists, gold)."""
    return {name: files_fingerprint(Path(location))[0] for name, location in locations.items()
            if location is not None and Path(location).exists()}


@dataclass
class RunMarker:
    """`path` records a finished run: its identity (inputs' fingerprints and every setting that
    changes the output) and its summary."""

    path: Path
    identity: dict[str, Any]

    def finished(self, outputs: list[Path], overwrite: bool) -> dict[str, Any] | None:
        """The record of an identical finished run whose outputs are all there, or None (no marker,
        or overwrite=true).

        Raises:
            InputError: the marker is another run's, unreadable, or an output of it is missing.
        """
        if overwrite or not self.path.is_file():
            return None
        try:
            recorded = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            recorded = {}
        identity = recorded.get("identity") if isinstance(recorded, dict) else None
        if not isinstance(identity, dict):
            raise InputError(f"{self.path}: a finished-run marker this version cannot compare; set "
                             f"overwrite=true to redo the run")
        old_inputs, new_inputs = identity.get("inputs", {}), self.identity["inputs"]
        changed = [f"input {name}" for name in sorted({*old_inputs, *new_inputs})
                   if old_inputs.get(name) != new_inputs.get(name)]
        old, new = identity.get("settings", {}), self.identity["settings"]
        changed += sorted(key for key in {*old, *new} if old.get(key) != new.get(key))
        if changed:
            raise InputError(f"{self.path}: these outputs were finished by a run with another "
                             f"{', '.join(changed)}; set overwrite=true to redo it, or choose new outputs")
        missing = [str(path) for path in outputs if not path.exists()]
        if missing:
            raise InputError(f"{self.path}: the finished run's output {', '.join(missing)} is missing; set "
                             f"overwrite=true to redo it")
        return recorded

    def write(self, summary: dict[str, Any]) -> None:
        """Written last: its presence means every output of this run (or shard) is complete."""
        with atomic_open(self.path, "w", encoding="utf-8") as handle:
            handle.write(json.dumps({"identity": self.identity, "summary": summary}, indent=2) + "\n")


def run_settings(values: dict[str, Any], neutral: Iterable[str] = ()) -> dict[str, Any]:
    """The settings that change what a run writes, as JSON values (for `RunMarker.identity`)."""
    left_out = RUN_NEUTRAL | set(neutral)
    return json.loads(json.dumps({key: value for key, value in values.items() if key not in left_out},
                                 default=str))
