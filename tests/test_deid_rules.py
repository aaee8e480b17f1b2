"""The de-id rule layer: one hand-written case per shape, the hand-written evaluation notes, the
word lists, institution rules and lists, and rule + model spans merged with their sources.

The shape cases (`tests/data/deid_shapes.jsonl`) and the evaluation notes (`tests/data/deid_eval/`:
104 notes in 104 styles, i2b2 2014 XML; part `g` held out until the rules were final) were written
by hand for these tests, not by `synthetic/`, whose templates were written to fit the rules.
Recall per shape, per category and per part is printed (`-s`).
"""

from __future__ import annotations

import bisect
import json
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import regex
from hydra import compose, initialize_config_dir

import finetune.deid.tool  # noqa: F401  registers the deid settings schema
from finetune.corpora.formats.i2b2_2014 import CATEGORY_OF, read
from finetune.corpora.formats.report import FormatReport
from finetune.deid.detectors import RULE_NAMES, build_rules, find_rule_spans
from finetune.deid.lexicon import lexicon
from finetune.deid.rules import PhiSpan, Rule, merge_spans
from gatortron_common.logging import InputError
from gatortron_common.settings import HYDRA_VERSION

DATA = Path(__file__).parent / "data"
TOKEN = regex.compile(r"[^\W_]+")
# The shapes the issue lists: each must be found whole.
REQUIRED_SHAPES = (
    "date-iso", "date-iso-time", "date-mdy-slash", "date-dots", "date-ymd-slash", "date-ddmonyyyy",
    "date-dd-mon-yyyy", "date-month-ordinal-year", "mrn-long-label", "mrn-lowercase", "mrn-mr-hash-nospace",
    "phone-ext-x", "phone-ext-word", "ssn-spaces", "ssn-dots", "ssn-no-separators", "url-https-upper",
    "url-bare-domain", "ipv6-full", "ipv6-compressed", "age-yo-space", "age-words-space", "age-words-hyphen",
    "name-nfd", "healthplan-member-id", "license-dea", "license-npi", "device-s-n", "vehicle-plate",
    "username-label", "room-room", "street-numbered", "city-state-zip", "zip-plus-four", "country",
    "hospital-long", "name-signature", "name-letter-salutation", "name-cc", "name-seen-by-credential")
# Names of places and people by where they stand (context rules), each found whole too.
CONTEXT_SHAPES = (
    "department-named-unit", "department-icu-named", "department-ward-number", "department-after-hospital",
    "hospital-letterhead", "organization-field-employer", "organization-field-payer",
    "organization-affiliation-works", "organization-affiliation-profession", "organization-affiliation-plays",
    "hospital-affiliation-transferred", "organization-military", "organization-county-department",
    "hospital-two-proper-words", "date-iso-space-time", "date-ordinal-after-the", "date-month-alone",
    "age-after-dob", "age-children-list", "phone-extension-paged", "name-chat-speaker",
    "name-relative-lowercase", "name-last-first-two-spaces", "name-father-of-baby",
    "username-initial-surname",
    "id-prefix-space-value", "id-isbt-unit", "street-lower-case", "room-letter-digits")


def _token_counts(text: str, gold: list[tuple[int, int]], found: list[PhiSpan]) -> tuple[int, int, int]:
    """(PHI tokens found, PHI tokens missed, non-PHI tokens marked) of one text."""
    hit = missed = wrong = 0
    for match in TOKEN.finditer(text):
        start, end = match.span()
        is_phi = any(s < end and start < e for s, e in gold)
        marked = any(span.start < end and start < span.end for span in found)
        hit += is_phi and marked
        missed += is_phi and not marked
        wrong += marked and not is_phi
    return hit, missed, wrong


@pytest.fixture(scope="module")
def rules():
    return build_rules()


def _shape_cases() -> list[dict]:
    with open(DATA / "deid_shapes.jsonl", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def test_every_listed_shape_is_found_on_hand_written_cases(rules) -> None:
    cases = {case["shape"]: case for case in _shape_cases()}
    assert set(REQUIRED_SHAPES + CONTEXT_SHAPES) <= set(cases), sorted(set(REQUIRED_SHAPES + CONTEXT_SHAPES)
                                                                       - set(cases))
    totals = Counter()
    print("\nshape recall (PHI tokens found / PHI tokens):")
    for name, case in cases.items():
        found = rules.find(case["text"])
        hit, missed, wrong = _token_counts(case["text"], [(s, e) for s, e, _ in case["phi"]], found)
        totals.update(hit=hit, missed=missed, wrong=wrong)
        if hit + missed:
            print(f"  {name:40s} {hit}/{hit + missed}")
        if name in REQUIRED_SHAPES or name in CONTEXT_SHAPES:
            assert missed == 0 and wrong == 0, (name, hit, missed, wrong)
        if name.startswith("neg-"):  # look-alikes: "BP 120/80", "5-10 mg", "Lasix", "Bell's palsy"
            assert wrong == 0, name
    recall = totals["hit"] / (totals["hit"] + totals["missed"])
    precision = totals["hit"] / (totals["hit"] + totals["wrong"])
    print(f"all shapes: recall {recall:.3f} precision {precision:.3f}")
    assert recall >= 0.95 and precision >= 0.95


def _eval_notes() -> list:
    report = FormatReport()
    documents = read(DATA / "deid_eval", report)
    assert len(documents) >= 30
    return documents


_FOUND: dict[tuple[int, str], tuple[object, list[tuple[int, int, str]]]] = {}


def _covering(spans: list[tuple[int, int, str]], start: int, end: int) -> str | None:
    """The label of a span of `spans` (sorted, not overlapping) that overlaps [start, end), if any."""
    at = bisect.bisect_right(spans, (start, float("inf"), "")) - 1
    for index in (at, at + 1):
        if 0 <= index < len(spans) and spans[index][0] < end and start < spans[index][1]:
            return spans[index][2]
    return None


def _score(documents, rules) -> tuple[float, float, dict[str, tuple[int, int]]]:
    """Token recall, precision and (found, missed) PHI tokens per category, in one pass per note."""
    hit = missed = wrong = 0
    by_category: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for document in documents:
        # each note is run once per rule set (overall, per part, held out); the entry keeps the rule set
        # alive, so its id is never reused by another
        key = (id(rules), document.id)
        if key not in _FOUND:
            _FOUND[key] = (rules, [(span.start, span.end, "") for span in rules.find(document.text)])
        found = _FOUND[key][1]  # merged spans: no overlaps
        gold = sorted((e.start, e.end, CATEGORY_OF[e.type]) for e in document.entities)
        for match in TOKEN.finditer(document.text):
            category = _covering(gold, *match.span())  # gold spans never overlap
            marked = _covering(found, *match.span()) is not None
            if category is None:
                wrong += marked
                continue
            hit, missed = hit + marked, missed + (not marked)
            by_category[category][0 if marked else 1] += 1
    return hit / (hit + missed), hit / (hit + wrong), {k: tuple(v) for k, v in by_category.items()}


def test_rules_alone_on_hand_written_notes_of_many_styles(rules) -> None:
    documents = _eval_notes()
    subtypes = {entity.type for document in documents for entity in document.entities}
    assert subtypes == set(CATEGORY_OF), set(CATEGORY_OF) - subtypes  # every i2b2 2014 subtype appears
    recall, precision, by_category = _score(documents, rules)
    print(f"\nrules alone on {len(documents)} hand-written notes: token recall {recall:.3f}, "
          f"precision {precision:.3f}")
    for category, (hit, missed) in sorted(by_category.items()):
        print(f"  {category:12s} recall {hit / max(1, hit + missed):.3f} ({hit + missed} tokens)")
    for part in "abcdefg":  # a: development; b-f: measured blind, then development; g: held out
        part_recall, part_precision, _ = _score([d for d in documents if d.id.startswith(part)], rules)
        print(f"  part {part}: recall {part_recall:.3f}, precision {part_precision:.3f}")
    # Measured .947 / .960 on all, .910 / .948 on the held-out part (bench/RESULTS.md, deid_detectors.py);
    # floors below them catch regressions, and the held-out part must keep the goal.
    assert recall >= 0.93 and precision >= 0.95
    held_out_recall, held_out_precision, _ = _score([d for d in documents if d.id.startswith("g")], rules)
    assert held_out_recall >= 0.90 and held_out_precision >= 0.85
    for category in ("DATE", "CONTACT", "ID", "AGE", "NAME"):
        hit, missed = by_category[category]
        assert hit / (hit + missed) >= 0.85, category


def test_the_clinical_allow_list_raises_precision_and_costs_no_recall() -> None:
    documents = _eval_notes()
    with_list = _score(documents, build_rules())
    without = _score(documents, build_rules(clinical_allow=False))
    print(f"\nallow-list: precision {without[1]:.3f} -> {with_list[1]:.3f}, "
          f"recall {without[0]:.3f} -> {with_list[0]:.3f}")
    assert with_list[1] > without[1] and with_list[0] >= without[0] - 0.005


@pytest.mark.parametrize("text", ["Lasix 40 mg daily", "Bell's palsy on the left", "BP 120/80, HR 72",
                                  "take 5-10 mg as needed", "Parkinson's disease, on Sinemet",
                                  "Foley catheter placed; Murphy's sign negative", "strength 4/5 in the RUE"])
def test_clinical_words_and_measurements_are_never_phi(rules, text: str) -> None:
    assert rules.find(text) == []


def test_a_rule_is_compiled_when_made_and_bad_settings_are_refused() -> None:
    rule = Rule("badge", "IDNUM", (r"Badge (\d{4})",))
    span, = rule.find("Badge 4471 at the desk")
    assert (span.start, span.end, span.sources) == (6, 10, ("rule:badge",))
    with pytest.raises(InputError, match="rules.patterns.bad: not a regular expression"):
        Rule("bad", "IDNUM", ("(unclosed",))
    with pytest.raises(InputError, match="unknown subtype"):
        Rule("bad", "PASSPORT", (r"\d+",))
    with pytest.raises(InputError, match="unknown rule"):
        build_rules(enabled=["phone", "zipcode"])
    with pytest.raises(InputError, match=r"rules.custom: phone already"):
        build_rules(custom={"phone": {"subtype": "PHONE", "patterns": [r"\d+"]}})
    with pytest.raises(InputError, match=r"rules.deny.NAMES: unknown subtype"):
        build_rules(deny={"NAMES": ["x"]})
    assert {"phone", "date", "age", "names", "places", "institutions", "professions",
            "street"} <= set(RULE_NAMES)


def test_institutions_add_rules_deny_lists_and_allow_lists(tmp_path: Path) -> None:
    staff = tmp_path / "staff.txt"
    staff.write_text("# our staff\nQuill\n", encoding="utf-8")
    ours = build_rules(enabled=["mrn", "names"], patterns={"mrn": [r"MRN:\s*(UF-\d{5})"]},
                       custom={"badge": {"subtype": "IDNUM", "patterns": [r"Badge (\d{4})"], "score": 0.7}},
                       deny={"HOSPITAL": ["Oakhaven"]}, deny_files={"DOCTOR": str(staff)}, allow=["Velmora"])
    text = "MRN: UF-00123. Badge 4471. Seen at Oakhaven by quill. Velmora Grennick is stable."
    spans = {text[s.start:s.end]: (s.subtype, s.sources) for s in ours.find(text)}
    assert spans["UF-00123"] == ("MEDICALRECORD", ("rule:mrn",))
    assert spans["4471"] == ("IDNUM", ("rule:badge",))
    assert spans["Oakhaven"][0] == "HOSPITAL" and "rule:deny" in spans["Oakhaven"][1]
    assert spans["quill"][0] == "DOCTOR"  # a deny-list matches in any case
    assert "Velmora" not in " ".join(spans)  # allowed
    assert any("Grennick" in key for key in spans)


def test_names_with_combining_marks_are_whole_words(rules) -> None:
    nfd = unicodedata.normalize("NFD", "Dr. Müller and Mrs. José Peña")
    found = [nfd[s.start:s.end] for s in rules.find(nfd)]
    assert found == [unicodedata.normalize("NFD", "Müller"), unicodedata.normalize("NFD", "José Peña")]
    deny = build_rules(enabled=[], clinical_allow=False, deny={"DOCTOR": ["Müller"]})
    assert [nfd[s.start:s.end] for s in deny.find(nfd)] == [unicodedata.normalize("NFD", "Müller")]


def test_a_name_found_once_is_found_everywhere_in_the_note_and_the_patients_later_notes(rules) -> None:
    text = "Patient: Okonjo Adaeze\nadaeze reports pain. Spoke with Adaeze's sister."
    found = [text[s.start:s.end] for s in rules.find(text)]
    assert found.count("Adaeze") == 1 and "adaeze" in found and "Okonjo Adaeze" in found
    memory: dict[str, str] = {}
    rules.find("Patient: Hope Summer", memory=memory)
    later = "Summer was seen again today."
    assert [later[s.start:s.end] for s in rules.find(later, memory=memory)] == ["Summer"]
    assert rules.find(later) == []  # without the patient's memory the lone word is not known


def test_word_lists_are_shipped_and_read_folded() -> None:
    words = lexicon()
    assert len(words.surnames) > 100_000 and len(words.given) > 5_000 and len(words.cities) > 15_000
    assert len(words.clinical) > 3_000 and len(words.professions) > 200 and len(words.states) >= 51
    assert words.is_name_word("nguyen") and words.is_name_word("gonzalez") and words.is_name_word("smith")
    assert not words.is_name_word("will") and not words.is_name_word("niece") \
        and not words.is_name_word("lasix")
    assert "lasix" in words.clinical and "welder" in words.professions and words.states["florida"] == "FL"


def test_rule_and_model_spans_merge_and_a_fixed_shape_rule_keeps_its_subtype() -> None:
    model = [PhiSpan(10, 20, "CONTACT", "PHONE", 0.6, ("model",)),
             PhiSpan(40, 45, "NAME", "PATIENT", 0.9, ("model",)),
             PhiSpan(60, 68, "AGE", "AGE", 0.7, ("model",))]
    found = [PhiSpan(12, 24, "CONTACT", "PHONE", 0.9, ("rule:phone",)),
             PhiSpan(30, 35, "ID", "SSN", 0.95, ("rule:ssn",)),
             PhiSpan(44, 46, "DATE", "DATE", 0.8, ("rule:date",)),
             PhiSpan(60, 68, "ID", "MEDICALRECORD", 0.9, ("rule:mrn",))]
    merged = merge_spans(model + found)
    assert [(s.start, s.end, s.subtype, s.score, s.sources) for s in merged] == [
        (10, 24, "PHONE", 0.9, ("model", "rule:phone")),
        (30, 35, "SSN", 0.95, ("rule:ssn",)),
        (40, 46, "PATIENT", 0.9, ("model", "rule:date")),  # a rule touching a model name: the name stays
        (60, 68, "MEDICALRECORD", 0.9, ("model", "rule:mrn")),  # the model called an MRN an age
    ]
    text = "Call 352-555-0101 or mail ann.lee@example.org; SSN 987-65-4321."
    assert {s.subtype for s in find_rule_spans(text, build_rules())} == {"PHONE", "EMAIL", "SSN"}


def test_the_command_line_runs_every_shipped_rule() -> None:
    # The YAML does not restate rules.enabled, so a rule added to the code runs from the command line.
    with initialize_config_dir(config_dir=str(Path(__file__).parents[1] / "configs" / "finetune"),
                               version_base=HYDRA_VERSION):
        config = compose(config_name="deid", overrides=["model=null", "input=x", "output=y"])
    assert list(config.rules.enabled) == list(RULE_NAMES)


def test_each_detector_is_a_switchable_named_rule_whose_name_is_the_spans_source() -> None:
    text = "Seen by Dr. Okafor at Lakeview Regional Medical Center in Gainesville, FL 32608 on 03/04/2019."
    everything = build_rules().find(text)
    sources = {source for span in everything for source in span.sources}
    assert {"rule:names", "rule:institutions", "rule:address", "rule:date"} <= sources
    without_names = build_rules(enabled=[name for name in RULE_NAMES if name != "names"]).find(text)
    assert "Okafor" not in [text[s.start:s.end] for s in without_names]
    assert all("rule:names" not in span.sources for span in without_names)


def test_the_model_filter_keeps_what_could_be_phi_and_drops_the_rest() -> None:
    text = "Pt reports pain 8/10. Seen by Zubkova in clinic; BP 140/90; HR 88; call 352-555-0101 re: 72 yo."
    def model(piece: str, subtype: str) -> PhiSpan:
        start = text.index(piece)
        return PhiSpan(start, start + len(piece), CATEGORY_OF[subtype], subtype, 0.6, ("model",))
    guesses = [model("Pt reports pain", "PATIENT"), model("8/10", "DATE"), model("Seen by Zubkova", "DOCTOR"),
               model("140/90", "DATE"), model("88", "AGE"), model("352-555-0101", "PHONE"),
               model("72", "AGE")]
    kept = build_rules(enabled=[]).find(text, model=guesses)
    assert [(text[s.start:s.end], s.subtype) for s in kept] == [
        ("Zubkova", "DOCTOR"), ("352-555-0101", "PHONE"), ("72", "AGE")]
    trusting = build_rules(enabled=[], filter_model=False).find(text, model=guesses)
    assert len(trusting) == len(guesses)
