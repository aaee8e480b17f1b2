"""Masked-LM training data: megatron-core's `BERTMaskedWordPieceDataset` over the blend, built by
`BlendedMegatronDatasetBuilder` (rank 0 builds and caches the sample indices, the other ranks wait
and load them), read in micro-batches that resume at the exact consumed sample.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy
import torch
from megatron.core.datasets.bert_dataset import BERTMaskedWordPieceDataset, BERTMaskedWordPieceDatasetConfig
from megatron.core.datasets.blended_megatron_dataset_builder import BlendedMegatronDatasetBuilder
from megatron.core.datasets.indexed_dataset import IndexedDataset

from data_prep.blend import load_blend
from data_prep.indexed_writer import dataset_files, read_stats
from gatortron_common.lifetime import end_with_parent
from gatortron_common.logging import InputError
from pretrain.config import DataConfig, split_shares
from tokenizer.megatron_adapter import MegatronWordPieceTokenizer
from tokenizer.vocab import Vocabulary, check_same_vocabulary


def resolve_blend(blend: str | list[str]) -> tuple[list[str], list[float] | None]:
    """(prefixes, weights) from a blend JSON (python -m data_prep.blend output=...), a blend YAML,
    a single prefix, or a list of prefixes (equal weights)."""
    if isinstance(blend, str) and blend.endswith(".json"):
        if not Path(blend).is_file():
            raise InputError(f"data.blend={blend}: no such file")
        saved = json.loads(Path(blend).read_text(encoding="utf-8"))
        return list(saved["prefixes"]), list(saved["weights"])
    if isinstance(blend, str) and blend.endswith((".yaml", ".yml")):
        loaded = load_blend(blend)
        return loaded.prefixes, loaded.weights
    prefixes = [blend] if isinstance(blend, str) else list(blend)
    for prefix in prefixes:
        if not Path(f"{prefix}.idx").is_file():
            raise InputError(f"data.blend: {prefix} is not an indexed dataset (no {prefix}.idx)")
    return prefixes, None


def check_dataset_vocabularies(prefixes: list[str], vocab: Vocabulary, setting: str) -> None:
    """Refuse a blend with a dataset made with another vocabulary than `vocab` (its token ids would
    mean other tokens); datasets whose stats do not record theirs are not compared."""
    for prefix in prefixes:
        if not dataset_files(prefix)["stats.json"].is_file():
            continue
        check_same_vocabulary(read_stats(prefix).get("vocabulary"), vocab.identity(),
                              f"the dataset {prefix}", setting)


@dataclass(frozen=True)
class Splits:
    train: BERTMaskedWordPieceDataset
    valid: BERTMaskedWordPieceDataset | None


def build_datasets(data: DataConfig, seq_length: int, binary_head: bool, samples: tuple[int, int, int],
                   cache_dir: str, *, lowercase: bool) -> Splits:
    """Train / validation datasets with at least `samples` = (train, valid, test) samples;
    `lowercase`: the vocabulary is uncased (its `load_vocabulary(...).lowercase`)."""
    prefixes, weights = resolve_blend(data.blend)
    check_split(prefixes, data.split)
    tokenizer = MegatronWordPieceTokenizer(data.vocab, lowercase=lowercase)
    config = BERTMaskedWordPieceDatasetConfig(
        random_seed=data.seed, sequence_length=seq_length, blend=(prefixes, weights),
        split=data.split if isinstance(data.split, str) else ",".join(str(x) for x in data.split),
        path_to_cache=cache_dir, tokenizer=tokenizer, masking_probability=data.masking_probability,
        short_sequence_probability=data.short_sequence_probability, masking_max_ngram=data.masking_max_ngram,
        masking_do_full_word=data.masking_do_full_word, masking_do_permutation=data.masking_do_permutation,
        masking_use_longer_ngrams=data.masking_use_longer_ngrams,
        masking_use_geometric_distribution=data.masking_use_geometric_distribution,
        classification_head=binary_head)
    train, valid, _ = BlendedMegatronDatasetBuilder(BERTMaskedWordPieceDataset, list(samples), lambda: True,
                                                    config).build()
    return Splits(train, valid)


def check_split(prefixes: list[str], split: str | list) -> None:
    """Each dataset's documents are split train/valid/test as megatron-core splits them; a part
    with a non-zero share but no document would fail deep inside megatron-core, so say so here.
    `split` is well-formed (pretrain.config.validate)."""
    shares = split_shares(split)
    fractions = [x / sum(shares) for x in shares]
    for prefix in prefixes:
        documents = len(IndexedDataset(prefix).document_indices) - 1
        bounds = [0]
        for fraction in fractions:
            bounds.append(bounds[-1] + int(round(fraction * documents)))
        bounds = [0] + [b - (bounds[-1] - documents) for b in bounds[1:]]
        for name, fraction, first, last in zip(("train", "valid", "test"), fractions, bounds, bounds[1:],
                                               strict=False):
            if fraction > 0 and last <= first:
                raise InputError(f"data.split={split}: the {name} part of {prefix} ({documents} documents) "
                                 f"is empty; give that part 0 or a larger share (small corpora: 90,10,0)")


class RankBatches(torch.utils.data.Sampler):
    """Sample indices of one data-parallel rank's micro-batches from `consumed_samples` on, as
    Megatron's pretraining sampler deals them: each micro-step of micro_batch_size x
    data_parallel_size samples is split in rank order, so a resumed run continues at the exact
    sample whatever the number of loader workers."""

    def __init__(self, total: int, micro_batch_size: int, data_parallel_rank: int, data_parallel_size: int,
                 consumed_samples: int) -> None:
        self.total, self.micro_batch_size = total, micro_batch_size
        self.rank, self.size, self.consumed = data_parallel_rank, data_parallel_size, consumed_samples

    def __iter__(self) -> Iterator[list[int]]:
        step = self.micro_batch_size * self.size
        for position in range(self.consumed, self.total - step + 1, step):
            first = position + self.rank * self.micro_batch_size
            yield list(range(first, first + self.micro_batch_size))

    def __len__(self) -> int:
        return max(0, (self.total - self.consumed) // (self.micro_batch_size * self.size))


def micro_batches(dataset, micro_batch_size: int, data_parallel_rank: int, data_parallel_size: int,
                  consumed_samples: int, workers: int = 0) -> Iterator[dict[str, torch.Tensor]]:
    """Micro-batches for one data-parallel rank from `consumed_samples` on; with `workers` > 0,
    loader processes build (mask) the next samples while the model computes."""
    sampler = RankBatches(len(dataset), micro_batch_size, data_parallel_rank, data_parallel_size,
                          consumed_samples)
    # Its own generator: the loader must not draw from the global one, which drives dropout (and is
    # restored exactly on resume). Workers are forked: spawn or forkserver would pickle the dataset,
    # whose sample indices (memory-mapped, tens of GB for a GatorTron-size run) would be copied whole.
    if workers:
        without_raising_sigchld_handler()
    loader = torch.utils.data.DataLoader(dataset, batch_sampler=sampler, collate_fn=collate,
                                         num_workers=workers, persistent_workers=workers > 0,
                                         generator=torch.Generator().manual_seed(0),
                                         worker_init_fn=partial(end_with_parent, os.getpid()))
    try:
        yield from loader
    except (EOFError, ConnectionError) as error:
        if not workers:
            raise
        # A worker killed while handing over a batch: fetching the batch's shared memory from it fails
        # before torch's own check sees the worker dead (a race seen under load).
        raise LoaderWorkerDied(f"DataLoader worker died handing over a batch ({type(error).__name__})"
                               ) from None
    except KeyError:
        # megatron-core's masking looks each token id up in the vocabulary: datasets whose stats do
        # not record their vocabulary (older data_prep) are caught only here.
        raise InputError("the datasets hold token ids that data.vocab does not have: they were made with "
                         "another vocabulary; give data.vocab the tokenizer directory they were made "
                         "with") from None
    raise InputError(f"the training data ran out after {len(dataset)} samples; raise the sample count")


class LoaderWorkerDied(RuntimeError):
    """A DataLoader worker process died (killed, or crashed): the step in progress is lost, the last
    checkpoint is intact."""


def without_raising_sigchld_handler() -> None:
    """Keep torch's DataLoader from installing its SIGCHLD handler in this process.

    That handler raises wherever the main process happens to be when a worker dies, also inside
    logging's fork hooks, where Python prints the error with a traceback and drops it (a race seen in
    the tests). Without it the loader finds a dead worker itself, at its next fetch (within torch's
    status-check interval, 5 s), and raises "DataLoader worker (pid(s) N) exited unexpectedly" there.
    torch has no public switch for this: its module flag saying "handler already set" is the way.
    """
    from torch.utils.data._utils import signal_handling

    signal_handling._SIGCHLD_handler_set = True


def is_loader_worker_death(error: BaseException) -> bool:
    """Ours (`micro_batches`), or torch's message for a dead worker: "DataLoader worker (pid N) is
    killed by signal: ..." or "DataLoader worker (pid(s) N) exited unexpectedly"."""
    return isinstance(error, LoaderWorkerDied) or (isinstance(error, RuntimeError)
                                                   and str(error).startswith("DataLoader worker (pid"))


def collate(samples: list[dict]) -> dict[str, torch.Tensor]:
    """Stack dataset samples into batch tensors (int64, loss_mask float)."""
    batch = {key: torch.from_numpy(numpy.stack([numpy.asarray(s[key]) for s in samples]).astype(numpy.int64))
             for key in ("text", "types", "labels", "is_random", "padding_mask")}
    loss_mask = numpy.stack([s["loss_mask"] for s in samples]).astype(numpy.float32)
    batch["loss_mask"] = torch.from_numpy(loss_mask)
    return batch
