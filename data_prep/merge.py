"""Join shard datasets into one, in order, dropping documents already present in an earlier
shard (exact duplicates across shards), so shard + merge gives what a single run gives.

    python -m data_prep.merge 'inputs=data/notes_shard*' output_prefix=data/notes

Shards without cross-shard duplicates are copied file to file; the others document by document.
"""

from __future__ import annotations

import glob
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import hydra
from omegaconf import MISSING, DictConfig

from data_prep.indexed_writer import (
    IndexedDatasetWriter,
    check_dataset_files,
    is_complete,
    read_hashes,
    read_stats,
)
from gatortron_common.cli import run_command, run_stage
from gatortron_common.logging import InputError, get_logger
from gatortron_common.settings import HYDRA_VERSION, config_dir, register_schema
from tokenizer.vocab import check_same_vocabulary

logger = get_logger("data_prep.merge")


@dataclass
class MergeConfig:
    """Attributes:
        inputs: shard prefixes, or globs matching their files (merged in sorted order).
        output_prefix: the merged dataset.
        overwrite: rebuild an output that is already complete.
        log_level: logging level.
    """

    inputs: Any = MISSING  # str or list of str
    output_prefix: str = MISSING
    overwrite: bool = False
    log_level: str = "INFO"


register_schema("merge_schema", MergeConfig)


def shard_prefixes(inputs: str | list[str]) -> list[str]:
    """Sorted, de-duplicated prefixes named by `inputs` (a prefix or a glob over its files).

    Raises:
        InputError: nothing matches, a shard is incomplete, or its files disagree with its index.
    """
    patterns = [inputs] if isinstance(inputs, str) else list(inputs)
    prefixes: set[str] = set()
    for pattern in patterns:
        matches = glob.glob(pattern) + glob.glob(pattern + ".idx")
        found = {m[: -len(".idx")] for m in matches if m.endswith(".idx")}
        if not found:
            raise InputError(f"{pattern}: matches no dataset (.idx)")
        prefixes |= found
    for prefix in sorted(prefixes):
        if not is_complete(prefix):
            raise InputError(f"{prefix}: incomplete shard (rerun its data_prep job)")
        check_dataset_files(prefix)
    return sorted(prefixes)


def check_same_vocabularies(prefixes: list[str], stats: list[dict], what: str = "dataset") -> None:
    """Refuse datasets tokenized with different vocabularies: by the recorded identity (content
    hash, size, casing); datasets from before it was recorded are compared by vocabulary path.

    Raises:
        InputError: naming two datasets that differ.
    """
    identities = [s.get("vocabulary") for s in stats]
    if all(identities):
        for prefix, identity in zip(prefixes[1:], identities[1:], strict=True):
            check_same_vocabulary(identities[0], identity, f"{what} {prefixes[0]}", f"{what} {prefix}")
        return
    paths = {str(s.get("vocab")) for s in stats}
    if len(paths) > 1:
        raise InputError(f"{what}s were tokenized with different vocabularies: {sorted(paths)}")


def dataset_dtype(prefix: str) -> type:
    """The token dtype of an indexed dataset."""
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    return IndexedDataset(prefix).index.dtype


def append_datasets(writer: IndexedDatasetWriter, prefixes: list[str], dedup: bool) -> int:
    """Append complete datasets to `writer` in order; with `dedup`, documents whose content hash
    appeared in an earlier one are dropped. Returns how many were dropped.

    Datasets without such duplicates are copied file to file; the others document by document.
    """
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    seen: set[bytes] = set()
    duplicates = 0
    for prefix in prefixes:
        stats, hashes = read_stats(prefix), read_hashes(prefix)
        if not len(hashes):
            continue  # an empty dataset (every record skipped): nothing to copy, and no .bin to map
        keys = [bytes(row) for row in hashes]
        if not dedup or not any(key in seen for key in keys):
            writer.add_dataset(prefix, hashes, stats["sentences"], stats["tokens"])
        else:
            dataset = IndexedDataset(prefix)
            bounds = dataset.document_indices
            for document, key in enumerate(keys):
                if key in seen:
                    duplicates += 1
                    continue
                writer.add_document([dataset[i] for i in range(bounds[document], bounds[document + 1])], key)
        if dedup:
            seen.update(keys)
    return duplicates


def merge_datasets(cfg: MergeConfig) -> dict:
    """Merge the shards named by `cfg.inputs` into `cfg.output_prefix`; return the merged stats."""
    started = time.perf_counter()
    if is_complete(cfg.output_prefix) and not cfg.overwrite:
        logger.info("%s is complete; skipping (overwrite=true rebuilds it)", cfg.output_prefix)
        return read_stats(cfg.output_prefix)
    prefixes = shard_prefixes(cfg.inputs)
    shard_stats = [read_stats(p) for p in prefixes]
    check_same_vocabularies(prefixes, shard_stats, "shard")
    writer = IndexedDatasetWriter(cfg.output_prefix, dataset_dtype(prefixes[0]))
    try:
        duplicates = append_datasets(writer, prefixes, dedup=True)
        skipped: Counter = Counter()
        for stats in shard_stats:
            skipped.update(stats["skipped"]["by_reason"])
        if duplicates:
            skipped["duplicate_across_shards"] += duplicates
        shared = ("source", "token_dtype", "vocab", "lowercase", "unicode_normalization")
        merged = {
            **{key: shard_stats[0][key] for key in shared}, "vocabulary": shard_stats[0].get("vocabulary"),
            "output_prefix": cfg.output_prefix,
            "shards": prefixes, "files": sum(s["files"] for s in shard_stats),
            "bytes_in": sum(s["bytes_in"] for s in shard_stats),
            "chars_in": sum(s["chars_in"] for s in shard_stats), "documents": writer.documents,
            "sentences": writer.sentences, "tokens": writer.tokens,
            "skipped": {"total": sum(skipped.values()), "by_reason": dict(skipped)},
            "seconds": round(time.perf_counter() - started, 3),
        }
        writer.commit(merged)
    except BaseException:
        writer.abort()
        raise
    logger.info("merged %d shard(s): %d documents, %d sentences, %d tokens (%d duplicates across shards) "
                "-> %s", len(prefixes), writer.documents, writer.sentences, writer.tokens, duplicates,
                cfg.output_prefix)
    return merged


@hydra.main(config_path=config_dir("data_prep"), config_name="merge", version_base=HYDRA_VERSION)
def main(cfg: DictConfig) -> None:
    run_stage(cfg, merge_datasets, "data_prep.merge")


if __name__ == "__main__":
    run_command(main, MergeConfig)
