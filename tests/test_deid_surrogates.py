"""Surrogates: shapes and formats kept, consistent per scope, keyed by the secret, never the original."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from finetune.deid.surrogates import Surrogates, shift_date

SAMPLES = {
    "PATIENT": ["John Smith", "Smith, John", "J. Smith", "SMITH", "mary o'neil"],
    "DOCTOR": ["Dr. Ann Lee", "Lee"], "USERNAME": ["jsmith42"], "PHONE": ["(352) 555-0101", "352.555.0101"],
    "FAX": ["904-555-0199"], "SSN": ["987-65-4321"], "MEDICALRECORD": ["A1234567"], "ZIP": ["32601"],
    "EMAIL": ["john.smith@uf.edu"], "URL": ["https://portal.ufhealth.org/jsmith", "www.smithclinic.com"],
    "IPADDR": ["10.1.2.3"], "CITY": ["Gainesville"], "STATE": ["FL", "Florida"], "AGE": ["45", "92"],
    "STREET": ["4003 Lake Rd"], "HOSPITAL": ["Gator Memorial Hospital"], "PROFESSION": ["carpenter"],
    "DATE": ["2067-05-03", "05/03/2067", "5/3/67", "5/3", "May 3, 2067", "May 2067", "3 May 2067"],
}
SHAPES = {"(352) 555-0101": r"\(\d{3}\) \d{3}-\d{4}", "352.555.0101": r"\d{3}\.\d{3}\.\d{4}",
          "904-555-0199": r"\d{3}-\d{3}-\d{4}", "987-65-4321": r"\d{3}-\d{2}-\d{4}",
          "A1234567": r"[A-Z]\d{7}",
          "32601": r"\d{5}", "Smith, John": r"[A-Z][a-z]+, [A-Z][a-z]+", "J. Smith": r"[A-Z]\. [A-Z][a-z]+",
          "SMITH": r"[A-Z]+", "2067-05-03": r"\d{4}-\d{2}-\d{2}", "05/03/2067": r"\d{2}/\d{2}/\d{4}",
          "5/3/67": r"\d{1,2}/\d{1,2}/\d{2}", "5/3": r"\d{1,2}/\d{1,2}",
          "May 3, 2067": r"[A-Z][a-z]+ \d{1,2}, \d{4}", "May 2067": r"[A-Z][a-z]+ \d{4}",
          "3 May 2067": r"\d{1,2} [A-Z][a-z]+ \d{4}", "FL": r"[A-Z]{2}", "10.1.2.3": r"192\.0\.2\.\d+",
          "john.smith@uf.edu": r"[a-z]+\.[a-z]+@example\.org"}


def test_surrogates_keep_shape_never_equal_the_original_and_depend_on_the_secret() -> None:
    one, two = Surrogates("secret one"), Surrogates("secret two")
    differ = 0
    for subtype, originals in SAMPLES.items():
        for original in originals:
            for scope in ("note:1", "patient:7"):
                surrogate = one.replace(original, subtype, scope)
                assert surrogate != original and surrogate == one.replace(original, subtype, scope)
                if original in SHAPES:
                    assert re.fullmatch(SHAPES[original], surrogate), (original, surrogate)
                differ += surrogate != two.replace(original, subtype, scope)
    assert differ >= 0.9 * 2 * sum(map(len, SAMPLES.values()))
    assert one.replace("92", "AGE", "note:1") == "90" and 43 <= int(one.replace("45", "AGE", "note:1")) <= 47


def test_names_map_word_by_word_and_dates_move_by_one_offset_per_scope() -> None:
    keys = Surrogates("k")
    full = keys.replace("John Smith", "PATIENT", "patient:1")
    alone = keys.replace("Smith", "PATIENT", "patient:1")
    assert full.split()[-1] == alone
    assert keys.replace("Smith, John", "PATIENT", "patient:1") == f"{alone}, {full.split()[0]}"
    first = dt.date.fromisoformat(keys.replace("2067-05-03", "DATE", "patient:1"))
    later = dt.datetime.strptime(keys.replace("05/31/2067", "DATE", "patient:1"), "%m/%d/%Y").date()
    assert (later - first).days == 28 and 30 <= abs((first - dt.date(2067, 5, 3)).days) <= 1095
    assert len({keys.date_offset(f"patient:{i}") for i in range(10)}) > 5  # an offset per scope


@pytest.mark.parametrize(("text", "days", "expected"), [
    ("2067-05-03", 10, "2067-05-13"), ("05/03/2067", -3, "04/30/2067"), ("5/3/67", 30, "6/2/67"),
    ("5/3", 1, "5/4"), ("May 3, 2067", 31, "June 3, 2067"), ("Dec 30, 2067", 5, "Jan 4, 2068"),
    ("3 May 2067", 1, "4 May 2067"), ("May 2067", 31, "June 2067"), ("MAY 2067", -31, "APRIL 2067"),
    ("2067-02-30", 1, None), ("next week", 1, None),
])
def test_dates_keep_their_format(text: str, days: int, expected: str | None) -> None:
    assert shift_date(text, days) == expected
