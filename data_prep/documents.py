"""A batch of cleaned documents → token ids, sentence lengths and sentences per document, with
one tokenizer call per batch.

Why not tokenize sentence by sentence: a note has a sentence every ~55 characters, and making a
Python string per sentence costs as much as splitting them. Instead, the documents are joined by
blank lines, the whitespace character at every sentence cut is replaced with "[SEP]" (with "[CLS]"
at document ends), and the whole batch is tokenized at once. Both are special tokens, matched in
the raw text before any other rule, and the cut was whitespace, so no word changes: the ids
between marks are exactly the ids of each sentence alone. A batch that already contains "[SEP]"
or "[CLS]" as text, or whose mark count does not come out right, is tokenized sentence by sentence.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy

from data_prep.encode import SentenceEncoder
from data_prep.sentences import ClinicalSentenceSplitter
from tokenizer.vocab import CLS, SEP

_JOINER = "\n\n"


class DocumentTokenizer:
    """Split and tokenize batches of documents.

    Args:
        encoder: the sentence encoder (vocabulary, backend).
        splitter: the sentence splitter.
    """

    def __init__(self, encoder: SentenceEncoder, splitter: ClinicalSentenceSplitter) -> None:
        self.encoder, self.splitter = encoder, splitter
        self.marks = [(mark, encoder.token_id(mark)) for mark in (SEP, CLS)]  # sentence end, document end
        self.fallback_batches = 0

    def __call__(self, texts: Sequence[str]) -> tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]:
        """(ids of all sentences, length of each sentence, sentences per document), in order.
        Sentences are never empty; a document may have none (it tokenized to nothing)."""
        ascii_ids = [i for i, text in enumerate(texts) if text.isascii()]
        if len(ascii_ids) in (0, len(texts)):
            return self._group(texts)
        # One byte per character for ASCII documents: split them apart from the others.
        ascii_set = set(ascii_ids)
        other_ids = [i for i in range(len(texts)) if i not in ascii_set]
        groups = [(ids, self._group([texts[i] for i in ids])) for ids in (ascii_ids, other_ids)]
        return _interleave(groups, len(texts))

    def _group(self, texts: Sequence[str]) -> tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]:
        joined = _JOINER.join(texts)
        if all(token is not None and mark not in joined for mark, token in self.marks):
            result = self._tokenize_marked(texts, joined)
            if result is not None:
                return result
        self.fallback_batches += 1
        sentences, counts = self.splitter.split_many(texts)
        ids, lengths = self.encoder.encode(sentences)
        return _drop_empty(ids, lengths, counts)

    def _tokenize_marked(self, texts: Sequence[str], joined: str):
        (sentence_mark, sentence_id), (document_mark, document_id) = self.marks
        cuts = self.splitter.boundaries(joined)
        document_ends = numpy.cumsum([len(t) + len(_JOINER) for t in texts])[:-1] - len(_JOINER)
        at_document_end = numpy.isin(cuts, document_ends)
        places = numpy.concatenate([cuts[~at_document_end], document_ends])
        marks = numpy.concatenate([numpy.zeros((~at_document_end).sum(), dtype=numpy.int64),
                                   numpy.ones(len(document_ends), dtype=numpy.int64)])
        marked = _replace_characters(joined, places, [sentence_mark, document_mark], marks)
        ids = self.encoder.encode_text(marked)
        is_sentence_end, is_document_end = ids == sentence_id, ids == document_id
        sentence_marks = len(places) - len(document_ends)
        if int(is_document_end.sum()) != len(document_ends) or int(is_sentence_end.sum()) != sentence_marks:
            return None  # never expected, but the marks are never trusted blindly
        ends = numpy.flatnonzero(is_sentence_end | is_document_end)
        # Piece k holds the ids between mark k-1 and mark k (the last piece runs to the end).
        lengths = numpy.diff(numpy.concatenate([[-1], ends, [len(ids)]])) - 1
        # Document d ends with its document mark (the last one at the end of the text).
        pieces_per_document = numpy.diff(numpy.concatenate(
            [[0], numpy.flatnonzero(is_document_end[ends]) + 1, [len(lengths)]]))
        return _drop_empty(ids[~(is_sentence_end | is_document_end)], lengths, pieces_per_document)


def _replace_characters(text: str, places: numpy.ndarray, replacements: list[str],
                        which: numpy.ndarray) -> str:
    """`text` with the character at each of `places` replaced by replacements[which[i]] (strings
    of one length), built with numpy on the code points (no Python work per place)."""
    width = len(replacements[0])
    if text.isascii() and all(r.isascii() for r in replacements):
        dtype, encoding = numpy.uint8, "ascii"
    else:
        dtype, encoding = numpy.uint32, "utf-32-le"
    codes = numpy.frombuffer(text.encode(encoding, "surrogatepass"), dtype=dtype)
    table = numpy.stack([numpy.frombuffer(r.encode(encoding), dtype=dtype) for r in replacements])
    order = numpy.argsort(places, kind="stable")
    places, rows = places[order], table[which[order]]
    # Each replaced character is repeated `width` times, then those slots are overwritten.
    repeats = numpy.ones(len(codes), dtype=numpy.int64)
    repeats[places] = width
    out = numpy.repeat(codes, repeats)
    starts = places + (width - 1) * numpy.arange(len(places))
    out[(starts[:, None] + numpy.arange(width)).ravel()] = rows.ravel()
    return out.tobytes().decode(encoding, "surrogatepass")


def _drop_empty(ids: numpy.ndarray, lengths: numpy.ndarray,
                counts: numpy.ndarray) -> tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]:
    """Remove zero-length sentences (whitespace between cuts, text that tokenizes to nothing)."""
    empty = lengths == 0
    if not empty.any():
        return ids, lengths, counts
    document_of = numpy.repeat(numpy.arange(len(counts)), counts)
    counts = counts - numpy.bincount(document_of[empty], minlength=len(counts))
    return ids, lengths[~empty], counts


def _interleave(groups: list[tuple[list[int], tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]]],
                n_documents: int) -> tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]:
    """Put the documents of several groups back into their original order."""
    id_pieces: list = [None] * n_documents
    length_pieces: list = [None] * n_documents
    counts = numpy.zeros(n_documents, dtype=numpy.int64)
    for documents, (ids, lengths, group_counts) in groups:
        sentence_bounds = numpy.concatenate([[0], numpy.cumsum(group_counts)]).tolist()
        token_bounds = numpy.concatenate([[0], numpy.cumsum(lengths)])[sentence_bounds].tolist()
        for j, document in enumerate(documents):
            id_pieces[document] = ids[token_bounds[j]:token_bounds[j + 1]]
            length_pieces[document] = lengths[sentence_bounds[j]:sentence_bounds[j + 1]]
        counts[documents] = group_counts
    return numpy.concatenate(id_pieces), numpy.concatenate(length_pieces), counts
