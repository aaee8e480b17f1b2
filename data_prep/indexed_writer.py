"""Write a Megatron indexed dataset (.bin/.idx) so that a killed job never leaves one that looks
valid: every file is written under a temporary name; the .idx is moved into place last, after the
.bin and the sidecars (megatron-core opens a dataset through its .idx, and a rerun treats a prefix
with all of them as complete).

Sidecars: <prefix>.hashes.npy (a 16-byte content hash per document, in order, so shards can be
de-duplicated against each other at merge time) and <prefix>.stats.json."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import struct
import warnings
from pathlib import Path

import numpy

from gatortron_common.atomic import atomic_open, atomic_write_text
from gatortron_common.logging import InputError, get_logger

with warnings.catch_warnings():  # data prep never uses Transformer Engine / Apex; their absence is no news
    warnings.filterwarnings("ignore", message="Transformer Engine and Apex are not installed")
    from megatron.core.datasets.indexed_dataset import (
        _INDEX_HEADER,
        DType,
        IndexedDatasetBuilder,
        _IndexWriter,
    )

logger = get_logger(__name__)
HASH_BYTES = 16
_INDEX_FIXED_BYTES = len(_INDEX_HEADER) + 8 + 1 + 8 + 8  # header, version, dtype code, two counts
_LENGTHS_PER_READ = 1 << 24


def token_dtype(vocab_size: int) -> type[numpy.number]:
    """uint16 below 65,500 ids, else int32, as Megatron's preprocessing picks it."""
    return DType.optimal_dtype(vocab_size)


def dataset_files(prefix: str | Path) -> dict[str, Path]:
    """The files of a dataset prefix, by role."""
    return {suffix: Path(f"{prefix}.{suffix}") for suffix in ("bin", "idx", "hashes.npy", "stats.json")}


def is_complete(prefix: str | Path) -> bool:
    """True when every file of `prefix` is in place (the .idx goes last, so it decides)."""
    return all(path.is_file() for path in dataset_files(prefix).values())


def read_stats(prefix: str | Path) -> dict:
    return json.loads(dataset_files(prefix)["stats.json"].read_text(encoding="utf-8"))


def read_hashes(prefix: str | Path) -> numpy.ndarray:
    return numpy.load(dataset_files(prefix)["hashes.npy"])


def check_dataset_files(prefix: str | Path) -> None:
    """Check that a complete dataset's files agree with its index: the .idx's own size, the .bin's
    size (the tokens the index describes), one content hash per document, and the stats' counts.
    A .bin cut short by a full disk or a failed copy otherwise merges into an output that looks
    complete and cannot be read.

    Raises:
        InputError: naming the file that does not match.
    """
    files = dataset_files(prefix)
    idx = files["idx"]
    size = idx.stat().st_size
    with open(idx, "rb") as handle:
        fixed = handle.read(_INDEX_FIXED_BYTES)
        if len(fixed) < _INDEX_FIXED_BYTES or not fixed.startswith(_INDEX_HEADER):
            raise InputError(f"{idx}: not a Megatron index (.idx) or cut short; rebuild this dataset")
        version, code, sequences, documents = struct.unpack("<QBQQ", fixed[len(_INDEX_HEADER):])
        expected_idx = _INDEX_FIXED_BYTES + sequences * (4 + 8) + documents * 8
        if version != 1 or size != expected_idx:
            raise InputError(f"{idx}: {size} bytes where its header describes {expected_idx}; "
                             f"the index is damaged, rebuild this dataset")
        tokens = 0
        for start in range(0, sequences, _LENGTHS_PER_READ):  # in chunks: a shard can hold 1e9 sentences
            chunk = numpy.fromfile(handle, dtype=numpy.int32, count=min(_LENGTHS_PER_READ, sequences - start))
            tokens += int(chunk.sum(dtype=numpy.int64))
    try:
        itemsize = DType.size(DType.dtype_from_code(code))
    except (KeyError, ValueError):
        raise InputError(f"{idx}: unknown token dtype code {code}; rebuild this dataset") from None
    expected_bin = tokens * itemsize
    found_bin = files["bin"].stat().st_size
    if found_bin != expected_bin:
        raise InputError(f"{files['bin']}: {found_bin} bytes where its index describes {expected_bin} "
                         f"(truncated or replaced); rebuild this dataset")
    hashes = read_hashes(prefix)
    if len(hashes) != max(documents - 1, 0):
        raise InputError(f"{files['hashes.npy']}: {len(hashes)} document hashes where the index has "
                         f"{max(documents - 1, 0)} documents; rebuild this dataset")
    stats = read_stats(prefix)
    if stats.get("sentences") not in (None, sequences) or stats.get("tokens") not in (None, tokens):
        raise InputError(f"{files['stats.json']}: counts differ from the index; rebuild this dataset")


def remove_leftovers(prefix: str | Path) -> None:
    """Delete what a killed writer of this same prefix left: `<name>.partial-<pid>.bin/.idx` of a
    process that no longer runs here, and the sidecars' temporary files."""
    prefix = Path(prefix)
    if not prefix.parent.is_dir():
        return
    own = re.compile(re.escape(prefix.name) + r"\.partial-(\d+)\.(?:bin|idx)")
    sidecar = re.compile(r"\." + re.escape(prefix.name) + r"\.(?:hashes\.npy|stats\.json)\..+\.partial")
    for entry in os.scandir(prefix.parent):
        match = own.fullmatch(entry.name)
        if match and (int(match.group(1)) == os.getpid() or _process_exists(int(match.group(1)))):
            continue
        if (match or sidecar.fullmatch(entry.name)) and entry.is_file(follow_symlinks=False):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                logger.info("removed %s, left by a killed run", entry.path)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


class _VectorizedIndexWriter(_IndexWriter):
    """megatron-core's index writer with the sequence pointers computed by numpy: its own loop
    costs ~1 us per sentence, the largest single cost of writing a dataset. Same bytes (tested)."""

    def _sequence_pointers(self, sequence_lengths) -> numpy.ndarray:
        lengths = numpy.asarray(sequence_lengths, dtype=numpy.int64)
        pointers = numpy.zeros(len(lengths), dtype=numpy.int64)
        numpy.cumsum(lengths[:-1] * DType.size(self.dtype), out=pointers[1:])
        return pointers


class _Builder(IndexedDatasetBuilder):
    """megatron-core's builder that takes whole arrays: sequence lengths and document ends are kept
    as numpy chunks (its Python lists cost seconds for millions of sentences), and the index is
    written by the vectorized index writer. Same .bin/.idx bytes as the original (tested)."""

    def __init__(self, bin_path: str, dtype: type[numpy.number]) -> None:
        super().__init__(bin_path, dtype=dtype)
        self._lengths: list[numpy.ndarray] = []
        self._document_ends: list[numpy.ndarray] = []
        self._sequences = 0

    def add_arrays(self, tokens: numpy.ndarray, lengths: numpy.ndarray, document_ends: numpy.ndarray) -> None:
        """Append documents: all their tokens, each sentence's length, and where each document
        ends, counted in sentences from the first of these."""
        self.data_file.write(numpy.ascontiguousarray(tokens, dtype=self.dtype).tobytes())
        self._lengths.append(numpy.array(lengths, dtype=numpy.int32))  # a copy: it may view a closing mmap
        self._document_ends.append(numpy.asarray(document_ends, dtype=numpy.int64) + self._sequences)
        self._sequences += len(lengths)

    def add_document(self, tensor, lengths: list[int], modes=None) -> None:
        self.add_arrays(numpy.asarray(tensor), numpy.asarray(lengths), numpy.array([len(lengths)]))

    def finalize(self, idx_path: str) -> None:
        self.data_file.close()
        lengths = numpy.concatenate([numpy.zeros(0, dtype=numpy.int32), *self._lengths])
        documents = numpy.concatenate([numpy.zeros(1, dtype=numpy.int64), *self._document_ends])
        with _VectorizedIndexWriter(idx_path, self.dtype) as writer:
            writer.write(lengths, None, documents)


class IndexedDatasetWriter:
    """Documents of sentences (lists of token ids) → <prefix>.bin / .idx (+ sidecars).

    Args:
        prefix: output path prefix.
        dtype: token dtype (see `token_dtype`).
    """

    def __init__(self, prefix: str | Path, dtype: type[numpy.number]) -> None:
        self.prefix = Path(prefix)
        self.prefix.parent.mkdir(parents=True, exist_ok=True)
        remove_leftovers(self.prefix)
        self.dtype = dtype
        tag = f".partial-{os.getpid()}"
        self._bin = self.prefix.with_name(self.prefix.name + tag + ".bin")
        self._idx = self.prefix.with_name(self.prefix.name + tag + ".idx")
        self._builder = _Builder(str(self._bin), dtype=self.dtype)
        self._hashes: list[bytes] = []
        self.documents = self.sentences = self.tokens = 0

    def add_document(self, sentences: list, content_key: bytes) -> None:
        """Append one document (sentences as sequences of ids); empty sentences are not written,
        an empty document not at all."""
        lengths = [len(s) for s in sentences if len(s)]
        if not lengths:
            return
        flat = numpy.concatenate([numpy.asarray(s, dtype=self.dtype) for s in sentences if len(s)])
        self._builder.add_document(flat, lengths)
        self._hashes.append(content_key)
        self.documents += 1
        self.sentences += len(lengths)
        self.tokens += len(flat)

    def add_documents(self, ids: numpy.ndarray, lengths: numpy.ndarray, sentences_per_document: numpy.ndarray,
                      keys: list[bytes]) -> list[int]:
        """Append a batch of documents given as flat arrays: `ids` of all sentences, `lengths` of
        each sentence (none empty), `sentences_per_document`. Documents without sentences are not
        written; their indices are returned (the caller reports them).

        Written in bulk: per-document calls cost more than the rest of writing.
        """
        if len(lengths) and not lengths.all():
            raise ValueError("empty sentences must be dropped before writing")
        kept = sentences_per_document > 0
        self._builder.add_arrays(ids, lengths, numpy.cumsum(sentences_per_document)[kept])
        self._hashes.extend(key for key, keep in zip(keys, kept.tolist(), strict=True) if keep)
        self.documents += int(kept.sum())
        self.sentences += len(lengths)
        self.tokens += len(ids)
        return numpy.flatnonzero(~kept).tolist()

    def add_dataset(self, prefix: str | Path, hashes: numpy.ndarray, sentences: int, tokens: int) -> None:
        """Append a whole dataset by copying its files (no per-document work). Like megatron-core's
        `add_index`, without its full garbage collection per dataset (seconds per part)."""
        from megatron.core.datasets.indexed_dataset import IndexedDataset

        megatron_log = logging.getLogger("megatron.core.datasets.indexed_dataset")
        level = megatron_log.level
        megatron_log.setLevel(logging.WARNING)  # six INFO lines per part read: noise in a join
        try:
            index = IndexedDataset(str(prefix)).index
        finally:
            megatron_log.setLevel(level)
        if index.dtype != self.dtype:
            raise ValueError(f"{prefix}: token dtype {index.dtype} differs from {self.dtype}")
        with open(f"{prefix}.bin", "rb") as source:
            shutil.copyfileobj(source, self._builder.data_file, 1 << 24)
        self._builder.add_arrays(numpy.zeros(0, dtype=self.dtype), index.sequence_lengths,
                                 index.document_indices[1:])
        self._hashes.extend(bytes(row) for row in hashes)
        self.documents += len(hashes)
        self.sentences += sentences
        self.tokens += tokens

    def commit(self, stats: dict) -> None:
        """Finish the index, write the sidecars, and move everything into place (.idx last)."""
        self._builder.finalize(str(self._idx))
        files = dataset_files(self.prefix)
        with contextlib.suppress(FileNotFoundError):
            files["idx"].unlink()  # an old .idx must never describe the new .bin
        hashes = numpy.frombuffer(b"".join(self._hashes), dtype=numpy.uint8).reshape(-1, HASH_BYTES)
        with atomic_open(files["hashes.npy"], "wb") as handle:
            numpy.save(handle, hashes)
        atomic_write_text(files["stats.json"], json.dumps(stats, indent=2) + "\n")
        os.replace(self._bin, files["bin"])
        os.replace(self._idx, files["idx"])

    def abort(self) -> None:
        """Drop the temporary files (after an error or interruption)."""
        with contextlib.suppress(Exception):
            self._builder.data_file.close()
        for path in (self._bin, self._idx):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
