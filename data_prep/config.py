"""Settings of the data_prep stage (Hydra structured config; YAML in configs/data_prep/)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omegaconf import MISSING

from gatortron_common.settings import register_schema

# Which reader format each source uses ("auto": from the file names).
SOURCE_FORMATS = {"notes": "auto", "text": "text", "pubmed": "pubmed", "wikipedia": "wikipedia"}


@dataclass
class DataPrepConfig:
    """Turn a corpus into a Megatron indexed dataset (.bin/.idx): sequences are sentences,
    documents are notes / articles.

    Attributes:
        source: notes (CSV/TSV/JSONL/plain text), pubmed, wikipedia or text.
        input: file, glob, or list of them.
        vocab: tokenizer directory written by `python -m tokenizer` (vocab.txt + report.json, which
            records the casing), or a HF one (tokenizer_config.json's do_lower_case), or a vocab.txt.
        output_prefix: writes <prefix>.bin, <prefix>.idx and <prefix>.stats.json.
        text_key: JSONL key with the text.
        text_column: CSV/TSV column with the text.
        min_document_chars: documents shorter than this after cleaning are skipped.
        max_document_chars: documents longer than this are skipped and reported (a note of many
            MB is almost always an export error: concatenated notes, a binary blob).
        dedup: skip exact duplicate documents (content hash after cleaning).
        workers: processes on this node (0: SLURM_CPUS_PER_TASK, else all cores). The output is
            the same bytes for any number of workers.
        unit_mb: uncompressed JSONL files larger than this are cut into line ranges of about this
            size so that workers share a large file (other formats: one file per unit).
        batch_chars: characters split and tokenized together in one call.
        tokenizer_backend: auto (nanotoken, checked against HF tokenizers, else HF), nanotoken, hf.
        shard_index: this job's shard (0-based); default SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN,
            else 0. Shard i takes the i-th contiguous range of the sorted input files and writes
            <output_prefix>_shard<i>of<n>; `python -m data_prep.merge` joins them.
        shard_count: number of shards; default SLURM_ARRAY_TASK_COUNT, else 1.
        overwrite: rebuild an output that is already complete (a rerun skips it otherwise).
        strict: bad records raise instead of being counted and skipped.
        log_level: logging level.
    """

    source: str = "notes"
    input: Any = MISSING  # str or list of str: OmegaConf has no str|list union
    vocab: str = MISSING
    output_prefix: str = MISSING
    text_key: str = "text"
    text_column: str = "NOTE_TEXT"
    min_document_chars: int = 20
    max_document_chars: int = 5_000_000
    dedup: bool = True
    workers: int = 1
    unit_mb: float = 64.0
    batch_chars: int = 2_000_000
    tokenizer_backend: str = "auto"
    shard_index: int | None = None
    shard_count: int | None = None
    overwrite: bool = False
    strict: bool = False
    log_level: str = "INFO"


register_schema("data_prep_schema", DataPrepConfig)
