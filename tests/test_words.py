"""Our fast BERT word splitting equals HF's BertNormalizer + BertPreTokenizer."""

from collections import Counter

import pytest
from tokenizers import normalizers, pre_tokenizers

from tokenizer.words import count_words, normalize_text, split_words

TRICKY = [
    "Pt. given 5mg p.o. b.i.d.; BP 120/80. HR 72 \u2014 T 37.5\u00b0C, SpO2 97% on RA.",
    "caf\u00e9 na\u00efve \u00c9COLE \u201cquoted\u201d x\u00b2 \u00bd e\u0301 \u00bfqu\u00e9? "
    "\u00abguill\u00bb \u2010dash\u2026",
    "\u4e2d\u6587\u5b57 mixed\u4e2dtext \u00dfstra\u00dfe \u0130stanbul \u01c5 \ufb00 \u338f "
    "\U0001d400bold \U0001f600",
    "nel\x85joins line\u2028sep para\u2029sep mvs\u180ejoin bom\ufeffjoin \x1cfs\x1dgs",
    "ctrl\x07char zero\u200bwidth nb\u00a0sp tab\tand\r\nCRLF ok_go #1 ~tilde [**Name**] [NAME]",
    "",
]


@pytest.mark.parametrize("lowercase", [False, True])
@pytest.mark.parametrize("text", TRICKY)
def test_words_equal_hf_bert_pre_tokenization(text: str, lowercase: bool) -> None:
    normalizer = normalizers.BertNormalizer(lowercase=lowercase, clean_text=True, handle_chinese_chars=True)
    pieces = pre_tokenizers.BertPreTokenizer().pre_tokenize_str(normalizer.normalize_str(text))
    expected = [word for word, _ in pieces]
    assert split_words(text, lowercase) == expected
    assert count_words(text, lowercase) == Counter(expected)


def test_count_words_accumulates_into_given_counter() -> None:
    counts = count_words("BP 120/80.", lowercase=False)
    count_words("BP stable.", lowercase=False, counts=counts)
    assert counts["BP"] == 2 and counts["."] == 2 and counts["/"] == 1


def test_nfkc_normalization_only_touches_non_ascii() -> None:
    assert normalize_text("\ufb01nal 10\u00b3", "NFKC") == "final 103"
    ascii_text = "no change"
    assert normalize_text(ascii_text, "NFKC") is ascii_text
    assert normalize_text("\ufb01", "") == "\ufb01"
