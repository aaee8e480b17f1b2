"""A batch of cleaned documents → token ids, sentence lengths and sentences per document, with
one tokenizer call per batch.

Why not tokenize sentence by sentence: a note has a sentence every ~55 characters, and making a
Python string per sentence costs as much as splitting them. Instead, the documents are joined by
blank lines, the whitespace character at every sentence cut is overwritten with a mark (U+001E,
U+001D at document ends) and the whole batch is tokenized at once. The marks are special tokens
of the encoder, matched before any other rule, and the cut was whitespace, so no word changes:
the ids between marks are exactly the ids of each sentence alone. Cleaning removes both
characters from the text beforehand (BERT drops control characters anyway), so a mark in the
output is always one of ours; the counts are checked all the same.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy

from data_prep.clean import DOCUMENT_MARK, SENTENCE_MARK
from data_prep.encode import TextEncoder
from data_prep.sentences import ClinicalSentenceSplitter

_JOINER = "\n\n"  # a blank line: always a cut, and its first newline is where the document mark goes


class DocumentTokenizer:
    """Split and tokenize batches of cleaned documents.

    Args:
        encoder: an encoder built with `marks=(SENTENCE_MARK, DOCUMENT_MARK)`.
        splitter: the sentence splitter.
    """

    def __init__(self, encoder: TextEncoder, splitter: ClinicalSentenceSplitter) -> None:
        self.encoder, self.splitter = encoder, splitter
        self.sentence_id, self.document_id = encoder.mark_ids

    def __call__(self, texts: Sequence[str]) -> tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]:
        """(ids of all sentences, length of each sentence, sentences per document), in order.
        Sentences are never empty; a document may have none (it tokenized to nothing)."""
        ascii_ids = [i for i, text in enumerate(texts) if text.isascii()]
        if len(ascii_ids) in (0, len(texts)):
            return self._tokenize(texts)
        # One byte per character for ASCII documents: the splitter scans them ~4x faster apart.
        ascii_set = set(ascii_ids)
        other_ids = [i for i in range(len(texts)) if i not in ascii_set]
        groups = [(ids, self._tokenize([texts[i] for i in ids])) for ids in (ascii_ids, other_ids)]
        return _interleave(groups, len(texts))

    def _tokenize(self, texts: Sequence[str]) -> tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]:
        joined = _JOINER.join(texts)
        cuts = self.splitter.boundaries(joined)
        document_ends = numpy.cumsum([len(t) + len(_JOINER) for t in texts])[:-1] - len(_JOINER)
        sentence_ends = cuts[~numpy.isin(cuts, document_ends)]
        ids = self.encoder.encode_text(_overwrite(joined, [(sentence_ends, SENTENCE_MARK),
                                                           (document_ends, DOCUMENT_MARK)]))
        is_sentence_end, is_document_end = ids == self.sentence_id, ids == self.document_id
        found = int(is_document_end.sum()), int(is_sentence_end.sum())
        if found != (len(document_ends), len(sentence_ends)):
            raise RuntimeError("sentence marks were lost in tokenization: the text was not cleaned first")
        is_mark = is_sentence_end | is_document_end
        ends = numpy.flatnonzero(is_mark)
        # Piece k holds the ids between mark k-1 and mark k (the last piece runs to the end).
        lengths = numpy.diff(numpy.concatenate([[-1], ends, [len(ids)]])) - 1
        # Document d's pieces end with its document mark (the last document's at the end).
        per_document = numpy.diff(numpy.concatenate([[0], numpy.flatnonzero(is_document_end[ends]) + 1,
                                                     [len(lengths)]]))
        # Drop empty pieces: whitespace between cuts, text that tokenizes to nothing.
        empty = lengths == 0
        document_of_piece = numpy.repeat(numpy.arange(len(texts)), per_document)
        per_document = per_document - numpy.bincount(document_of_piece[empty], minlength=len(texts))
        return ids[~is_mark], lengths[~empty], per_document


def _overwrite(text: str, replacements: list[tuple[numpy.ndarray, str]]) -> str:
    """`text` with the characters at the given offsets replaced by the given character."""
    if text.isascii():
        buffer = bytearray(text, "ascii")
        codes = numpy.frombuffer(buffer, dtype=numpy.uint8)
        for places, char in replacements:
            codes[places] = ord(char)
        return buffer.decode("ascii")
    codes = numpy.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=numpy.uint32).copy()
    for places, char in replacements:
        codes[places] = ord(char)
    return codes.tobytes().decode("utf-32-le", "surrogatepass")


def _interleave(groups: list[tuple[list[int], tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]]],
                n_documents: int) -> tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]:
    """Put the documents of several groups back into their original order."""
    id_pieces: list = [None] * n_documents
    length_pieces: list = [None] * n_documents
    counts = numpy.zeros(n_documents, dtype=numpy.int64)
    for documents, (ids, lengths, group_counts) in groups:
        sentence_bounds = numpy.concatenate([[0], numpy.cumsum(group_counts)])
        token_bounds = numpy.concatenate([[0], numpy.cumsum(lengths)])[sentence_bounds].tolist()
        sentence_bounds = sentence_bounds.tolist()
        for j, document in enumerate(documents):
            id_pieces[document] = ids[token_bounds[j]:token_bounds[j + 1]]
            length_pieces[document] = lengths[sentence_bounds[j]:sentence_bounds[j + 1]]
        counts[documents] = group_counts
    return numpy.concatenate(id_pieces), numpy.concatenate(length_pieces), counts
