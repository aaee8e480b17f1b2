"""Write a Megatron indexed dataset (.bin/.idx) so that a killed job never leaves one that looks
valid: both files are written under temporary names, the .bin is moved into place first and the
.idx last (megatron-core opens a dataset through its .idx)."""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path

import numpy

with warnings.catch_warnings():  # data prep never uses Transformer Engine / Apex; their absence is no news
    warnings.filterwarnings("ignore", message="Transformer Engine and Apex are not installed")
    from megatron.core.datasets.indexed_dataset import DType, IndexedDatasetBuilder


class IndexedDatasetWriter:
    """Documents of sentences (lists of token ids) → <prefix>.bin / <prefix>.idx.

    Args:
        prefix: output path prefix.
        vocab_size: picks the token dtype (uint16 below 65,500 ids, else int32), as Megatron does.
    """

    def __init__(self, prefix: str | Path, vocab_size: int) -> None:
        self.prefix = Path(prefix)
        self.prefix.parent.mkdir(parents=True, exist_ok=True)
        self.dtype = DType.optimal_dtype(vocab_size)
        tag = f".partial-{os.getpid()}"
        self._bin = self.prefix.with_name(self.prefix.name + tag + ".bin")
        self._idx = self.prefix.with_name(self.prefix.name + tag + ".idx")
        self._builder = IndexedDatasetBuilder(str(self._bin), dtype=self.dtype)
        self.documents = self.sentences = self.tokens = 0

    def add_document(self, sentences: list[list[int]]) -> None:
        """Append one document; empty sentences are not written, an empty document not at all."""
        lengths = [len(s) for s in sentences if s]
        if not lengths:
            return
        flat = numpy.fromiter((i for s in sentences for i in s), dtype=self.dtype, count=sum(lengths))
        self._builder.add_document(flat, lengths)
        self.documents += 1
        self.sentences += len(lengths)
        self.tokens += len(flat)

    def commit(self) -> None:
        """Finish the index and move both files into place (.idx last)."""
        self._builder.finalize(str(self._idx))
        final_bin, final_idx = Path(f"{self.prefix}.bin"), Path(f"{self.prefix}.idx")
        with contextlib.suppress(FileNotFoundError):
            final_idx.unlink()  # an old .idx must never describe the new .bin
        os.replace(self._bin, final_bin)
        os.replace(self._idx, final_idx)

    def abort(self) -> None:
        """Drop the temporary files (after an error or interruption)."""
        with contextlib.suppress(Exception):
            self._builder.data_file.close()
        for path in (self._bin, self._idx):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
