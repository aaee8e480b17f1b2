"""Text → WordPiece ids with a vocabulary from `python -m tokenizer`, optionally with mark
characters that become ids of their own (beyond the vocabulary) wherever they occur.

Two backends give the same ids, those of Megatron's own legacy BERT tokenizer: HF
`BertTokenizer(vocab=...)` semantics without its special-token matching, so "[CLS]", "[SEP]",
"[MASK]", "[PAD]" or "[UNK]" written in a note are text ("[", "cls", "]") and never control ids:
- `nanotoken`: a Rust WordPiece that reads the HF tokenizer and returns numpy arrays; ~50x the HF
  encoder on notes here. It is young (0.1), so every process compares it with HF on the first text
  it encodes and, under `backend=auto`, falls back to HF if they ever differ.
- `hf`: HF `tokenizers`, the reference.
"""

from __future__ import annotations

from pathlib import Path

import numpy
from tokenizers import AddedToken

from gatortron_common.logging import InputError, get_logger
from tokenizer.export import text_only_tokenizer
from tokenizer.vocab import vocab_file_of

logger = get_logger(__name__)

BACKENDS = ("auto", "nanotoken", "hf")
CHECKED_CHARS = 300_000  # of the first text, compared with HF once per process (HF: a few MB/s)


class TextEncoder:
    """Encode text with a vocabulary directory.

    Args:
        vocab: a tokenizer directory (holding vocab.txt) or a vocab.txt.
        lowercase: the vocabulary is uncased (lowercase + strip accents, as BERT uncased).
        backend: "auto" (nanotoken, checked against HF, else HF), "nanotoken" (error if it is
            missing or differs from HF) or "hf".
        marks: characters that each become one id of their own (vocabulary size, +1, ...),
            matched before any other rule, like [SEP]. The caller keeps them out of real text.
    """

    def __init__(self, vocab: Path, lowercase: bool, backend: str = "auto",
                 marks: tuple[str, ...] = ()) -> None:
        if backend not in BACKENDS:
            raise InputError(f"tokenizer_backend={backend!r}: use one of {', '.join(BACKENDS)}")
        self.reference = text_only_tokenizer(vocab_file_of(vocab), lowercase)
        self.vocab_size = self.reference.get_vocab_size()
        self.reference.add_special_tokens([AddedToken(mark, normalized=False) for mark in marks])
        self.mark_ids = [self.reference.token_to_id(mark) for mark in marks]
        if any(i is None or i < self.vocab_size for i in self.mark_ids):
            raise InputError(f"{vocab}: the vocabulary already holds one of the data_prep marks")
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
