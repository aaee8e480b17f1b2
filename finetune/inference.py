"""The fast prediction path: documents -> windows -> length-sorted batches -> entities.

Used by `python -m finetune.predict`, by the test-set predictions at the end of training and by
the dev-set metric during training (which gets its logits from the HF Trainer and shares
`decode_document`). Each document is tokenized once (a whole chunk of documents per tokenizer
call), cut into windows (`finetune.windows`), and all windows of the chunk are sorted by length
and batched, so padding is small and no token is computed twice beyond the stride.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from finetune.decoding import LabelDecoder
from finetune.document import Document, Entity
from finetune.formats import without_annotations
from finetune.labels import word_spans
from finetune.model import NerInfo, NerModel
from finetune.windows import TokenizedDocument, Window, gather_word_scores, plan_windows, tokenize_words
from gatortron_common.logging import InputError

PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "fp16")
CPU_BATCH_TOKENS = 512


@dataclass
class PredictionStats:
    """Counts of a prediction run (never text)."""

    documents: int = 0
    tokens: int = 0
    windows: int = 0
    entities: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"documents": self.documents, "tokens": self.tokens, "windows": self.windows,
                "entities": sum(self.entities.values()),
                "entities_per_type": dict(sorted(self.entities.items())),
                "seconds": round(self.seconds, 3), "tokens_per_second": round(self.tokens_per_second, 1)}


def resolve_device(device: str) -> torch.device:
    """`auto` -> CUDA when available, else CPU; `cpu` / `cuda` / `cuda:N` as given (checked)."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"device={device}: no CUDA device is available on this machine")
    try:
        return torch.device(device)
    except RuntimeError:
        raise InputError(f"device={device!r}: expected auto, cpu, cuda or cuda:N") from None


def check_precision(precision: str, device: torch.device) -> None:
    """Raise `InputError` for a precision this device cannot run."""
    if precision not in PRECISIONS:
        raise InputError(f"precision={precision!r}: expected one of {', '.join(PRECISIONS)}")
    if precision == "fp16" and device.type != "cuda":
        raise InputError("precision=fp16 needs a CUDA device; use fp32 or bf16 on a CPU")


def document_windows(documents: Sequence[TokenizedDocument], info: NerInfo) -> list[list[Window]]:
    """Each document's windows under the model's window length and stride."""
    size = info.max_seq_length - 2
    return [plan_windows(len(document), size, info.stride, index) for index, document in enumerate(documents)]


def decode_document(decoder: LabelDecoder, document: TokenizedDocument, windows: Sequence[Window],
                    window_scores: Sequence[np.ndarray], categories: dict[str, str]) -> list[Entity]:
    """Entities of one document from its windows' label log-probabilities."""
    scores = gather_word_scores(document, windows, window_scores, len(decoder.labels))
    entities = decoder.entities(document.words, scores)
    for entity in entities:
        entity.category = categories.get(entity.type)
    return entities


def predicted_document(source: Document, entities: list[Entity]) -> Document:
    """`source` with its entities replaced by predictions; its relations and other annotations (which
    name the source's entity ids) are left out, the file layout is kept."""
    return Document(id=source.id, text=source.text, entities=entities, relations=[],
                    metadata=without_annotations(source.metadata))


class Predictor:
    """Batched, windowed inference with a fine-tuned model.

    Args:
        ner: the loaded model, tokenizer and `NerInfo`.
        batch_size: the most windows per forward pass.
        batch_tokens: the most tokens (windows x padded length) per forward pass; 0 = no limit;
            None = 512 on a CPU (one full window per pass was fastest on 2 cores: bigger batches
            spill the attention scores out of cache; short windows still share a pass), no limit
            on a GPU.
        precision: `fp32`, `bf16` (autocast; CPUs without bf16 units run it slower) or `fp16` (CUDA).
        device: `auto`, `cpu`, `cuda` or `cuda:N`.
        stride: subwords shared by neighbouring windows; None keeps the model's.
        decoding: `viterbi` or `argmax`; None keeps the model's.
    """

    def __init__(self, ner: NerModel, batch_size: int = 16, precision: str = "fp32", device: str = "auto",
                 stride: int | None = None, decoding: str | None = None,
                 batch_tokens: int | None = None) -> None:
        if batch_size < 1:
            raise InputError(f"batch_size={batch_size} must be at least 1")
        if batch_tokens is not None and batch_tokens < 0:
            raise InputError(f"batch_tokens={batch_tokens} must be 0 (no limit) or positive")
        self.device = resolve_device(device)
        if batch_tokens is None:
            batch_tokens = CPU_BATCH_TOKENS if self.device.type == "cpu" else 0
        check_precision(precision, self.device)
        info = ner.info
        self.info = NerInfo(**{**info.__dict__, "stride": info.stride if stride is None else stride,
                               "decoding": decoding or info.decoding})
        plan_windows(0, self.info.max_seq_length - 2, self.info.stride)  # validates the stride
        self.decoder = LabelDecoder(self.info.labels, self.info.scheme, self.info.decoding)
        self.model = ner.model.to(self.device).eval()
        self.tokenizer = ner.tokenizer
        self.batch_size = batch_size
        self.batch_tokens = batch_tokens
        self.precision = precision
        self.stats = PredictionStats()

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    def batches(self, lengths: Sequence[int]) -> Iterator[list[int]]:
        """Indices of windows (longest first), grouped under `batch_size` and `batch_tokens`."""
        order = sorted(range(len(lengths)), key=lambda index: -lengths[index])
        batch: list[int] = []
        for index in order:
            # Longest first: the batch's padded width is its first window's length.
            width = lengths[batch[0]] + 2 if batch else lengths[index] + 2
            if batch and (len(batch) == self.batch_size
                          or self.batch_tokens and (len(batch) + 1) * width > self.batch_tokens):
                yield batch
                batch = []
            batch.append(index)
        if batch:
            yield batch

    def window_scores(self, documents: Sequence[TokenizedDocument],
                      windows: Sequence[Sequence[Window]]) -> list[list[np.ndarray]]:
        """Label log-probabilities of every window, `[len + 2, labels]` each, in document order."""
        flat = [window for document_windows in windows for window in document_windows]
        results: list[np.ndarray | None] = [None] * len(flat)
        cls_id, sep_id, pad_id = (self.tokenizer.cls_token_id, self.tokenizer.sep_token_id,
                                  self.tokenizer.pad_token_id or 0)
        with torch.inference_mode(), self._autocast():
            for batch in self.batches([len(window) for window in flat]):
                width = len(flat[batch[0]]) + 2
                ids = np.full((len(batch), width), pad_id, dtype=np.int64)
                mask = np.zeros((len(batch), width), dtype=np.int64)
                for row, index in enumerate(batch):
                    window = flat[index]
                    tokens = documents[window.document].input_ids[window.start:window.end]
                    ids[row, 0], ids[row, len(tokens) + 1] = cls_id, sep_id
                    ids[row, 1:len(tokens) + 1] = tokens
                    mask[row, :len(tokens) + 2] = 1
                logits = self.model(input_ids=torch.from_numpy(ids).to(self.device),
                                    attention_mask=torch.from_numpy(mask).to(self.device)).logits
                scores = torch.log_softmax(logits.float(), dim=-1).cpu().numpy()
                for row, index in enumerate(batch):
                    results[index] = scores[row, :len(flat[index]) + 2]
        grouped: list[list[np.ndarray]] = []
        position = 0
        for document_windows in windows:
            grouped.append(results[position:position + len(document_windows)])  # type: ignore[arg-type]
            position += len(document_windows)
        return grouped

    def predict_chunk(self, documents: Sequence[Document]) -> list[Document]:
        """Predictions for a list of documents (one tokenizer call, one sorted set of batches)."""
        started = time.perf_counter()
        word_lists = [word_spans(document.text)[0] for document in documents]
        tokenized = tokenize_words(self.tokenizer, word_lists, [document.text for document in documents])
        windows = document_windows(tokenized, self.info)
        scores = self.window_scores(tokenized, windows)
        predictions = []
        for source, document, its_windows, its_scores in zip(documents, tokenized, windows, scores,
                                                              strict=True):
            entities = decode_document(self.decoder, document, its_windows, its_scores, self.info.categories)
            self.stats.entities.update(entity.type for entity in entities)
            predictions.append(predicted_document(source, entities))
        self.stats.documents += len(documents)
        self.stats.tokens += sum(len(document) for document in tokenized)
        self.stats.windows += sum(len(its_windows) for its_windows in windows)
        self.stats.seconds += time.perf_counter() - started
        return predictions

    def predict(self, documents: Iterable[Document], chunk_documents: int = 64) -> Iterator[Document]:
        """Predictions, streamed: documents are read and processed `chunk_documents` at a time."""
        chunk: list[Document] = []
        for document in documents:
            chunk.append(document)
            if len(chunk) >= chunk_documents:
                yield from self.predict_chunk(chunk)
                chunk = []
        if chunk:
            yield from self.predict_chunk(chunk)
