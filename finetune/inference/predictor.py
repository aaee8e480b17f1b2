"""The fast prediction path: documents -> windows -> length-sorted batches -> entities.

Used by `python -m finetune.predict`, by the test-set predictions at the end of training and by
the dev-set metric during training (which gets its logits from the HF Trainer and shares
`decode_document`). Each document is tokenized once (a group of documents per tokenizer call),
cut into windows (`finetune.tagging.windows`), and all windows of the group are sorted by length and
batched, so padding is small and no token is computed twice beyond the stride.

Memory is bounded per note. Notes up to `long_document_chars` characters are grouped up to
`chunk_chars` characters at a time (their words, subwords, window scores and per-word scores cost
~0.7 KB per character together). A longer note is streamed: its subwords are counted, then read a
block of words at a time; its windows (the very windows of the whole-note plan) are scored a group
at a time, each group's scores go straight into an `EntityStream` (Viterbi settled as it goes), and
only the note's text and entities grow with its length. The entities, offsets and scores are those
of the whole-note path; `on_windows` reports a streamed note's progress.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from finetune.corpora.document import Document, Entity
from finetune.corpora.formats import without_annotations
from finetune.inference.int8 import Int8Encoder, int8_graph
from finetune.models.ner import NerInfo, NerModel
from finetune.tagging.decoding import EntityStream, LabelDecoder
from finetune.tagging.labels import word_spans
from finetune.tagging.windows import (
    TokenizedDocument,
    TokenStream,
    Window,
    count_tokens,
    gather_word_scores,
    iter_windows,
    plan_windows,
    tokenize_words,
    unreached_scores,
    window_count,
    word_scores,
)
from gatortron_common.logging import InputError

PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "fp16")  # training's, and inference's on torch
# Inference adds int8: an ONNX Runtime graph with int8 weights, on CPUs (`finetune.inference.int8`).
INFERENCE_PRECISIONS: tuple[str, ...] = (*PRECISIONS, "int8")
CPU_BATCH_TOKENS = 512
LONG_DOCUMENT_CHARS = 50_000  # longer notes are streamed
CHUNK_CHARS = 200_000  # characters of shorter notes windowed and scored together
STREAM_BLOCK_WORDS = 2_048  # words per tokenizer call in a streamed note
STREAM_GROUP_TOKENS = 16_384  # subwords of a streamed note's windows scored together


@dataclass
class PredictionStats:
    """Counts of a prediction run (never text).

    `streamed`: documents predicted a window group at a time. `max_windows_held` / `max_tokens_held`:
    the most windows whose scores, and the most subwords, that were held at once (what bounds memory).
    """

    documents: int = 0
    tokens: int = 0
    windows: int = 0
    entities: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    streamed: int = 0
    max_windows_held: int = 0
    max_tokens_held: int = 0
    gpu_peak_bytes: int = 0

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"documents": self.documents, "tokens": self.tokens, "windows": self.windows,
                "entities": sum(self.entities.values()),
                "entities_per_type": dict(sorted(self.entities.items())),
                "seconds": round(self.seconds, 3), "tokens_per_second": round(self.tokens_per_second, 1),
                "streamed": self.streamed, "max_windows_held": self.max_windows_held,
                "max_tokens_held": self.max_tokens_held,
                **({"gpu_peak_memory_gib": round(self.gpu_peak_bytes / 2**30, 2)}
                   if self.gpu_peak_bytes else {})}


def resolve_device(device: str, precision: str = "fp32") -> torch.device:
    """`auto` -> CUDA when available, else CPU (always the CPU for precision=int8, which runs there);
    `cpu` / `cuda` / `cuda:N` as given (checked)."""
    if device == "auto" and precision == "int8":
        return torch.device("cpu")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"device={device}: no CUDA device is available on this machine")
    try:
        return torch.device(device)
    except RuntimeError:
        raise InputError(f"device={device!r}: expected auto, cpu, cuda or cuda:N") from None


def check_precision(precision: str, device: torch.device) -> None:
    """Raise `InputError` for an inference precision this device cannot run."""
    if precision not in INFERENCE_PRECISIONS:
        raise InputError(f"precision={precision!r}: expected one of {', '.join(INFERENCE_PRECISIONS)}")
    if precision == "fp16" and device.type != "cuda":
        raise InputError("precision=fp16 needs a CUDA device; use fp32, int8 or bf16 on a CPU")
    if precision == "int8" and device.type != "cpu":
        raise InputError(f"precision=int8 runs on CPUs (device={device}); use bf16 or fp16 on a GPU")


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


class LongNoteProgress:
    """`Predictor.on_windows` as a second progress bar, one per streamed (long) note, in windows:
    a 2 MB note takes minutes on a CPU and would otherwise show no progress at all."""

    def __init__(self) -> None:
        self._bar: tqdm | None = None

    def __call__(self, done: int, total: int) -> None:
        if done == 0 or self._bar is None:
            self._bar = tqdm(total=total, desc="long note", unit=" windows", leave=False, position=1,
                             mininterval=2.0)
        self._bar.update(done - self._bar.n)
        if done >= total:
            self._bar.close()
            self._bar = None


class Predictor:
    """Batched, windowed inference with a fine-tuned model, in bounded memory per note.

    Args:
        ner: the loaded model, tokenizer and `NerInfo`.
        batch_size: the most windows per forward pass.
        precision: `fp32`, `bf16` (autocast; CPUs without bf16 units run it slower), `fp16` (CUDA)
            or `int8` (CPU: the model's int8 ONNX Runtime graph, `finetune.inference.int8`; the model
            must have been loaded from its directory).
        int8_cache: where int8 graphs are kept (None: `finetune.inference.int8.default_cache()`).
        device: `auto`, `cpu`, `cuda` or `cuda:N`.
        stride: subwords shared by neighbouring windows; None keeps the model's.
        decoding: `viterbi` or `argmax`; None keeps the model's.
        batch_tokens: the most tokens (windows x padded length) per forward pass; 0 = no limit;
            None = 512 on a CPU (one full window per pass was fastest on 2 cores: bigger batches
            spill the attention scores out of cache; short windows still share a pass), no limit
            on a GPU.
        long_document_chars: notes longer than this many characters are streamed (see the module
            docstring); None = `LONG_DOCUMENT_CHARS`. The predictions are the same either way.
        on_windows: called as `on_windows(done, total)` while a streamed note is predicted: first
            `(0, total)`, then after each group of windows, `done == total` at its end (windows of
            that note; e.g. to drive a progress bar within a long note).

    Attributes `chunk_chars`, `stream_block_words` and `stream_group_tokens` (module defaults) set
    the sizes of the bounded steps; tests and benchmarks change them.
    """

    def __init__(self, ner: NerModel, batch_size: int = 16, precision: str = "fp32", device: str = "auto",
                 stride: int | None = None, decoding: str | None = None,
                 batch_tokens: int | None = None, long_document_chars: int | None = None,
                 on_windows: Callable[[int, int], None] | None = None,
                 int8_cache: str | Path | None = None) -> None:
        if batch_size < 1:
            raise InputError(f"batch_size={batch_size} must be at least 1")
        if batch_tokens is not None and batch_tokens < 0:
            raise InputError(f"batch_tokens={batch_tokens} must be 0 (no limit) or positive")
        self.device = resolve_device(device, precision)
        if batch_tokens is None:
            batch_tokens = CPU_BATCH_TOKENS if self.device.type == "cpu" else 0
        check_precision(precision, self.device)
        info = ner.info
        self.info = NerInfo(**{**info.__dict__, "stride": info.stride if stride is None else stride,
                               "decoding": decoding or info.decoding})
        plan_windows(0, self.info.max_seq_length - 2, self.info.stride)  # validates the stride
        self.decoder = LabelDecoder(self.info.labels, self.info.scheme, self.info.decoding)
        self.int8: Int8Encoder | None = None
        self.model = ner.model.eval()
        if precision == "int8":
            if ner.source is None:
                raise InputError("precision=int8 needs a model loaded from its directory (the int8 graph "
                                 "is built from, and cached by, its files)")
            self.int8 = Int8Encoder(int8_graph(ner.source, ner.model, int8_cache))
            self.model = None  # the graph holds the weights now
        else:
            self.model = self.model.to(self.device)
        self.tokenizer = ner.tokenizer
        self.batch_size = batch_size
        self.batch_tokens = batch_tokens
        self.precision = precision
        self.long_document_chars = LONG_DOCUMENT_CHARS if long_document_chars is None else long_document_chars
        self.on_windows = on_windows
        self.chunk_chars = CHUNK_CHARS
        self.stream_block_words = STREAM_BLOCK_WORDS
        self.stream_group_tokens = STREAM_GROUP_TOKENS
        self.stats = PredictionStats()

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.precision in ("fp32", "int8"):
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

    def score_tokens(self, windows: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Label log-probabilities `[len + 2, labels]` ([CLS] row first) of windows given as subword
        ids, batched by `batches`; in the order given."""
        results: list[np.ndarray | None] = [None] * len(windows)
        scored: list[tuple[list[int], torch.Tensor]] = []
        with torch.inference_mode(), self._autocast():
            for batch in self.batches([len(tokens) for tokens in windows]):
                ids, mask = self._padded([windows[index] for index in batch])
                scored.append((batch, self._log_probabilities(ids, mask)))
            # On a GPU the batches were queued without waiting; one wait here brings them all back.
            for batch, scores in self._on_host(scored):
                for row, index in enumerate(batch):
                    results[index] = scores[row, :len(windows[index]) + 2]
        return results  # type: ignore[return-value]

    def _padded(self, windows: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """`[CLS] window [SEP]` rows padded to the first (longest) one: ids and attention mask."""
        width = len(windows[0]) + 2
        ids = np.full((len(windows), width), self.tokenizer.pad_token_id or 0, dtype=np.int64)
        mask = np.zeros((len(windows), width), dtype=np.int64)
        for row, tokens in enumerate(windows):
            ids[row, 0], ids[row, len(tokens) + 1] = self.tokenizer.cls_token_id, self.tokenizer.sep_token_id
            ids[row, 1:len(tokens) + 1] = tokens
            mask[row, :len(tokens) + 2] = 1
        return ids, mask

    def _log_probabilities(self, ids: np.ndarray, mask: np.ndarray) -> torch.Tensor:
        """fp32 label log-probabilities of one padded batch, left on the device."""
        if self.int8 is not None:
            logits = torch.from_numpy(self.int8.logits(ids, mask))
        else:
            logits = self.model(input_ids=self._to_device(ids), attention_mask=self._to_device(mask)).logits
        return torch.log_softmax(logits.float(), dim=-1)

    def _to_device(self, array: np.ndarray) -> torch.Tensor:
        tensor = torch.from_numpy(array)
        if self.device.type != "cuda":
            return tensor
        # From pinned memory the copy is queued behind the work before it: no wait on the host.
        return tensor.pin_memory().to(self.device, non_blocking=True)

    def _on_host(self, scored: list[tuple[list[int], torch.Tensor]]
                 ) -> Iterator[tuple[list[int], np.ndarray]]:
        """The batches' scores as NumPy arrays; on a GPU, copied out together after a single wait."""
        if self.device.type != "cuda":
            yield from ((batch, scores.numpy()) for batch, scores in scored)
            return
        copies = []
        for batch, scores in scored:
            host = torch.empty(scores.shape, dtype=scores.dtype, pin_memory=True)
            host.copy_(scores, non_blocking=True)
            copies.append((batch, host))
        torch.cuda.current_stream(self.device).synchronize()
        peak = torch.cuda.max_memory_allocated(self.device)
        self.stats.gpu_peak_bytes = max(self.stats.gpu_peak_bytes, peak)
        yield from ((batch, host.numpy()) for batch, host in copies)

    def window_scores(self, documents: Sequence[TokenizedDocument],
                      windows: Sequence[Sequence[Window]]) -> list[list[np.ndarray]]:
        """Label log-probabilities of every window, `[len + 2, labels]` each, in document order."""
        flat = [window for document_windows in windows for window in document_windows]
        results = self.score_tokens([documents[window.document].input_ids[window.start:window.end]
                                     for window in flat])
        grouped: list[list[np.ndarray]] = []
        position = 0
        for document_windows in windows:
            grouped.append(results[position:position + len(document_windows)])
            position += len(document_windows)
        return grouped

    def predict_chunk(self, documents: Sequence[Document]) -> list[Document]:
        """Predictions for a list of documents: notes up to `long_document_chars` characters windowed
        and batched together (up to `chunk_chars` characters at a time), longer ones streamed."""
        started = time.perf_counter()
        predictions: list[Document | None] = [None] * len(documents)
        short = [index for index, document in enumerate(documents)
                 if len(document.text) <= self.long_document_chars]
        for group in self._groups(documents, short):
            for index, prediction in zip(group, self._predict_together([documents[i] for i in group]),
                                         strict=True):
                predictions[index] = prediction
        for index, document in enumerate(documents):
            if predictions[index] is None:
                predictions[index] = predicted_document(document, self._stream_entities(document.text))
        self.stats.documents += len(documents)
        self.stats.seconds += time.perf_counter() - started
        return predictions  # type: ignore[return-value]

    def _groups(self, documents: Sequence[Document], indices: Sequence[int]) -> Iterator[list[int]]:
        """`indices` in order, cut where a group would pass `chunk_chars` characters."""
        group: list[int] = []
        characters = 0
        for index in indices:
            size = len(documents[index].text)
            if group and characters + size > self.chunk_chars:
                yield group
                group, characters = [], 0
            group.append(index)
            characters += size
        if group:
            yield group

    def _predict_together(self, documents: Sequence[Document]) -> list[Document]:
        """Predictions for notes windowed and batched together (one tokenizer call)."""
        word_lists = [word_spans(document.text)[0] for document in documents]
        tokenized = tokenize_words(self.tokenizer, word_lists, [document.text for document in documents])
        del word_lists  # each TokenizedDocument holds its own copy
        windows = document_windows(tokenized, self.info)
        scores = self.window_scores(tokenized, windows)
        predictions = []
        for source, document, its_windows, its_scores in zip(documents, tokenized, windows, scores,
                                                              strict=True):
            entities = decode_document(self.decoder, document, its_windows, its_scores, self.info.categories)
            self.stats.entities.update(entity.type for entity in entities)
            predictions.append(predicted_document(source, entities))
        self._count(sum(map(len, tokenized)), sum(map(len, windows)))
        self.stats.max_windows_held = max(self.stats.max_windows_held, sum(map(len, windows)))
        self.stats.max_tokens_held = max(self.stats.max_tokens_held, sum(map(len, tokenized)))
        return predictions

    def _stream_entities(self, text: str) -> list[Entity]:
        """One note's entities, its windows scored a group at a time (the module docstring)."""
        size = self.info.max_seq_length - 2
        length = count_tokens(self.tokenizer, text, self.stream_block_words)
        total = window_count(length, size, self.info.stride)
        tokens = TokenStream(self.tokenizer, text, self.stream_block_words)
        stream = EntityStream(self.decoder)
        group_windows = self._group_windows(size)
        group: list[Window] = []
        done = 0
        self._report(0, total)
        for window in iter_windows(length, size, self.info.stride):
            group.append(window)
            if len(group) == group_windows:
                done += self._stream_group(group, tokens, stream)
                self._report(done, total)
                group = []
        if group:
            done += self._stream_group(group, tokens, stream)
            self._report(done, total)
        for words, _ in tokens.rest():  # words without subwords, after the last one with
            stream.push(words, unreached_scores(len(words), len(self.decoder.labels)))
        entities = stream.finish()
        for entity in entities:
            entity.category = self.info.categories.get(entity.type)
        self.stats.entities.update(entity.type for entity in entities)
        self.stats.streamed += 1
        self._count(length, total)
        self.stats.max_tokens_held = max(self.stats.max_tokens_held, tokens.max_held)
        return entities

    def _stream_group(self, group: list[Window], tokens: TokenStream, stream: EntityStream) -> int:
        """Score a group of a streamed note's windows and pass their words on; returns the group's size."""
        start = group[0].start
        ids = tokens.tokens(start, group[-1].end)
        scores = self.score_tokens([ids[window.start - start:window.end - start] for window in group])
        self.stats.max_windows_held = max(self.stats.max_windows_held, len(group))
        for window, window_scores in zip(group, scores, strict=True):
            words, first = tokens.take_words(window.own_end)
            stream.push(words, word_scores(first, window, window_scores))
        return len(group)

    def _group_windows(self, size: int) -> int:
        """Windows scored together in a streamed note: about `stream_group_tokens` subwords, a whole
        number of full batches (so the batches are those the whole note would get)."""
        per_batch = len(next(self.batches([size] * self.batch_size)))
        wanted = max(1, self.stream_group_tokens // size)
        return -(-wanted // per_batch) * per_batch

    def _report(self, done: int, total: int) -> None:
        if self.on_windows is not None:
            self.on_windows(done, total)

    def _count(self, tokens: int, windows: int) -> None:
        self.stats.tokens += tokens
        self.stats.windows += windows

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
