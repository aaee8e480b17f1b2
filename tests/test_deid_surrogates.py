"""Surrogates: nothing of the original survives, formats kept, name forms and dates consistent per scope.

The leak check here (`leaks`) is written independently of the module's own guard: no word (two
letters or more, case- and accent-blind) of any PHI span of the note in any surrogate of the note,
except the listed generic words; no run of two or more digits of the span in its surrogate, and
every digit changed at its place.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import unicodedata
from pathlib import Path

import pytest
import regex

from finetune.corpora.formats.i2b2_2014 import CATEGORY_OF
from finetune.deid.dates import shift_date
from finetune.deid.guard import surrogate_is_safe
from finetune.deid.rules import PhiSpan
from finetune.deid.surrogates import Surrogates
from synthetic import lexicon as lx

HANDWRITTEN = Path(__file__).parent / "data" / "deid_handwritten.jsonl"
WORD = regex.compile(r"\p{L}[\p{L}\p{M}]*")
SUBTYPES = sorted(CATEGORY_OF)
# Words a surrogate may keep: titles and suffixes, generic heads of places, date and age words,
# contact labels. Everything else of a PHI span must go.
ALLOWED = set("""
dr mr mrs ms miss mx prof rev fr med herr frau mme mlle sra srta dott md phd jr sr ii iii iv dds dmd pharmd
lpn rn np crna aprn cnm facs facp mph do pa
january february march april may june july august september october november december jan feb mar apr
jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday saturday sunday mon tue tues wed
thu thur thurs fri sat sun st nd rd th of the on at am pm
yo yr yrs year years old aged age yom yof male female man woman boy girl month months mo mos week weeks
wk wks day days and hundred zero one two three four five six seven eight nine ten eleven twelve
thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty thirty forty fourty fifty sixty
seventy eighty ninety
hospital hospitals medical medicine center centre centers clinic clinics memorial health healthcare
regional community general university college school church chapel bank library associates group unit
department dept institute foundation society club lodge company co inc llc corp corporation for in
saint street avenue ave road drive lane ln boulevard blvd court ct way terrace ter place pl circle
cir highway hwy parkway pkwy route rte suite ste apt apartment floor building bldg room rm bed nursing
rehabilitation rehab county public first hardware sons services office practice pharmacy laboratory lab
hospice facility home campground children women
www http https com org net edu gov html htm example mailto ext extn extension tel phone ph cell fax
mobile pager mrn acct account no num number id
""".split())


def fold(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c)).casefold()


def words(text: str) -> set[str]:
    return {key for word in WORD.findall(text) if len(key := fold(word)) >= 2}


def ascii_digits(text: str) -> str:
    return "".join(str(unicodedata.digit(c)) if c.isdecimal() else c for c in text)


def leaks(surrogate: str, original: str, note_phi: list[str], *, age: bool = False) -> list[str]:
    """What `surrogate` carries of its span or its note's PHI (empty: nothing)."""
    found = [f"word of the note's PHI ({len(w)} letters)" for w in
             words(surrogate) & (set().union(*map(words, note_phi)) - ALLOWED)]
    before = re.findall(r"\d+", ascii_digits(original))
    after = re.findall(r"\d+", ascii_digits(surrogate))
    if age:
        return found + (["age number kept"] if before and before == after else [])
    found += [f"digit run of {len(run)} kept" for run in before if len(run) >= 2
              and run in ascii_digits(surrogate)]
    if [len(r) for r in before] == [len(r) for r in after]:
        found += ["digit kept in place" for old, new in zip(before, after, strict=True)
                  for a, b in zip(old, new, strict=True) if a == b]
    return found


def spans_of(items: list[tuple[int, int, str]]) -> list[PhiSpan]:
    return [PhiSpan(start, end, CATEGORY_OF.get(subtype, subtype), subtype, 1.0, ("test",))
            for start, end, subtype in items]


def note(*pieces: tuple[str, str], glue: str = " ; ") -> tuple[str, list[PhiSpan]]:
    """A note made of (subtype, text) PHI pieces joined by `glue`."""
    text, items = "", []
    for subtype, piece in pieces:
        text += glue
        items.append((len(text), len(text) + len(piece), subtype))
        text += piece
    return text + glue, spans_of(items)


def replaced(surrogates: Surrogates, scope: str, *pieces: tuple[str, str]) -> list[str]:
    text, spans = note(*pieces)
    return surrogates.note_replacements(text, spans, scope)


def check_note(surrogates: Surrogates, text: str, spans: list[PhiSpan], scope: str) -> tuple[list[str], int]:
    """Replacements of a note, and how many spans were checked; fails on any leak."""
    out = surrogates.note_replacements(text, spans, scope)
    assert len(out) == len(spans) and all(isinstance(r, str) for r in out)
    phi = [text[s.start:s.end] for s in spans]
    checked = 0
    for span, original, new in zip(spans, phi, out, strict=True):
        tag = surrogates.tag_template.format(category=span.category, subtype=span.subtype)
        if new == tag or (span.subtype == "DATE") or (span.subtype == "AGE" and "90+" in new):
            continue  # the tag; a date that moved (its protection is the shift); the HIPAA age category
        problems = leaks(new, original, phi, age=span.subtype == "AGE")
        assert not problems, (scope, span.subtype, problems)  # no PHI text in the message
        checked += 1
    return out, checked


# --- generated spans -------------------------------------------------------------------------------


def random_name(rng: random.Random) -> str:
    first, last, other = rng.choice(lx.FIRST_NAMES), rng.choice(lx.LAST_NAMES), rng.choice(lx.LAST_NAMES)
    forms = (f"{first} {last}", last, f"{last}, {first}", f"{first[0]}. {last}", f"{last} {first[0]}",
             f"Dr. {last}", f"{first.upper()} {last.upper()}", f"{first} {other}-{last}", first,
             f"Mrs. {first} {last}", f"{last}, {first} {rng.choice('ABCDEFGH')}.")
    return rng.choice(forms)


def random_id(rng: random.Random) -> str:
    def shape(pattern: str) -> str:
        return "".join(str(rng.randrange(10)) if c == "9" else rng.choice("ABCDEFGHJKLMNPRSTVWXYZ")
                       if c == "A" else c for c in pattern)
    return shape(rng.choice(("A9999999", "999-99-9999", "AA-9999-9999", "A99-99999", "99999999",
                             "AAA999999999", "9A-99", "99999", "99999-9999")))


def random_phone(rng: random.Random) -> str:
    area, line = rng.choice(lx.PHONE_AREA_CODES), f"{rng.randrange(10000):04d}"
    return rng.choice((f"({area}) 555-{line}", f"{area}-555-{line}", f"{area}.555.{line}",
                       f"{area}-555-{line} ext. {rng.randrange(100, 9999)}"))


def random_piece(rng: random.Random) -> tuple[str, str]:
    kind = rng.random()
    if kind < 0.4:
        piece, subtype = random_name(rng), rng.choice(("PATIENT", "DOCTOR"))
    elif kind < 0.55:
        piece, subtype = random_id(rng), rng.choice(("MEDICALRECORD", "LICENSE", "IDNUM", "ZIP", "SSN"))
    elif kind < 0.7:
        piece, subtype = random_phone(rng), rng.choice(("PHONE", "FAX"))
    elif kind < 0.8:
        piece, subtype = f"{rng.choice(lx.LAST_NAMES)} {random_phone(rng)}", "PATIENT"  # mixed spans
    elif kind < 0.9:
        piece = f"{rng.randrange(1, 9999)} {rng.choice(lx.STREET_NAMES)} {rng.choice(lx.STREET_SUFFIXES)}"
        subtype = "STREET"
    else:
        piece, subtype = rng.choice(lx.HOSPITALS), "HOSPITAL"
    if rng.random() < 0.3:
        subtype = rng.choice([s for s in SUBTYPES if s != subtype])  # mislabelled: still PHI
    return subtype, piece


def test_thousands_of_generated_spans_keep_no_word_or_digit_of_the_note_mislabelled_included() -> None:
    rng = random.Random(20)
    surrogates = Surrogates("generated")
    checked = 0
    for index in range(300):
        text, spans = note(*(random_piece(rng) for _ in range(12)))
        checked += check_note(surrogates, text, spans, f"patient:{index % 40}")[1]
    assert checked > 3000
    assert sum(surrogates.fallbacks.values()) < 0.02 * 3600  # the tag stays the exception


def test_ids_phones_and_zip_change_every_letter_and_digit_whatever_the_label() -> None:
    surrogates = Surrogates("ids")
    out = replaced(surrogates, "note:1", ("LICENSE", "K5589580"), ("PATIENT", "Smith 352-555-0101"),
                   ("ZIP", "32601"), ("CITY", "Gainesville 32601"), ("MEDICALRECORD", "00731895"))
    licence, mixed, zip_code, city, mrn = out
    assert re.fullmatch(r"[A-Z]\d{7}", licence) and licence[0] != "K"
    assert all(a != b for a, b in zip(licence[1:], "5589580", strict=True))
    name, phone = mixed.split(" ", 1)
    assert name not in ("Smith", "SMITH") and re.fullmatch(r"\d{3}-\d{3}-\d{4}", phone)
    assert all(a != b for a, b in zip(phone, "352-555-0101", strict=True) if a.isdigit())
    assert len(zip_code) == 5 and zip_code.isdigit() and all(a != b for a, b in zip(zip_code, "32601",
                                                                                     strict=True))
    assert "32601" not in city and "Gainesville" not in city
    assert len(mrn) == 8 and all(a != b for a, b in zip(mrn, "00731895", strict=True))


# --- names -----------------------------------------------------------------------------------------

FORMS = ["John Smith", "Smith", "JOHN SMITH", "Smith, John", "Smith J", "J. Smith", "Dr. Smith", "john smith"]


def expected_forms(given: str, surname: str) -> list[str]:
    return [f"{given} {surname}", surname, f"{given.upper()} {surname.upper()}", f"{surname}, {given}",
            f"{surname} {given[0]}", f"{given[0]}. {surname}", f"Dr. {surname}",
            f"{given.lower()} {surname.lower()}"]


def test_name_forms_of_one_person_map_to_forms_of_one_surrogate_within_a_note_and_a_patient() -> None:
    surrogates = Surrogates("names")
    first = replaced(surrogates, "patient:7", *(("PATIENT", form) for form in FORMS))
    given, surname = first[0].split()
    assert given[0] != "J" and given != "John" and surname != "Smith"
    assert first == expected_forms(given, surname)
    # Another note of the same patient, the forms in another order, with a doctor of another name.
    later = replaced(surrogates, "patient:7", ("DOCTOR", "Dr. Ann Lee"), ("PATIENT", "J. Smith"),
                     ("PATIENT", "Smith, John"))
    assert later[1:] == [f"{given[0]}. {surname}", f"{surname}, {given}"]
    assert "Lee" not in later[0] and "Ann" not in later[0]
    other = replaced(surrogates, "patient:8", ("PATIENT", "John Smith"))[0]
    assert other != first[0] or surrogates.date_offset("patient:8") != surrogates.date_offset("patient:7")


def test_titles_suffixes_and_punctuation_stay() -> None:
    surrogates = Surrogates("titles")
    out = replaced(surrogates, "note:1", ("DOCTOR", "Dr. Smith"), ("PATIENT", "Mrs. Philippa Dunmore"),
                   ("DOCTOR", "John Lee, M.D."), ("DOCTOR", "Harriet P. Quenneville, MD"),
                   ("PATIENT", "Smith, John Jr."), ("DOCTOR", "Keisha Lamontagne, RN"))
    assert re.fullmatch(r"Dr\. [A-Z][a-z]+", out[0])
    assert re.fullmatch(r"Mrs\. [A-Z][a-z]+ [A-Z][A-Za-z]+", out[1])
    assert re.fullmatch(r"[A-Z][a-z]+ [A-Z][A-Za-z]+, M\.D\.", out[2])
    assert re.fullmatch(r"[A-Z][a-z]+ [A-Z]\. [A-Z][A-Za-z]+, MD", out[3])
    assert re.fullmatch(r"[A-Z][A-Za-z]+, [A-Z][a-z]+ Jr\.", out[4])
    assert re.fullmatch(r"[A-Z][a-z]+ [A-Z][A-Za-z]+, RN", out[5])
    assert out[0].split()[1] == out[4].split(",")[0]  # Dr. Smith and Smith, John: one surname


def test_a_lone_given_name_stays_a_given_name() -> None:
    surrogates = Surrogates("given")
    given_names = set(lx.FIRST_NAMES)
    for index, name in enumerate(("John", "Mary", "Linda", "Robert", "Priya")):
        lone = replaced(surrogates, f"note:{index}", ("PATIENT", name))[0]
        assert lone in given_names and lone != name
        full = replaced(surrogates, f"note:{index}", ("PATIENT", name), ("PATIENT", f"{name} Hill"))
        assert full[1].split()[0] == full[0]  # the same given name alone and in the full name


def test_non_ascii_and_nfd_names_get_clean_surrogates_consistent_across_normal_forms() -> None:
    surrogates = Surrogates("accents")
    nfd = unicodedata.normalize("NFD", "Müller")
    out = replaced(surrogates, "note:1", ("PATIENT", "José García"), ("PATIENT", "Zoë O'Brien-Nguyen"),
                   ("PATIENT", nfd), ("PATIENT", "Gisela Müller"), ("DOCTOR", "Inés Caldwell-Ybarra"))
    for surrogate in out:
        assert re.fullmatch(r"[A-Za-z' -]+", surrogate), "only clean list names"
    assert not {"jose", "garcia", "zoe", "muller", "ines"} & words(" ".join(out))
    assert out[2] == out[3].split()[1]  # NFD and NFC Müller: one surname
    assert re.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+-[A-Z][a-z]+", out[1])  # hyphenated: each part replaced


def test_a_surrogate_never_is_another_phi_word_of_the_note() -> None:
    # Names drawn from the very lists surrogates come from: collisions are frequent unless avoided.
    rng = random.Random(3)
    surrogates = Surrogates("collide")
    for index in range(150):
        people = [f"{rng.choice(lx.FIRST_NAMES)} {rng.choice(lx.LAST_NAMES)}" for _ in range(8)]
        text, spans = note(*(("PATIENT" if i % 2 else "DOCTOR", p) for i, p in enumerate(people)))
        out = surrogates.note_replacements(text, spans, f"note:{index}")
        phi = set().union(*map(words, people))
        assert not words(" ".join(out)) & phi


# --- ages --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("age", "expected"), [
    ("90", "90+"), ("92", "90+"), ("104", "90+"), ("92 yo", "90+ yo"), ("95Y", "90+Y"),
    ("ninety-two", "90+"), ("Ninety two year old", "90+ year old"), ("one hundred and one", "90+"),
])
def test_ages_of_90_and_over_become_the_hipaa_category(age: str, expected: str) -> None:
    assert replaced(Surrogates("age"), "note:1", ("AGE", age)) == [expected]
    assert replaced(Surrogates("age", age_over_89="90 or older"), "note:1", ("AGE", age)) == [
        expected.replace("90+", "90 or older")]


def test_younger_ages_move_a_little_and_never_keep_the_number() -> None:
    surrogates = Surrogates("age")
    for age in (0, 7, 10, 19, 45, 71, 88, 89):
        for scope in ("note:1", "note:2", "patient:3"):
            new = int(replaced(surrogates, scope, ("AGE", str(age)))[0])
            assert 0 <= new <= 89 and abs(new - age) <= 5 and new % 10 != age % 10
    assert re.fullmatch(r"\d\d yo", replaced(surrogates, "note:1", ("AGE", "45 yo"))[0])
    written = replaced(surrogates, "note:1", ("AGE", "eighty-one"))[0]
    assert re.fullmatch(r"(seventy|eighty)(-[a-z]+)?", written) and written != "eighty-one"
    assert replaced(surrogates, "note:1", ("AGE", "Smith"))[0] == "[**AGE**]"  # not an age: the tag


# --- dates -------------------------------------------------------------------------------------------

DATES = [  # (original, how to read it back)
    ("2064-03-04", "%Y-%m-%d"), ("2019-03-04T10:22", "%Y-%m-%dT%H:%M"),
    ("2019-03-04T10:22:33Z", "%Y-%m-%dT%H:%M:%S%z"), ("2019-03-04T10:22:33+05:30", "%Y-%m-%dT%H:%M:%S%z"),
    ("2066-01-09 16:40", "%Y-%m-%d %H:%M"), ("03/04/2019", "%m/%d/%Y"), ("3/4/19", "%m/%d/%y"),
    ("04.03.2019", "%d.%m.%Y"), ("2019/03/04", "%Y/%m/%d"), ("04Mar2019", "%d%b%Y"),
    ("4-Mar-2019", "%d-%b-%Y"), ("March 4th, 2064", "%B %d, %Y"), ("Mar 4 2019", "%b %d %Y"),
    ("4 March 2019", "%d %B %Y"), ("MARCH 4, 2019", "%B %d, %Y"), ("Monday, March 4, 2019", "%A, %B %d, %Y"),
    ("Tue, 12 Mar 2065 08:03", "%a, %d %b %Y %H:%M"), ("Oct. 14, 2064", "%b. %d, %Y"),
]


def shape(text: str) -> str:
    def case(word: str) -> str:
        return "A" if word.isupper() else "a" if word.islower() else "Aa"
    return re.sub(r"[A-Za-z]+", lambda m: case(m.group()), re.sub(r"\d+", "9", text))


def _read(text: str, fmt: str) -> dt.datetime:
    return dt.datetime.strptime(re.sub(r"(?<=\d)(st|nd|rd|th)\b", "", text), fmt)


@pytest.mark.parametrize(("original", "fmt"), DATES)
def test_dates_keep_their_format_and_move_by_the_scope_offset(original: str, fmt: str) -> None:
    surrogates = Surrogates("dates")
    for scope in ("patient:1", "patient:2", "note:9"):
        new = replaced(surrogates, scope, ("DATE", original))[0]
        assert (_read(new, fmt) - _read(original, fmt)).days == surrogates.date_offset(scope) != 0
        assert shape(new) == shape(original)  # separators, case, which parts are words or numbers
        numbers = [len(n) for n in re.findall(r"\d+", original)]
        if min(numbers) >= 2:  # zero padding kept
            assert [len(n) for n in re.findall(r"\d+", new)] == numbers


def test_dates_without_year_or_day_and_lone_years_move_with_the_offset() -> None:
    offset = 40
    assert shift_date("3/4", offset) == "4/13" and shift_date("March 4", offset) == "April 13"
    assert shift_date("March 2019", offset) == "April 2019" and shift_date("2019", offset) == "2019"
    assert shift_date("2019", 200) == "2020"  # a lone year: mid-year anchor (HIPAA allows years)
    assert shift_date("Dec 30, 2067", 5) == "Jan 4, 2068" and shift_date("03/01/2019", 1) == "03/02/2019"
    assert shift_date("March 1st, 2064", 1) == "March 2nd, 2064"
    assert shift_date("March 2nd, 2064", 1) == "March 3rd, 2064"
    assert shift_date("March 10th, 2064", 1) == "March 11th, 2064"
    assert shift_date("(2064-03-04)", 1) == "(2064-03-05)"


@pytest.mark.parametrize("original", ["9999-12-31", "0000-01-01", "2019-02-30", "13/45/2019", "next week",
                                      "Sunday", "2019-03-04x", "March 4th, 99999", "4272-27-61D49"])
def test_dates_that_cannot_be_read_or_moved_get_the_tag_never_random_characters(original: str) -> None:
    surrogates = Surrogates("overflow")
    scope = next(f"patient:{i}" for i in range(100) if surrogates.date_offset(f"patient:{i}") > 0)
    assert replaced(surrogates, scope, ("DATE", original)) == ["[**DATE**]"]
    assert shift_date("9999-12-31", 30) is None and shift_date("0001-01-01", -30) is None


# --- robustness, keys, handwritten notes -----------------------------------------------------------

ODD = ["", " ", "\x00", "\u200f\u05e9\u05dc\u05d5\u05dd", "😀🏥", "Zoë\u0301\u0301", "\udcff", "\u0301abc",
       "٣٤٥", "²³", "Ⅻ", "a" * 5000, "1" * 3000, "-" * 50, "O'", "'s", ",", "Dr.", "M.D.", "x@", "://",
       "9999-12-31", "0/0", "Feb 29", "ninety-nine hundred", "\t\n", "ǅ", "İstanbul", "ß", "ﬁ"]


def test_nothing_raises_on_odd_strings_and_spans_without_letters_or_digits_stay() -> None:
    rng = random.Random(11)
    surrogates = Surrogates("odd", tag_template="[**{subtype}**]")
    alphabet = "aZ9 .,-'/@:\u0301\u200f\x00😀é٣" + "".join(ODD[:8])
    for index in range(400):
        pieces = [(rng.choice(SUBTYPES + ["UNKNOWN", ""]), rng.choice(ODD) if rng.random() < 0.5 else
                   "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 30)))) for _ in range(6)]
        text, spans = note(*pieces, glue=rng.choice([" ", "", "\n"]))
        out = surrogates.note_replacements(text, spans, f"note:{index}")
        assert len(out) == len(spans) and all(isinstance(r, str) for r in out)
        for span, new in zip(spans, out, strict=True):
            original = text[span.start:span.end]
            if not regex.search(r"[\p{L}\p{N}]", original):
                assert new == original
    weird = [PhiSpan(5, 2, "NAME", "PATIENT", 1.0, ()), PhiSpan(-3, 4, "DATE", "DATE", 1.0, ()),
             PhiSpan(0, 10**6, "ID", "SSN", 1.0, ())]
    assert len(surrogates.note_replacements("John 2019-03-04", weird, "note:x")) == 3


def test_same_secret_same_surrogates_another_secret_others_and_the_tag_template_is_used() -> None:
    pieces = [("PATIENT", "John Smith"), ("PHONE", "352-555-0101"), ("DATE", "2067-05-03"), ("CITY", "Ocala"),
              ("HOSPITAL", "Gator Memorial Hospital"), ("EMAIL", "john.smith@uf.edu"), ("AGE", "45")]
    one = [replaced(Surrogates("one"), f"note:{i}", *pieces) for i in range(5)]
    assert one == [replaced(Surrogates("one"), f"note:{i}", *pieces) for i in range(5)]
    two = [replaced(Surrogates("two"), f"note:{i}", *pieces) for i in range(5)]
    assert sum(a != b for x, y in zip(one, two, strict=True) for a, b in zip(x, y, strict=True)) >= 25
    assert one[0][5].endswith("@example.org") and "Gator" not in one[0][4]
    assert one[0][4].endswith("Memorial Hospital")
    tagged = Surrogates("one", tag_template="<{subtype}>")
    assert replaced(tagged, "note:1", ("DATE", "someday")) == ["<DATE>"] and tagged.fallbacks["DATE"] == 1
    assert Surrogates("one").replace("Smith", "PATIENT", "note:0") == one[0][0].split()[1]


def test_the_guard_refuses_words_digits_and_digit_places_of_the_original() -> None:
    assert not surrogate_is_safe("Lauren Gonzalez", "Maria Gonzalez", "PATIENT")
    assert not surrogate_is_safe("Sharon Mendoza", "Sharon Brown", "PATIENT")
    assert not surrogate_is_safe("A5589580", "K5589580", "LICENSE")
    assert not surrogate_is_safe("Harris 352-555-0101", "Smith 352-555-0101", "PATIENT")
    assert not surrogate_is_safe("Harris 461-355-5232", "Smith 352-555-0101", "PATIENT")  # a run moved
    assert not surrogate_is_safe("Russell", "Smith", "PATIENT", note_words={"russell"})
    assert not surrogate_is_safe("Bryané García", "José García", "PATIENT")  # accent-blind
    assert surrogate_is_safe("Dr. Moore", "Dr. Smith", "DOCTOR")
    assert surrogate_is_safe("Hickory Memorial Hospital", "Gator Memorial Hospital", "HOSPITAL")
    assert surrogate_is_safe("Harris 461-466-3232", "Smith 352-555-0101", "PATIENT")
    assert not surrogate_is_safe("45", "45", "AGE", positions=False)
    assert surrogate_is_safe("43", "45", "AGE", positions=False)


def handwritten() -> list[dict]:
    return [json.loads(line) for line in HANDWRITTEN.read_text(encoding="utf-8").splitlines() if line.strip()]


def name_pairs(original: str, surrogate: str) -> list[tuple[str, str]]:
    """(original word, surrogate word) of a name span and its surrogate, when they align word by word."""
    pattern = r"\p{L}[\p{L}\p{M}]*(?:['’]\p{L}[\p{L}\p{M}]*)*"
    before, after = regex.findall(pattern, original), regex.findall(pattern, surrogate)
    return list(zip(map(fold, before), map(fold, after), strict=True)) if len(before) == len(after) else []


def test_handwritten_notes_gold_wrong_labels_and_cut_spans_leak_nothing() -> None:
    notes = handwritten()
    assert 12 <= len(notes) <= 16
    rng = random.Random(5)
    surrogates = Surrogates("handwritten")
    checked = consistent = 0
    for record in notes:
        text, gold = record["text"], [tuple(span) for span in record["spans"]]
        for start, end, subtype in gold:
            assert 0 <= start < end <= len(text) and subtype in CATEGORY_OF
        wrong = [(s, e, rng.choice([x for x in SUBTYPES if x != t])) for s, e, t in gold]
        cut, previous = [], 0
        for index, (start, end, subtype) in enumerate(gold):
            following = gold[index + 1][0] if index + 1 < len(gold) else len(text)
            new_start = min(max(previous, start + rng.choice((-3, -2, -1, 1, 2, 3))), end - 1)
            new_end = max(min(following, end + rng.choice((-3, -2, -1, 1, 2, 3))), new_start + 1)
            cut.append((new_start, new_end, subtype))
            previous = new_end
        for mode, items in (("gold", gold), ("wrong", wrong), ("cut", cut)):
            spans = spans_of(items)
            out, count = check_note(surrogates, text, spans, f"note:{record['id']}:{mode}")
            checked += count
            if mode != "gold":
                continue
            mapping: dict[str, set[str]] = {}
            for span, new in zip(spans, out, strict=True):
                if span.category == "NAME" and span.subtype != "USERNAME":
                    for before, after in name_pairs(text[span.start:span.end], new):
                        if len(before) > 1:
                            mapping.setdefault(before, set()).add(after)
            assert all(len(found) == 1 for found in mapping.values()), record["id"]
            consistent += len(mapping)
    assert checked > 400 and consistent > 60
