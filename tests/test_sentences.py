"""Clinical sentence splitting: the shipped gold set and each rule on its own."""

import json
from pathlib import Path

import pytest

from data_prep.sentences import ClinicalSentenceSplitter

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
