"""Document cleaning: the fast str.replace form equals the plain regex definition."""

from __future__ import annotations

import random
import re

from data_prep.clean import DOCUMENT_MARK, SENTENCE_MARK, clean_document
from tokenizer.words import normalize_text


def regex_clean(text: str, unicode_form: str) -> str:
    """The definition: NFKC, marks removed, line ends, [ \\t\\f\\v\\xa0]+ -> one space,
    ' +\\n' -> newline, 3+ newlines -> 2, stripped."""
    text = normalize_text(text, unicode_form).replace(SENTENCE_MARK, "").replace(DOCUMENT_MARK, "")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[ \t\f\v\u00a0]+", " ", text)
    text = re.sub(r" +\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def test_clean_equals_the_regex_definition() -> None:
    rng = random.Random(0)
    alphabet = [" ", "\t", "\n", "\r", "\f", "\v", "\xa0", "a", ".", "\u3000", "\r\n", "ﬁ", "É",
                SENTENCE_MARK, DOCUMENT_MARK, "[**Name**]"]
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        assert clean_document(text, "NFKC") == regex_clean(text, "NFKC"), repr(text)
        assert clean_document(text, "") == regex_clean(text, ""), repr(text)


def test_deid_placeholders_and_marks() -> None:
    text = "Seen by [**Doctor Name**] on [DATE].\x1e Next\x1dline"
    assert clean_document(text, "NFKC") == "Seen by [**Doctor Name**] on [DATE]. Nextline"
