"""Parallel bounded word counting and the WordPiece trainer's input."""

from collections import Counter

from tokenizer.train_wordpiece import _feed, most_frequent, train_wordpiece
from tokenizer.word_counts import alphabet_from_counts, count_corpus_words
from tokenizer.words import split_words


def test_parallel_counts_equal_serial_and_reference(heldout_notes: list[str]) -> None:
    texts = heldout_notes * 3
    options = {"lowercase": False, "unicode_form": "NFKC", "max_table_words": 10**6}
    serial = count_corpus_words(texts, workers=1, **options)
    parallel = count_corpus_words(texts, workers=2, **options)
    reference = Counter(w for text in texts for w in split_words(text, lowercase=False))
    assert serial.counts == parallel.counts == reference
    assert parallel.words_counted == reference.total() and parallel.prunes == 0


def test_table_is_bounded_and_keeps_the_frequent_words() -> None:
    texts = [" ".join(f"rare{i}" for i in range(j, j + 500)) + " common" * 50 for j in range(0, 20_000, 500)]
    table = count_corpus_words(texts, lowercase=True, unicode_form="", workers=2, max_table_words=1000)
    assert len(table.counts) <= 1000 and table.prunes > 0
    assert table.counts["common"] == 50 * len(texts)


def test_most_frequent_breaks_ties_by_word() -> None:
    counts = Counter({"b": 2, "a": 2, "c": 2, "z": 9, "y": 1})
    assert most_frequent(counts, 3) == [("z", 9), ("a", 2), ("b", 2)]
    assert most_frequent(counts, 10) == [("z", 9), ("a", 2), ("b", 2), ("c", 2), ("y", 1)]


def test_feed_repeats_each_word_by_its_count_in_bounded_strings() -> None:
    pieces = list(_feed([("mg", 10_000), ("bid", 3)]))
    assert Counter(w for piece in pieces for w in piece.split()) == {"mg": 10_000, "bid": 3}
    assert max(len(piece.split()) for piece in pieces) <= 4096


def test_alphabet_covers_characters_by_frequency() -> None:
    counts = Counter({"abc": 1000, "\u00e9t\u00e9": 50, "x\u2603": 1})
    assert alphabet_from_counts(counts, 0.99) == ["a", "b", "c", "t", "x", "\u00e9"]
    assert "\u2603" in alphabet_from_counts(counts, 1.0)


def test_wordpiece_training_is_reproducible(heldout_notes: list[str]) -> None:
    table = count_corpus_words(heldout_notes, lowercase=False, unicode_form="NFKC", workers=1,
                               max_table_words=10**6)
    alphabet = alphabet_from_counts(table.counts, 0.9999)
    first = train_wordpiece(table.counts, 2000, alphabet, max_words=5000)
    assert first == train_wordpiece(table.counts, 2000, alphabet, max_words=5000)
    assert "##" + alphabet[0] in first and len(first) > 1500
