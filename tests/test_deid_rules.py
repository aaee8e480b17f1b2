"""The de-id rule layer: fixed-shape identifiers found on synthetic 2014 notes, context and validation,
per-institution patterns, and rule + model spans merged with their sources."""

from __future__ import annotations

from collections import Counter

import pytest

from finetune.deid.rules import RULE_NAMES, PhiSpan, build_rules, find_rule_spans, merge_spans
from gatortron_common.logging import InputError
from synthetic.annotated import generate_corpus

SHAPED = {"PHONE", "FAX", "EMAIL", "URL", "IPADDR", "SSN", "MEDICALRECORD", "ACCOUNT"}


def test_rules_find_the_fixed_shape_phi_of_synthetic_notes() -> None:
    documents = generate_corpus("i2b2_2014", seed=5, documents=30)
    rules = build_rules()
    found, missed, wrong = Counter(), Counter(), Counter()
    for document in documents:
        spans = {(s.start, s.end): s.subtype for s in find_rule_spans(document.text, rules)}
        for entity in document.entities:
            if entity.type in SHAPED or entity.type == "DATE":
                if spans.get((entity.start, entity.end)) == entity.type:
                    found[entity.type] += 1
                else:
                    missed[entity.type] += 1
        gold = {(e.start, e.end) for e in document.entities}
        wrong.update(subtype for key, subtype in spans.items() if key not in gold)
    for subtype in SHAPED:  # every shaped identifier, exactly, with the right subtype (FAX by context)
        assert found[subtype] >= 30 and missed[subtype] == 0, (subtype, found[subtype], missed[subtype])
    assert found["DATE"] / (found["DATE"] + missed["DATE"]) > 0.95
    assert sum(wrong.values()) <= 0.02 * sum(found.values()), wrong


@pytest.mark.parametrize(("text", "expected"), [
    ("Fax: 352-555-0101", [("352-555-0101", "FAX")]),
    ("call (904) 555-0199 now", [("(904) 555-0199", "PHONE")]),
    ("host 192.0.2.17, not 999.1.2.3", [("192.0.2.17", "IPADDR")]),
    ("BP 140/90, seen 12/31/2067", [("12/31/2067", "DATE")]),
    ("MRN # 12345678 and Acct no. 9876543210", [("12345678", "MEDICALRECORD"), ("9876543210", "ACCOUNT")]),
    ("see https://portal.example.org/ann.", [("https://portal.example.org/ann", "URL")]),
    ("Seen 3 May 2067 and May 2068.", [("3 May 2067", "DATE"), ("May 2068", "DATE")]),
])
def test_rule_shapes_context_and_validation(text: str, expected: list[tuple[str, str]]) -> None:
    spans = find_rule_spans(text, build_rules())
    assert [(text[s.start:s.end], s.subtype) for s in spans] == expected
    assert all(s.sources[0].startswith("rule:") and s.category for s in spans)


def test_rules_are_switched_and_replaced_by_name() -> None:
    text = "MRN: UF-00123 and 555-12-3456"
    assert not [s for s in find_rule_spans(text, build_rules()) if s.subtype == "MEDICALRECORD"]
    custom = build_rules(enabled=["mrn"], patterns={"mrn": [r"MRN:\s*(UF-\d{5})"]}, scores={"mrn": 0.5})
    span, = find_rule_spans(text, custom)
    assert (text[span.start:span.end], span.score, span.sources) == ("UF-00123", 0.5, ("rule:mrn",))
    with pytest.raises(InputError, match="unknown rule"):
        build_rules(enabled=["phone", "zipcode"])
    with pytest.raises(InputError, match=r"rules.patterns.mrn: not a regular expression"):
        build_rules(patterns={"mrn": ["(unclosed"]})
    assert set(RULE_NAMES) >= {"phone", "email", "url", "ipaddr", "ssn", "mrn", "account", "date"}


def test_rule_and_model_spans_merge_into_unions_that_keep_every_source() -> None:
    model = [PhiSpan(10, 20, "CONTACT", "PHONE", 0.6, ("model",)),
             PhiSpan(40, 45, "NAME", "PATIENT", 0.9, ("model",))]
    rules = [PhiSpan(12, 24, "CONTACT", "PHONE", 0.9, ("rule:phone",)),
             PhiSpan(30, 35, "ID", "SSN", 0.95, ("rule:ssn",)),
             PhiSpan(44, 46, "DATE", "DATE", 0.8, ("rule:date",))]
    merged = merge_spans(model + rules)
    assert [(s.start, s.end, s.subtype, s.score, s.sources) for s in merged] == [
        (10, 24, "PHONE", 0.9, ("model", "rule:phone")),
        (30, 35, "SSN", 0.95, ("rule:ssn",)),
        (40, 46, "PATIENT", 0.9, ("model", "rule:date")),
    ]
    # A model that found nothing: the rules alone still catch phones, e-mails and SSNs.
    text = "Call 352-555-0101 or mail ann.lee@example.org; SSN 987-65-4321."
    caught = merge_spans(find_rule_spans(text, build_rules()))
    assert {s.subtype for s in caught} == {"PHONE", "EMAIL", "SSN"}
