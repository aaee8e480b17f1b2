"""Clinical sentence splitting: the shipped gold set and each rule on its own."""

import json
import random
from pathlib import Path

import pytest
from reference_sentences import ClinicalSentenceSplitter as ReferenceSplitter

from data_prep.clean import clean_document
from data_prep.sentences import ClinicalSentenceSplitter
from synthetic.corpora.notes import generate_notes

GOLD = Path(__file__).parent / "data" / "sentence_gold.jsonl"
CASES = [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]
splitter = ClinicalSentenceSplitter()


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_gold_passages_split_exactly(case: dict) -> None:
    assert splitter.split(case["text"]) == case["sentences"]
    assert [case["text"][s:e] for s, e in splitter.spans(case["text"])] == case["sentences"]


def test_gold_set_covers_the_clinical_cases() -> None:
    ids = {c["id"] for c in CASES}
    assert {"vitals", "med_list", "hpi_header_own_line", "wrapped_paragraph", "titles_and_initials",
            "dosing_then_sentence", "short_lines_table"} <= ids
    assert sum(len(c["sentences"]) - 1 for c in CASES) >= 40


@pytest.mark.parametrize(("text", "expected"), [
    ("", []),
    ("   \n\n  ", []),
    ("no terminal punctuation", ["no terminal punctuation"]),
    ("Take 5 mg p.o. b.i.d. Recheck in 1 week.", ["Take 5 mg p.o. b.i.d.", "Recheck in 1 week."]),
    ("Take 5 mg p.o. with food.", ["Take 5 mg p.o. with food."]),
    ("Seen by Dr. Lee. Stable.", ["Seen by Dr. Lee.", "Stable."]),
    ("BP 142/90. HR 88.", ["BP 142/90.", "HR 88."]),
    ("PLAN: Continue current regimen.", ["PLAN:", "Continue current regimen."]),
    ("Labs reviewed: Na 135.", ["Labs reviewed: Na 135."]),  # not an ALL-CAPS header
    ("1. Aspirin.\n2. Statin.", ["1. Aspirin.", "2. Statin."]),
    ("Short line\nNext line", ["Short line", "Next line"]),
    ("para one\n\n\npara two", ["para one", "para two"]),
    ("wrapped in the\nmiddle of a sentence.", ["wrapped in the\nmiddle of a sentence."]),
])
def test_rules(text: str, expected: list[str]) -> None:
    assert splitter.split(text) == expected


def test_long_wrapped_line_joins_capitalized_continuation_but_not_a_list() -> None:
    line = "The patient was evaluated in the emergency department and was seen by"
    assert splitter.split(f"{line}\nCardiology today.") == [f"{line}\nCardiology today."]
    assert splitter.split(f"{line}\n1. Cardiology today.") == [line, "1. Cardiology today."]
    narrow = ClinicalSentenceSplitter(wrapped_line_chars=200)
    assert narrow.split(f"{line}\nCardiology today.") == [line, "Cardiology today."]


# -- the vectorized splitter against the per-match reference implementation ------------------

# Pieces that exercise every rule and its edges: abbreviations (also quoted, bracketed, upper
# case), initials, list numbers after spaces/tabs/vertical tabs, headers of 2-61 letters, long
# space runs (the 64-character window), Unicode letters, digits and spaces next to boundaries.
_PIECES = [
    "Dr.", "dr.", "(Dr.", "\"e.g.", "etc..", "ct..", "p.o.", "b.i.d.", "J.", "j.", "É.", "İ.", "ǅ.", "ﬁ.",
    "1.", "12.", "123.", "1234.", "١.", "x1.", "mg.", "BP", "120/80.", "98.6°F.", "word", "words", "the",
    "Émile", "émile", "Ünal", "Σ", "٣", "(Ab", "\"Quote\"", "[note]", "Next", "next", "HPI", "OK!",
    "why?", "!!", "?!", "...", "Stop.)", "end.\"", "end.'", "•", "-", "*", "2)", "ALLCAPS", "PLAN:",
    "HISTORY OF PRESENT ILLNESS:", "A" * 61 + ":", "AB:", "A:", "LABS/IMAGING:", "Na 135:",
]
_SPACES = [" ", " ", " ", "  ", "\t", "\n", "\n", "\n\n", " \n", "\n  ", "\t\n", "\x0b", "\u3000", "\u00a0",
           "\r\n", "\x1c", " " * 70, "\n\x0b\n", "\u2028"]


def _fuzz_texts(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(0, 40)):
            parts.append(rng.choice(_PIECES))
            parts.append(rng.choice(_SPACES))
        if rng.random() < 0.2:
            parts.insert(0, rng.choice(_SPACES))
        texts.append("".join(parts))
    return texts


def test_vectorized_splitter_equals_the_reference_on_fuzzed_text() -> None:
    reference = ReferenceSplitter()
    texts = _fuzz_texts(seed=3, count=1500)
    for text in texts:
        assert splitter.spans(text) == reference.spans(text), repr(text)
    flat, counts = splitter.split_many(texts)
    assert flat == [s for text in texts for s in reference.split(text)]
    assert counts.tolist() == [len(reference.split(text)) for text in texts]


@pytest.mark.parametrize("wrapped_line_chars", [55, 20])
def test_vectorized_splitter_equals_the_reference_on_notes(wrapped_line_chars: int) -> None:
    notes = [n.text for n in generate_notes(seed=4, target_bytes=400_000)]
    cleaned = [clean_document(n, "NFKC") for n in notes]
    ours = ClinicalSentenceSplitter(wrapped_line_chars=wrapped_line_chars)
    reference = ReferenceSplitter(wrapped_line_chars=wrapped_line_chars)
    assert any(not n.isascii() for n in notes) and any(n.isascii() for n in notes)
    for text in notes + cleaned:
        assert ours.spans(text) == reference.spans(text)
    flat, counts = ours.split_many(cleaned)
    assert flat == [s for text in cleaned for s in reference.split(text)]


def test_boundaries_are_whitespace_between_sentences() -> None:
    for text in _fuzz_texts(seed=5, count=500):
        cuts = splitter.boundaries(text).tolist()
        assert cuts == sorted(set(cuts))
        assert all(text[cut].isspace() for cut in cuts)
        # Cutting there and stripping gives the sentences.
        pieces = [text[a:b].strip() for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
        assert [p for p in pieces if p] == splitter.split(text)
