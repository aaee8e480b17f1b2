"""Text → WordPiece ids with a vocabulary from `python -m tokenizer`.

Two backends give the same ids (HF `BertTokenizer(vocab=...)` semantics, which equal Megatron's own
BERT tokenizer on our vocabularies):
- `nanotoken`: a Rust WordPiece that reads the HF tokenizer and returns numpy arrays; ~50x the HF
  encoder on notes here. It is young (0.1), so every process compares it with HF on the first text
  it encodes and, under `backend=auto`, falls back to HF if they ever differ.
- `hf`: HF `tokenizers`, the reference.
"""

from __future__ import annotations

from pathlib import Path

import numpy

from gatortron_common.logging import InputError, get_logger
from tokenizer.export import VOCAB_FILE, bert_tokenizer_from_vocab

logger = get_logger(__name__)

BACKENDS = ("auto", "nanotoken", "hf")
CHECKED_SENTENCES = 4096  # of a list, compared with HF once per process
CHECKED_CHARS = 300_000  # of a long text, likewise (HF runs at a few MB/s)


class SentenceEncoder:
    """Encode text with a vocabulary directory.

    Args:
        vocab_dir: directory with vocab.txt.
        lowercase: the vocabulary is uncased (lowercase + strip accents, as BERT uncased).
        backend: "auto" (nanotoken, checked against HF, else HF), "nanotoken" (error if it is
            missing or differs from HF) or "hf".
    """

    def __init__(self, vocab_dir: Path, lowercase: bool, backend: str = "auto") -> None:
        if backend not in BACKENDS:
            raise InputError(f"tokenizer_backend={backend!r}: use one of {', '.join(BACKENDS)}")
        self.reference = bert_tokenizer_from_vocab(Path(vocab_dir) / VOCAB_FILE, lowercase).backend_tokenizer
        self.requested = backend
        self.fast = None
        self.checked = backend == "hf"
        if backend != "hf":
            try:
                import nanotoken

                self.fast = nanotoken.Tokenizer(self.reference)
            except (ImportError, ValueError) as error:  # UnsupportedTokenizerError is a ValueError
                if backend == "nanotoken":
                    raise InputError(f"tokenizer_backend=nanotoken is not usable here: {error}") from None
                logger.warning("nanotoken is not usable (%s); encoding with HF tokenizers (slower)",
                               type(error).__name__)

    @property
    def backend(self) -> str:
        """The backend in use: nanotoken or hf."""
        return "nanotoken" if self.fast is not None else "hf"

    def token_id(self, token: str) -> int | None:
        """The id of a vocabulary entry, or None."""
        return self.reference.token_to_id(token)

    def encode(self, sentences: list[str]) -> tuple[numpy.ndarray, numpy.ndarray]:
        """(ids of all sentences concatenated, number of ids of each sentence)."""
        if not self.checked:
            self._check(sentences[:CHECKED_SENTENCES])
        if self.fast is None:
            return self._reference_ids(sentences)
        batch = self.fast.encode_batch(sentences, add_special_tokens=False, parallel=False)
        return batch.ids, batch.lengths

    def encode_text(self, text: str) -> numpy.ndarray:
        """The ids of one (long) text."""
        if not self.checked:
            cut = text.rfind(" ", 0, CHECKED_CHARS) if len(text) > CHECKED_CHARS else len(text)
            self._check([text[:max(cut, 0)]])  # a prefix that ends between words
        if self.fast is None:
            return self._reference_ids([text])[0]
        return self.fast.encode(text, add_special_tokens=False)

    def _reference_ids(self, texts: list[str]) -> tuple[numpy.ndarray, numpy.ndarray]:
        encodings = self.reference.encode_batch(texts, add_special_tokens=False)
        lengths = numpy.array([len(e.ids) for e in encodings], dtype=numpy.int64)
        ids = numpy.fromiter((i for e in encodings for i in e.ids), dtype=numpy.uint32,
                             count=int(lengths.sum()))
        return ids, lengths

    def _check(self, sample: list[str]) -> None:
        """Compare the fast backend with HF on `sample`; fall back to HF (auto) or fail if they differ."""
        self.checked = True
        if self.fast is None:
            return
        batch = self.fast.encode_batch(sample, add_special_tokens=False, parallel=False)
        expected_ids, expected_lengths = self._reference_ids(sample)
        if numpy.array_equal(batch.lengths, expected_lengths) and numpy.array_equal(batch.ids, expected_ids):
            return
        if self.requested == "nanotoken":
            raise InputError("nanotoken ids differ from HF tokenizers on this input; "
                             "use tokenizer_backend=hf")
        logger.warning("nanotoken ids differ from HF tokenizers on this input; encoding with HF (slower)")
        self.fast = None
