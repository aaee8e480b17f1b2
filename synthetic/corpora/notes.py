"""Synthetic clinical notes (discharge summaries, SOAP progress notes, radiology reports) and writers.

All patients, clinicians, addresses, phone numbers (555 exchange) and MRNs are invented surrogates.
Notes deliberately carry what real exports carry and what tokenizers/readers must cope with:
section headers, hard-wrapped paragraphs next to one-sentence-per-line sections, med lists with
Latin abbreviations, vitals, several date formats, tabs, quotes, commas, and MIMIC-style
("[**Name**]") or bracketed ("[NAME]") de-identification placeholders.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import json
import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from gatortron_common.logging import get_logger
from synthetic import lexicon as lx
from synthetic.output import open_text_output
from synthetic.text import Dice, Prose, WordStream, fictional_phone, hard_wrap

log = get_logger(__name__)

NOTE_COLUMNS: tuple[str, ...] = ("NOTE_ID", "MRN", "NOTE_TYPE", "NOTE_DATE", "NOTE_TEXT")
DISCHARGE, PROGRESS, RADIOLOGY = "Discharge summary", "Progress note", "Radiology report"
NOTE_TYPES: tuple[str, ...] = (DISCHARGE, PROGRESS, RADIOLOGY)
_TYPE_WEIGHTS = (0.35, 0.40, 0.25)
# Per-type target length range in characters (sampled log-uniformly).
_LENGTHS = {DISCHARGE: (2500, 10000), PROGRESS: (900, 5000), RADIOLOGY: (300, 2500)}
_MIN_NOTE_BYTES = 250  # a smaller leftover budget ends the corpus instead of producing a stub note
_STREAM_NOTES = 0  # SeedSequence stream id: notes, PubMed and Wikipedia never share random numbers

_OPENERS = (
    "The patient was", "The patient reports", "Patient denies", "There is no", "There was",
    "Status post", "Consistent with", "Notable for", "Plan to continue", "Will monitor",
    "Recommend", "Continue", "Per family,", "On arrival,", "Overnight,", "He was", "She was",
    "Of note,", "Given", "Due to", "No evidence of", "Started on", "Found to have",
)
_FINDING_OPENERS = (
    "There is", "There is no", "No evidence of", "Redemonstrated", "Unchanged", "Interval",
    "Stable appearance of", "The visualized", "Mild", "Small", "Again seen", "Partially imaged",
)
_EXAM = {
    "GENERAL": ("Alert and oriented x3, in no acute distress.", "Elderly, frail, resting comfortably.",
                "NAD.", "Well-appearing, conversant."),
    "HEENT": ("NC/AT. PERRL, EOMI. Oropharynx clear.", "Anicteric sclerae, MMM.",
              "Normocephalic, atraumatic. Dry mucous membranes."),
    "NECK": ("Supple, no JVD.", "JVP to the angle of the jaw.", "No lymphadenopathy."),
    "LUNGS": ("Clear to auscultation bilaterally.", "CTAB.", "Bibasilar crackles.",
              "Diffuse expiratory wheezes, no rhonchi.", "Decreased breath sounds at the right base."),
    "HEART": ("Regular rate and rhythm, no murmurs, rubs or gallops.", "RRR, S1/S2 normal.",
              "Irregularly irregular, 2/6 systolic murmur at the LUSB."),
    "ABDOMEN": ("Soft, nontender, nondistended, normoactive bowel sounds.", "NT/ND, +BS.",
                "Mild RUQ tenderness, no rebound or guarding."),
    "EXTREMITIES": ("No edema.", "2+ pitting edema bilaterally to the knees.", "Warm, well perfused."),
    "NEURO": ("CN II-XII intact, strength 5/5 throughout.", "Nonfocal.", "A&O x2, moves all extremities."),
    "SKIN": ("No rashes.", "Stage II sacral decubitus ulcer, clean base.", "Warm and dry."),
}


def _end_sentence(text: str) -> str:
    """Append a period unless the text already ends with one ("q.h.s." must not become "q.h.s..")."""
    return text if text.endswith(".") else text + "."


@dataclass
class SyntheticNote:
    """One generated note; `text` is the full note, the other fields are export metadata."""

    note_id: str
    mrn: str
    note_type: str
    note_date: str
    text: str


@dataclass
class _Patient:
    mrn: str
    first: str
    last: str
    female: bool
    age: int
    dob: dt.date
    address: str
    phone: str


@dataclass
class _Slot:
    """A free-text part whose size is decided after the fixed parts are known."""

    weight: float
    render: Callable[[int], str]


class _NoteFactory:
    """Holds the seeded random state and renders one note at a time."""

    def __init__(self, seed: int) -> None:
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.rng = np.random.default_rng([seed, _STREAM_NOTES])
        self.dice = Dice(self.rng)
        self.words = WordStream(self.rng, term_fraction=0.3)
        self.prose = Prose(self.dice, self.words, _OPENERS)
        self.findings = Prose(self.dice, self.words, _FINDING_OPENERS, opener_rate=0.6, max_words=12)
        # Only recent patients can get another note: bounded memory for corpora of any size.
        self.patients: deque[_Patient] = deque(maxlen=2000)
        self._used_mrns: set[int] = set()
        self._epoch = dt.date(2012, 1, 1)
        # Per-note state, set by `note()`.
        self.deid = 0  # 0: surrogates, 1: MIMIC "[**...**]" placeholders, 2: "[NAME]" placeholders
        self.width = 80

    # --- PHI surrogates and placeholders -----------------------------------------------------

    def _placeholder(self) -> bool:
        return self.deid != 0 and self.dice.chance(0.75)

    def _mimic_or_bracket(self, mimic: str, bracket: str) -> str:
        return f"[**{mimic}**]" if self.deid == 1 else f"[{bracket}]"

    def _new_patient(self) -> _Patient:
        d = self.dice
        while True:
            mrn = 10_000_000 + d.below(90_000_000)
            if mrn not in self._used_mrns:
                self._used_mrns.add(mrn)
                break
        age = d.between(18, 96)
        city, state, zip3 = d.choice(lx.CITIES)
        address = (f"{d.between(1, 9899)} {d.choice(lx.STREET_NAMES)} {d.choice(lx.STREET_SUFFIXES)}, "
                   f"{city}, {state} {zip3}{d.between(0, 99):02d}")
        return _Patient(
            mrn=str(mrn), first=d.choice(lx.FIRST_NAMES), last=d.choice(lx.LAST_NAMES),
            female=d.chance(0.52), age=age, dob=self._epoch - dt.timedelta(days=age * 365 + d.below(365)),
            address=address, phone=self._phone(),
        )

    def _patient(self) -> _Patient:
        # Some patients get several notes, like real longitudinal records.
        if self.patients and self.dice.chance(0.35):
            return self.dice.choice(self.patients)
        patient = self._new_patient()
        self.patients.append(patient)
        return patient

    def _phone(self) -> str:
        return fictional_phone(self.dice, lx.PHONE_AREA_CODES)

    def name(self, p: _Patient, formal: bool = False) -> str:
        if self._placeholder():
            if self.deid == 1:
                return "[**First Name (Titles) **] [**Last Name (Titles) **]"
            return "[NAME]"
        if formal:
            return f"{'Ms.' if p.female else 'Mr.'} {p.last}"
        return self.dice.choice((f"{p.first} {p.last}", f"{p.last}, {p.first}",
                                 f"{p.last.upper()}, {p.first.upper()}"))

    def doctor(self) -> str:
        d = self.dice
        if self._placeholder():
            return "Dr. " + self._mimic_or_bracket(f"Last Name (STitle) {d.between(100, 9999)}", "NAME")
        first, last = d.choice(lx.FIRST_NAMES), d.choice(lx.LAST_NAMES)
        return d.choice((f"Dr. {last}", f"Dr. {first} {last}", f"{first} {last}, MD",
                         f"Dr. {first[0]}. {last}"))

    def date(self, day: dt.date) -> str:
        if self._placeholder():
            shifted = day.replace(year=day.year + 170) if not (day.month == 2 and day.day == 29) else day
            return self._mimic_or_bracket(f"{shifted.year}-{shifted.month}-{shifted.day}", "DATE")
        style = self.dice.below(6)
        if style == 0:
            return f"{day.month:02d}/{day.day:02d}/{day.year}"
        if style == 1:
            return day.isoformat()
        if style == 2:
            return f"{lx.MONTHS[day.month - 1]} {day.day}, {day.year}"
        if style == 3:
            return f"{day.month}/{day.day}/{day.year % 100:02d}"
        if style == 4:
            return f"{day.day} {lx.MONTHS[day.month - 1][:3]} {day.year}"
        return f"{day.month:02d}-{day.day:02d}-{day.year}"

    def phone(self, p: _Patient) -> str:
        if self._placeholder():
            return self._mimic_or_bracket(f"Telephone/Fax (1) {p.phone[-4:]}", "PHONE")
        return p.phone

    def address(self, p: _Patient) -> str:
        if self._placeholder():
            return self._mimic_or_bracket("Street Address(1) 123", "ADDRESS")
        return p.address

    def mrn(self, p: _Patient) -> str:
        if self._placeholder():
            return self._mimic_or_bracket(f"Medical Record Number {p.mrn[-4:]}", "MRN")
        return p.mrn

    def age(self, p: _Patient) -> str:
        if p.age > 89 and self.deid:
            return self._mimic_or_bracket("Age over 90 ", "AGE")
        return str(p.age)

    def hospital(self) -> str:
        if self._placeholder():
            return self._mimic_or_bracket(f"Hospital1 {self.dice.between(1, 99)}", "HOSPITAL")
        return self.dice.choice(lx.HOSPITALS)

    def time(self) -> str:
        d = self.dice
        return f"{d.between(0, 23):02d}:{d.between(0, 59):02d}"

    # --- clinical building blocks ------------------------------------------------------------

    def vitals(self) -> str:
        d = self.dice
        sbp, dbp = d.between(88, 182), d.between(48, 104)
        hr, rr, spo2 = d.between(52, 128), d.between(12, 28), d.between(86, 100)
        temp_f = round(d.uniform(96.8, 102.6), 1)
        o2 = d.choice(("RA", "room air", "2L NC", "4 L nasal cannula", "50% FiO2 via face mask"))
        style = d.below(4)
        if style == 0:
            return f"BP {sbp}/{dbp}. HR {hr}, RR {rr}, T {temp_f} F, SpO2 {spo2}% on {o2}."
        if style == 1:
            return (f"VITAL SIGNS: Temperature {temp_f} F, blood pressure {sbp}/{dbp}, pulse {hr}, "
                    f"respiratory rate {rr}, oxygen saturation {spo2}% on {o2}.")
        if style == 2:
            temp_c = round((temp_f - 32) * 5 / 9, 1)
            return f"Vitals: T {temp_c}\u00b0C, BP {sbp}/{dbp}, HR {hr}, RR {rr}, O2 sat {spo2}% {o2}."
        return f"T {temp_f}  HR {hr}  BP {sbp}/{dbp}  RR {rr}  SpO2 {spo2}% {o2}"

    def labs(self) -> str:
        d = self.dice
        if d.chance(0.5):
            return (f"Na {d.between(128, 146)}, K {d.uniform(3.1, 5.6):.1f}, Cl {d.between(94, 110)}, "
                    f"HCO3 {d.between(18, 32)}, BUN {d.between(6, 64)}, Cr {d.uniform(0.5, 3.8):.1f}, "
                    f"glucose {d.between(70, 320)}.")
        # Tab-separated lab grid, as pasted from an EHR flowsheet (csv quoting must cope).
        rows = [("WBC", f"{d.uniform(2.1, 21.0):.1f}"), ("Hgb", f"{d.uniform(6.8, 16.2):.1f}"),
                ("Hct", f"{d.uniform(21.0, 48.0):.1f}"), ("Plt", str(d.between(40, 520))),
                ("INR", f"{d.uniform(0.9, 3.4):.1f}"), ("Trop", f"<{d.uniform(0.01, 0.05):.2f}"),
                ("BNP", str(d.between(20, 4200)))]
        return "\n".join(f"{name}\t{value}" for name, value in rows[: d.between(3, len(rows))])

    def med_line(self, drug: lx.Drug) -> str:
        d = self.dice
        strength, freq = d.choice(drug.strengths), d.choice(drug.frequencies)
        dose = f"{strength} {drug.unit}".strip()
        prn = f" p.r.n. {drug.prn_reason}" if drug.prn_reason else ""
        style = d.below(4)
        if style == 0:
            return _end_sentence(f"{drug.name} {dose} {drug.route} {freq}{prn}")
        if style == 1:
            short = {"p.o.": "PO", "b.i.d.": "BID", "t.i.d.": "TID", "q.h.s.": "QHS", "q.d.": "QD"}
            prn_short = f" PRN {drug.prn_reason}" if drug.prn_reason else ""
            return (f"{drug.name.lower()} {strength}{drug.unit} {short.get(drug.route, drug.route)} "
                    f"{short.get(freq, freq)}{prn_short}")
        if style == 2:
            return (f"{drug.name} {dose} {drug.route} {freq}{prn}, dispense #{d.between(14, 90)}, "
                    f"refills {d.below(4)}.")
        return f"{drug.name} {dose} ({drug.route}) {freq}{prn}"

    def numbered(self, items: Iterable[str]) -> str:
        marker = self.dice.below(3)
        return "\n".join(
            (f"{i}. {item}", f"{i}) {item}", f"- {item}")[marker] for i, item in enumerate(items, start=1)
        )

    def med_list(self, low: int, high: int) -> str:
        drugs = self.dice.sample(lx.DRUGS, self.dice.between(low, high))
        return self.numbered(self.med_line(drug) for drug in drugs)

    def problem(self) -> str:
        if self.dice.chance(0.6):
            text = self.dice.choice(lx.CONDITIONS + lx.SYMPTOMS)
        else:
            text = " ".join(self.words.terms(self.dice.between(1, 2)))
        return text[:1].upper() + text[1:]

    def exam(self) -> str:
        systems = [s for s in _EXAM if self.dice.chance(0.8)] or ["GENERAL"]
        return "\n".join(f"{s}: {self.dice.choice(_EXAM[s])}" for s in systems)

    def free(self, budget: int, lead: str = "") -> str:
        """Free text of about `budget` chars: wrapped paragraph(s) or one sentence per line."""
        if self.dice.chance(0.3):
            body = self.prose.sentence_lines(budget - len(lead))
            return f"{lead}\n{body}" if lead else body
        n_par = 1 if budget < 700 else self.dice.between(1, 3)
        share = budget // n_par
        paragraphs = [self.prose.wrapped(share, self.width, lead.split() if i == 0 else ())
                      for i in range(n_par)]
        return "\n\n".join(paragraphs)

    def numbered_problems(self, budget: int) -> str:
        """'1. Problem: prose' blocks, as in a hospital course or an assessment and plan."""
        n = max(1, min(self.dice.between(1, 5), budget // 250))
        share = budget // n
        blocks = []
        for i in range(1, n + 1):
            lead = f"{i}. {self.problem()}:".split()
            blocks.append(self.prose.wrapped(share, self.width, lead) if self.dice.chance(0.7)
                          else hard_wrap(lead, self.width) + "\n" + self.prose.sentence_lines(share))
        return "\n".join(blocks)

    # --- assembly ----------------------------------------------------------------------------

    @staticmethod
    def _assemble(parts: list[str | _Slot], target: int) -> str:
        """Fill free-text slots so that the whole note is about `target` characters."""
        fixed = sum(len(p) for p in parts if isinstance(p, str))
        total_weight = sum(p.weight for p in parts if isinstance(p, _Slot)) or 1.0
        free_budget = max(target - fixed, 0)
        out = []
        for part in parts:
            if isinstance(part, _Slot):
                out.append(part.render(max(int(free_budget * part.weight / total_weight), 40)))
            else:
                out.append(part)
        return "".join(out)

    def _section(self, header: str, body: str | _Slot, inline: bool = False) -> list[str | _Slot]:
        sep = " " if inline else "\n"
        return [header + sep, body, "\n\n"]

    def discharge(self, p: _Patient, day: dt.date, target: int) -> str:
        d = self.dice
        admit = day - dt.timedelta(days=d.between(1, 14))
        pron = "She" if p.female else "He"
        sex = d.choice(("female", "woman", "F")) if p.female else d.choice(("male", "man", "M"))
        conds = d.sample(lx.CONDITIONS, d.between(2, 6))
        symptom = d.choice(lx.SYMPTOMS)
        hpi_lead = (f"{self.name(p, formal=True)} is a {self.age(p)}-year-old {sex} with a history of "
                    f"{', '.join(conds[:-1])} and {conds[-1]} who presents with {symptom} for "
                    f"{d.between(1, 10)} days.")
        big = target > 3500
        parts: list[str | _Slot] = [
            "DISCHARGE SUMMARY\n\n",
            f"Patient Name: {self.name(p)}    MRN: {self.mrn(p)}\n",
            f"Admission Date: {self.date(admit)}    Discharge Date: {self.date(day)}\n",
            f"Date of Birth: {self.date(p.dob)}    Age: {self.age(p)}    Sex: {'F' if p.female else 'M'}\n",
            f"Attending: {self.doctor()}    Service: {d.choice(('MEDICINE', 'CARDIOLOGY', 'SURGERY'))}\n",
            f"Hospital: {self.hospital()}\n",
        ]
        if d.chance(0.6):
            parts.append(f"Address: {self.address(p)}\nPhone: {self.phone(p)}\n")
        parts.append("\n")
        parts += self._section("CHIEF COMPLAINT:", symptom[:1].upper() + symptom[1:] + ".", inline=True)
        parts += self._section("HISTORY OF PRESENT ILLNESS:", _Slot(3.0, lambda b: self.free(b, hpi_lead)))
        parts += self._section("PAST MEDICAL HISTORY:", self.numbered(c[:1].upper() + c[1:] for c in conds))
        if big and d.chance(0.6):
            parts += self._section("PAST SURGICAL HISTORY:", self.numbered(
                f"{self.problem()} repair in {d.between(1975, 2011)}." for _ in range(d.between(1, 3))))
        parts += self._section("MEDICATIONS ON ADMISSION:", self.med_list(2, 9))
        allergies = "NKDA." if d.chance(0.5) else "; ".join(d.sample(lx.ALLERGIES, d.between(1, 3))) + "."
        parts += self._section("ALLERGIES:", allergies, inline=True)
        if big:
            smoke = d.choice(("Never smoker.", f"Former smoker, {d.between(5, 60)} pack-year history.",
                              "Current smoker, 1 ppd.", 'Quit "a long time ago."'))
            parts += self._section("SOCIAL HISTORY:", _Slot(0.6, lambda b: self.free(b, f"{pron} lives with "
                                   f"{d.choice(('wife', 'husband', 'daughter', 'son', 'family'))}. {smoke}")))
            parts += self._section("FAMILY HISTORY:", _Slot(0.3, lambda b: self.free(b)))
        parts += self._section("PHYSICAL EXAMINATION:", f"{self.vitals()}\n{self.exam()}")
        parts += self._section("LABORATORY DATA:", self.labs())
        parts += self._section("HOSPITAL COURSE:", _Slot(6.0, self.numbered_problems))
        parts += self._section("DISCHARGE MEDICATIONS:", self.med_list(3, 12))
        parts += self._section("DISCHARGE DIAGNOSES:", self.numbered(
            self.problem() for _ in range(d.between(1, 4))))
        parts += self._section("DISCHARGE CONDITION:", d.choice(("Stable.", "Good.", "Fair, improved.")),
                               inline=True)
        if big:
            parts += self._section("DISCHARGE INSTRUCTIONS:", _Slot(1.0, self.prose.sentence_lines))
        parts += self._section("FOLLOW-UP:", f"Follow up with {self.doctor()} in {d.between(1, 4)} weeks. "
                               f"Call {self.phone(p)} with questions.")
        parts.append(f"{self.doctor()}\nD: {self.date(day)} {self.time()}\n"
                     f"T: {self.date(day)} {self.time()}\n")
        return self._assemble(parts, target)

    def progress(self, p: _Patient, day: dt.date, target: int) -> str:
        d = self.dice
        sex = "female" if p.female else "male"
        hd = d.between(1, 12)
        parts: list[str | _Slot] = [
            d.choice(("PROGRESS NOTE", "Internal Medicine Progress Note", "SICU PROGRESS NOTE")) + "\n",
            f"Date: {self.date(day)}  Time: {self.time()}\n",
            f"Patient: {self.name(p)}  MRN: {self.mrn(p)}  Hospital day #{hd}\n\n",
        ]
        parts += self._section("SUBJECTIVE:", _Slot(2.0, lambda b: self.free(
            b, d.choice(("No acute events overnight.", "Patient seen and examined at bedside.",
                         "Reports feeling better today.", "")))))
        io_line = f"I/O: {d.between(300, 2500)}/{d.between(300, 3500)}"
        parts += self._section("OBJECTIVE:", f"{self.vitals()}\n{io_line}\n{self.exam()}")
        if d.chance(0.6):
            parts += self._section("LABS:", self.labs())
        if d.chance(0.5):
            parts += self._section("MEDICATIONS:", self.med_list(2, 6))
        summary = (f"{self.age(p)} y.o. {sex} with {d.choice(lx.CONDITIONS)} admitted for "
                   f"{d.choice(lx.SYMPTOMS)}, now hospital day #{hd}.")
        parts += ["ASSESSMENT AND PLAN:\n", summary + "\n", _Slot(3.0, self.numbered_problems), "\n\n"]
        parts.append(f"{self.doctor()}, PGY-{d.between(1, 3)}\n")
        if d.chance(0.4):
            parts.append(f"Attending attestation: I saw and examined the patient with the resident and "
                         f"agree with the findings and plan as documented. {self.doctor()}\n")
        return self._assemble(parts, target)

    def radiology(self, p: _Patient, day: dt.date, target: int) -> str:
        d = self.dice
        exam = d.choice(lx.RADIOLOGY_EXAMS)
        sex = "female" if p.female else "male"

        def findings(budget: int) -> str:
            size = f"{d.uniform(0.3, 6.5):.1f}"
            adjective = d.choice(("hypodense", "spiculated", "well-circumscribed", "ground-glass"))
            lead = (f"There is a {size} cm {adjective} {d.choice(('nodule', 'lesion', 'opacity', 'mass'))} "
                    f"in the {d.choice(lx.ANATOMY)}.")
            if d.chance(0.4):
                return f"{lead}\n{self.findings.sentence_lines(budget - len(lead))}"
            return self.findings.wrapped(budget, self.width, lead.split())

        parts: list[str | _Slot] = [
            d.choice(("RADIOLOGY REPORT\n", "", "FINAL REPORT\n")),
            f"EXAM: {exam}\n",
            f"DATE: {self.date(day)} {self.time()}\n",
        ]
        if d.chance(0.5):
            parts.append(f"PATIENT: {self.name(p)}    MRN: {self.mrn(p)}\n")
        parts.append("\n")
        header = d.choice(("CLINICAL HISTORY:", "INDICATION:"))
        history = f"{self.age(p)}-year-old {sex} with {d.choice(lx.SYMPTOMS)}."
        parts += self._section(header, history, inline=True)
        if target > 600:
            parts += self._section("TECHNIQUE:", _Slot(0.5, self.findings.sentence_lines))
        prior = day - dt.timedelta(days=d.between(30, 900))
        comparison = f"{self.date(prior)}." if d.chance(0.6) else "None."
        parts += self._section("COMPARISON:", comparison, inline=True)
        parts += self._section("FINDINGS:", _Slot(3.0, findings))
        parts += self._section("IMPRESSION:", _Slot(1.0, lambda b: self.numbered(
            self.findings.sentence() for _ in range(max(1, min(4, b // 90))))))
        parts.append(f"Electronically signed by: {self.doctor()} on {self.date(day)} at {self.time()}\n")
        return self._assemble(parts, target)

    def note(self, index: int, remaining: int) -> SyntheticNote:
        d = self.dice
        u = d.random()
        note_type = NOTE_TYPES[0] if u < _TYPE_WEIGHTS[0] else (
            NOTE_TYPES[1] if u < _TYPE_WEIGHTS[0] + _TYPE_WEIGHTS[1] else NOTE_TYPES[2])
        low, high = _LENGTHS[note_type]
        target = int(math.exp(d.uniform(math.log(low), math.log(high))))
        if remaining < target + _MIN_NOTE_BYTES * 2:
            # Last note: spend exactly what is left, in a type whose fixed parts fit the budget.
            target = remaining
            if target < 1500 and note_type == DISCHARGE:
                note_type = PROGRESS
            if target < 900:
                note_type = RADIOLOGY
        self.deid = 0 if d.chance(0.8) else d.between(1, 2)
        self.width = d.between(66, 80)
        patient = self._patient()
        day = self._epoch + dt.timedelta(days=d.below(12 * 365))
        render = {DISCHARGE: self.discharge, PROGRESS: self.progress, RADIOLOGY: self.radiology}[note_type]
        text = render(patient, day, target)
        return SyntheticNote(note_id=f"N{index + 1:09d}", mrn=patient.mrn, note_type=note_type,
                             note_date=day.isoformat(), text=text)


def generate_notes(seed: int, target_bytes: int) -> Iterator[SyntheticNote]:
    """Yield notes until their texts total about `target_bytes` UTF-8 bytes.

    Deterministic: the same (seed, target_bytes) always yields the same notes. The total lands
    within a few hundred bytes of the target (the last note is sized to the leftover budget).
    """
    factory = _NoteFactory(seed)
    total = 0
    index = 0
    while total < target_bytes:
        remaining = target_bytes - total
        if index and remaining < _MIN_NOTE_BYTES:
            break
        note = factory.note(index, remaining)
        total += len(note.text.encode("utf-8"))
        index += 1
        yield note


# --- writers -----------------------------------------------------------------------------------

NoteSink = Callable[[SyntheticNote], None]


@contextlib.contextmanager
def delimited_note_sink(path: str | Path, delimiter: str) -> Iterator[NoteSink]:
    """Open a delimited notes file (header row `NOTE_COLUMNS`) and yield a per-note write function."""
    with open_text_output(path, newline="") as handle:
        # QUOTE_MINIMAL quotes exactly the fields holding the delimiter, quotes or newlines.
        writer = csv.writer(handle, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        writer.writerow(NOTE_COLUMNS)
        yield lambda n: writer.writerow((n.note_id, n.mrn, n.note_type, n.note_date, n.text))


@contextlib.contextmanager
def jsonl_note_sink(path: str | Path, text_key: str = "text") -> Iterator[NoteSink]:
    """Open a JSON-lines notes file and yield a per-note write function."""
    with open_text_output(path) as handle:
        def write(note: SyntheticNote) -> None:
            record = asdict(note)
            record[text_key] = record.pop("text")
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        yield write


def _drain(sink_cm: contextlib.AbstractContextManager[NoteSink], notes: Iterable[SyntheticNote]) -> int:
    count = 0
    with sink_cm as write:
        for note in notes:
            write(note)
            count += 1
    return count


def write_notes_delimited(path: str | Path, notes: Iterable[SyntheticNote], delimiter: str) -> int:
    """Write `notes` as a delimited file (tab for .tsv, comma for .csv); returns the count written."""
    count = _drain(delimited_note_sink(path, delimiter), notes)
    log.info("wrote %d notes to %s", count, path)
    return count


def write_notes_jsonl(path: str | Path, notes: Iterable[SyntheticNote], text_key: str = "text") -> int:
    """Write `notes` as JSON lines (note text under `text_key`); returns the count written."""
    count = _drain(jsonl_note_sink(path, text_key), notes)
    log.info("wrote %d notes to %s", count, path)
    return count
