"""i2b2 2012 temporal notes: EVENTs and TIMEX3s with attributes, plus a few SECTIME and TLINK tags.

Like the release, the text starts with a newline and is written one sentence per line with
punctuation as separate tokens; the header's "Admission" and "Discharge" are OCCURRENCE events
and their dates TIMEX3 DATEs with matching SECTIME tags. Events carry `modality` (FACTUAL,
POSSIBLE, CONDITIONAL, PROPOSED) and `polarity` (POS, NEG) as the sentence implies; TIMEX3s carry
a normalized `val` (2014-03-12, P3D, RP6H, 2014-03-12T22:30) and `mod` (NA, APPROX). SECTIME and
TLINK tags are kept where the i2b2 2012 reader keeps them: `Document.metadata["i2b2_2012"]`.
Some problem names carry an apostrophe and some a double quote, which writers must escape.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from finetune.corpora.document import Document, Entity
from synthetic import lexicon as lx
from synthetic.annotated.builder import AnnotatedText, Mention
from synthetic.text import Dice

METADATA_KEY = "i2b2_2012"  # where finetune.corpora.formats.i2b2_2012 keeps tags that are not entities
_PROBLEMS = tuple(c for c in lx.CONDITIONS + lx.SYMPTOMS if c.islower() and "(" not in c) + (
    "Crohn's disease", "Bell's palsy")
_TESTS = ("chest x-ray", "EKG", "blood cultures", "CT scan", "troponin", "echocardiogram", "urinalysis",
          "CBC", "renal ultrasound", "MRI")
_PROCEDURES = ("cardiac catheterization", "hemodialysis", "IV fluids", "blood transfusion", "CABG")
_DRUGS = tuple(d.name.lower() for d in lx.DRUGS)
_DEPARTMENTS = ("emergency department", "ICU", "cardiology service", "general surgery", "neurology service",
                "rehabilitation unit")
_NUMBERS = ("one", "two", "three", "four", "five", "six", "seven")
# (unit word, ISO 8601 designator)
_UNITS = (("days", "D"), ("weeks", "W"), ("months", "M"), ("hours", "H"))
# (frequency text, normalized val)
_FREQUENCIES = (("twice a day", "RP12H"), ("every 6 hours", "RP6H"), ("daily", "RP24H"), ("q.6h.", "RP6H"),
                ("three times a day", "RP8H"), ("once a week", "RP1W"))


def _event(text: str, event_type: str, modality: str = "FACTUAL", polarity: str = "POS") -> Mention:
    return Mention(text, event_type, "EVENT", {"modality": modality, "polarity": polarity})


def _timex(text: str, timex_type: str, val: str, mod: str = "NA") -> Mention:
    return Mention(text, timex_type, "TIMEX3", {"val": val, "mod": mod})


class _Note:
    """Draws for one note: its dates and event / TIMEX3 makers."""

    def __init__(self, dice: Dice) -> None:
        self.d = dice
        self.admitted = dt.date(dice.between(2010, 2019), dice.between(1, 12), dice.between(1, 28))
        self.discharged = self.admitted + dt.timedelta(days=dice.between(2, 14))
        self.she = dice.choice(("He", "She"))

    def problem(self, modality: str = "FACTUAL", polarity: str = "POS") -> Mention:
        text = '"flu-like" symptoms' if self.d.chance(0.08) else self.d.choice(_PROBLEMS)
        return _event(text, "PROBLEM", modality, polarity)

    def test(self) -> Mention:
        return _event(self.d.choice(_TESTS), "TEST")

    def treatment(self, modality: str = "FACTUAL") -> Mention:
        return _event(self.d.choice(_DRUGS + _PROCEDURES), "TREATMENT", modality)

    def department(self) -> Mention:
        return _event(self.d.choice(_DEPARTMENTS), "CLINICAL_DEPT")

    def date(self, day: dt.date | None = None) -> Mention:
        day = day or self.admitted - dt.timedelta(days=self.d.between(1, 30))
        text = self.d.choice((day.isoformat(), f"{day.month:02d}/{day.day:02d}/{day.year}",
                              f"{lx.MONTHS[day.month - 1]} {day.day}"))
        return _timex(text, "DATE", day.isoformat())

    def time(self) -> Mention:
        hour, minute = self.d.between(1, 12), self.d.choice((0, 15, 30, 45))
        evening = self.d.chance(0.5)
        clock = f"{hour % 12 + (12 if evening else 0):02d}:{minute:02d}"
        return _timex(f"{hour}:{minute:02d} {'pm' if evening else 'am'}", "TIME",
                      f"{self.admitted.isoformat()}T{clock}")

    def duration(self, units: tuple[tuple[str, str], ...] = _UNITS) -> Mention:
        count = self.d.between(1, len(_NUMBERS))
        unit, designator = self.d.choice(units)
        spelled = self.d.choice((_NUMBERS[count - 1], str(count)))
        val = f"PT{count}H" if designator == "H" else f"P{count}{designator}"
        if self.d.chance(0.3):
            return _timex(f"about {spelled} {unit}", "DURATION", val, "APPROX")
        return _timex(f"{spelled} {unit}", "DURATION", val)

    def frequency(self) -> Mention:
        text, val = self.d.choice(_FREQUENCIES)
        return _timex(text, "FREQUENCY", val)


def _body(b: AnnotatedText, n: _Note, links: list[tuple[Entity, Entity, str]]) -> None:
    """The narrative: one sentence per line, TLINKs recorded for some event-time pairs."""
    d = n.d
    # (template, slot maker, TLINK between two slots or None); "she"/"pronoun" are plain text.
    history = [
        (f"The patient is a {d.between(25, 95)} year old with a history of {{p1}} who {{occ}} to the "
         "{dept} with {p2} for {dur} .\n",
         lambda: {"p1": n.problem(), "occ": _event("presented", "OCCURRENCE"), "dept": n.department(),
                  "p2": n.problem(), "dur": n.duration()}, ("p2", "dur", "OVERLAP")),
        ("{she} {ev} {p} since {date} .\n",
         lambda: {"ev": _event("reported", "EVIDENTIAL"), "p": n.problem(), "date": n.date()}, None),
        ("{she} denies {p} .\n", lambda: {"p": n.problem(polarity="NEG")}, None),
    ]
    course = [
        ("{t} on {date} {ev} {p} .\n",
         lambda: {"t": _capital(n.test()), "date": n.date(n.admitted), "p": n.problem(),
                  "ev": _event(d.choice(("showed", "revealed")), "EVIDENTIAL")},
         ("t", "date", "SIMULTANEOUS")),
        ("{she} was {occ} to the {dept} and started on {tr} {freq} .\n",
         lambda: {"occ": _event("admitted", "OCCURRENCE"), "dept": n.department(), "tr": n.treatment(),
                  "freq": n.frequency()}, ("tr", "freq", "OVERLAP")),
        ("There was concern for possible {p} , and {t} was obtained .\n",
         lambda: {"p": n.problem("POSSIBLE"), "t": n.test()}, None),
        ("At {time} {pronoun} was {occ} to the {dept} .\n",
         lambda: {"time": n.time(), "occ": _event("transferred", "OCCURRENCE"), "dept": n.department()},
         ("occ", "time", "SIMULTANEOUS")),
        ("{she} should return if {pronoun} develops {p} .\n", lambda: {"p": n.problem("CONDITIONAL")}, None),
        ("Plan to start {tr} as an outpatient .\n", lambda: {"tr": n.treatment("PROPOSED")}, None),
    ]
    discharge = ("{she} was {occ} home on {tr} {freq} for {dur} .\n",
                 lambda: {"occ": _event("discharged", "OCCURRENCE"), "tr": n.treatment(),
                          "freq": n.frequency(), "dur": n.duration(_UNITS[:2])}, ("tr", "dur", "OVERLAP"))
    sentences = [("HISTORY OF PRESENT ILLNESS :\n", dict, None), *history,
                 ("HOSPITAL COURSE :\n", dict, None), *d.sample(course, d.between(3, len(course))), discharge]
    for template, slots, link in sentences:
        written = b.say(template, she=n.she, pronoun=n.she.lower(), **slots())
        if link is not None:
            links.append((written[link[0]], written[link[1]], link[2]))


def _capital(mention: Mention) -> Mention:
    return Mention(mention.text[:1].upper() + mention.text[1:], mention.type, mention.category,
                   mention.attributes)


def temporal_note(dice: Dice, document_id: str) -> Document:
    """One 2012-style discharge summary with EVENT / TIMEX3 entities and SECTIME / TLINK tags.

    Args:
        dice: seeded draws.
        document_id: the file stem (the release numbers its files: `1`, `6`, ...).
    """
    n = _Note(dice)
    b = AnnotatedText()
    links: list[tuple[Entity, Entity, str]] = []
    header = b.say("\n{adm} Date :\n{adm_date}\n{dis} Date :\n{dis_date}\n",
                   adm=_event("Admission", "OCCURRENCE"), adm_date=_timex(n.admitted.isoformat(), "DATE",
                                                                         n.admitted.isoformat()),
                   dis=_event("Discharge", "OCCURRENCE"), dis_date=_timex(n.discharged.isoformat(), "DATE",
                                                                         n.discharged.isoformat()))
    links += [(header["adm"], header["adm_date"], "SIMULTANEOUS"),
              (header["dis"], header["dis_date"], "SIMULTANEOUS")]
    _body(b, n, links)
    document = b.document(document_id)
    counters = {"EVENT": 0, "TIMEX3": 0}
    for entity in document.entities:
        prefix = "E" if entity.category == "EVENT" else "T"
        entity.id = f"{prefix}{counters[entity.category]}"
        counters[entity.category] += 1
    text = document.text
    tags: list[dict[str, Any]] = []
    for number, (key, kind) in enumerate((("adm_date", "ADMISSION"), ("dis_date", "DISCHARGE"))):
        entity = header[key]
        tags.append({"tag": "SECTIME", "attributes": {
            "id": f"S{number}", "start": str(entity.start), "end": str(entity.end),
            "text": text[entity.start:entity.end], "type": kind, "dvalue": entity.attributes["val"]}})
    for number, (source, target, kind) in enumerate(links):
        tags.append({"tag": "TLINK", "attributes": {
            "id": f"TL{number}", "fromID": source.id, "fromText": text[source.start:source.end],
            "toID": target.id, "toText": text[target.start:target.end], "type": kind}})
    document.metadata[METADATA_KEY] = {"other_tags": tags}
    return document
