"""i2b2/UTHealth 2014 de-identification notes: every PHI category and subtype, invented surrogates.

Each note carries every subtype at least once (a header block, a shuffled body and a signature),
so any non-empty split of the corpus covers the whole tag set. Surrogates are invented: names
come from the shared lexicon, phone and fax numbers use the fictional 555-01xx range, e-mail and
web addresses use reserved example domains, IP addresses the TEST-NET-1 block (192.0.2.0/24),
social security numbers the never-issued 987-65-432x block, years are shifted to 2060-2099.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from finetune.corpora.document import Document
from finetune.corpora.formats.i2b2_2014 import CATEGORY_OF
from synthetic import lexicon as lx
from synthetic.annotated.builder import AnnotatedText, Mention
from synthetic.text import Dice, fictional_phone

# Small lists the shared lexicon has no equivalent for.
_PROFESSIONS = ("retired electrician", "nurse", "school teacher", "truck driver", "accountant", "farmer",
                "software engineer", "carpenter", "librarian", "firefighter", "cashier", "pharmacist")
_DEPARTMENTS = ("Cardiology Clinic", "Internal Medicine", "Endocrine Associates", "Renal Unit",
                "Emergency Department", "Oncology Infusion Center", "Pulmonary Associates")
_COUNTRIES = ("Canada", "Mexico", "Ireland", "India", "Brazil", "Jamaica", "Vietnam", "Germany", "Kenya")
_OTHER = ("Rotary Club", "Elks Lodge", "Red Hat Society", "Knights of Columbus", "Gator Booster Club")
_DEVICES = ("pacemaker", "insulin pump", "implantable defibrillator", "cochlear implant")
_CONDITIONS = tuple(c for c in lx.CONDITIONS if c.islower())
_NEUTRAL = (
    "Blood pressure is well controlled on the current regimen.",
    "No chest pain, shortness of breath or palpitations.",
    "Review of systems is otherwise negative.",
    "Labs from the last visit were reviewed with the patient.",
    "Exam: lungs clear, heart regular, abdomen soft and nontender.",
    "Will continue the current medications and recheck labs in three months.",
)


def _phi(text: str, subtype: str) -> Mention:
    return Mention(text=text, type=subtype, category=CATEGORY_OF[subtype], attributes={"comment": ""})


class _Surrogates:
    """Invented PHI for one note (one patient, a few clinicians)."""

    def __init__(self, dice: Dice) -> None:
        self.d = dice
        self.first = dice.choice(lx.FIRST_NAMES)
        self.last = dice.choice(lx.LAST_NAMES)
        self.city, self.state_code, self.zip3 = dice.choice(lx.CITIES)
        self.visit = dt.date(dice.between(2060, 2099), dice.between(1, 12), dice.between(1, 28))

    def patient(self) -> Mention:
        return _phi(self.d.choice((f"{self.first} {self.last}", f"{self.last}, {self.first}")), "PATIENT")

    def patient_first(self) -> Mention:
        return _phi(self.d.choice((self.first, f"{self.first} {self.last}")), "PATIENT")

    def doctor(self) -> Mention:
        first, last = self.d.choice(lx.FIRST_NAMES), self.d.choice(lx.LAST_NAMES)
        return _phi(self.d.choice((f"{first} {last}", f"{first[0]}. {last}", last)), "DOCTOR")

    def username(self) -> Mention:
        first, last = self.d.choice(lx.FIRST_NAMES), self.d.choice(lx.LAST_NAMES)
        initials = (first[0] + last[0]).lower()
        login = _alnum(first[0] + last)[:8].lower()
        return _phi(self.d.choice((initials, f"{initials}{self.d.between(1, 99)}", login)), "USERNAME")

    def date(self, day: dt.date | None = None) -> Mention:
        day = day or self.visit - dt.timedelta(days=self.d.between(1, 900))
        text = self.d.choice((day.isoformat(), f"{day.month:02d}/{day.day:02d}/{day.year}",
                              f"{lx.MONTHS[day.month - 1]} {day.day}, {day.year}", f"{day.month}/{day.day}",
                              f"{lx.MONTHS[day.month - 1][:3]} {day.year}"))
        return _phi(text, "DATE")

    def number(self, digits: int) -> str:
        return "".join(str(self.d.below(10)) for _ in range(digits))

    def letters(self, count: int) -> str:
        return "".join(chr(ord("A") + self.d.below(26)) for _ in range(count))

    def phone(self, subtype: str = "PHONE") -> Mention:
        return _phi(fictional_phone(self.d, lx.PHONE_AREA_CODES[:5]), subtype)

    def street(self) -> Mention:
        return _phi(f"{self.d.between(1, 9899)} {self.d.choice(lx.STREET_NAMES)} "
                    f"{self.d.choice(lx.STREET_SUFFIXES)}", "STREET")

    def state(self) -> Mention:
        names = {abbreviation: name for name, abbreviation in lx.US_STATES}
        return _phi(self.d.choice((self.state_code, names[self.state_code])), "STATE")

    def organization(self) -> Mention:
        last, street = self.d.choice(lx.LAST_NAMES), self.d.choice(lx.STREET_NAMES)
        # "&" and "'" (O'Brien) make writers escape XML attribute text.
        return _phi(self.d.choice((f"{last} & Sons Hardware", f"{street} Creek Community Church",
                                   f"{self.city} Public Library", f"First {street} Bank")), "ORGANIZATION")

    def email(self) -> Mention:
        return _phi(f"{_alnum(self.first)}.{_alnum(self.last)}@example.org".lower(), "EMAIL")

    def url(self) -> Mention:
        return _phi(self.d.choice((f"www.{_alnum(self.last).lower()}clinic.example.com",
                                   f"https://portal.example.org/{_alnum(self.first).lower()}")), "URL")


def _alnum(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", text)


def _body_sentences(s: _Surrogates) -> list[Callable[[AnnotatedText], object]]:
    """One writer per required body sentence; the caller shuffles them."""
    d = s.d
    return [
        lambda b: b.say(f"{{name}} is a {{age}} year old {{job}} with {d.choice(_CONDITIONS)} "
                        f"who presents for follow-up.", name=s.patient_first(),
                        age=_phi(str(d.between(19, 96)), "AGE"),
                        job=_phi(d.choice(_PROFESSIONS), "PROFESSION")),
        lambda b: b.say("The patient was last seen by Dr. {doctor} on {date}.", doctor=s.doctor(),
                        date=s.date()),
        lambda b: b.say("The patient lives in {city} and volunteers at {org}.",
                        city=_phi(s.city, "CITY"), org=s.organization()),
        lambda b: b.say("Recently returned from {country} and plans a trip to {place} next month.",
                        country=_phi(d.choice(_COUNTRIES), "COUNTRY"),
                        place=_phi(f"{d.choice(lx.STREET_NAMES)} Lake campground", "LOCATION-OTHER")),
        lambda b: b.say("Member of the {other}.", other=_phi(d.choice(_OTHER), "OTHER")),
        lambda b: b.say(f"{d.choice(_DEVICES).capitalize()} serial number {{device}}.",
                        device=_phi(f"{s.letters(2)}-{s.number(4)}-{s.number(4)}", "DEVICE")),
        lambda b: b.say("Specimen {bioid} sent to pathology; research study ID {idnum}.",
                        bioid=_phi(f"S{s.number(2)}-{s.number(5)}", "BIOID"),
                        idnum=_phi(f"{s.number(2)}-{s.number(4)}-{s.number(3)}", "IDNUM")),
        lambda b: b.say("Driver's license {license}, vehicle plate {vehicle}.",
                        license=_phi(f"{s.letters(1)}{s.number(7)}", "LICENSE"),
                        vehicle=_phi(f"{s.letters(3)}-{s.number(4)}", "VEHICLE")),
        lambda b: b.say("Reached by e-mail at {email}; portal {url}; video visit from {ip}.",
                        email=s.email(), url=s.url(), ip=_phi(f"192.0.2.{d.between(1, 254)}", "IPADDR")),
    ]


def deid_note(dice: Dice, document_id: str) -> Document:
    """One 2014-style note in which every PHI subtype occurs at least once.

    Args:
        dice: seeded draws (shared across the corpus for determinism).
        document_id: the file stem, e.g. `110-01`.
    """
    s = _Surrogates(dice)
    b = AnnotatedText()
    b.say("\n\n\nRecord date: {date}\n\n", date=_phi(s.visit.isoformat(), "DATE"))
    b.say("{hospital}\n{dept}\n{street}\n{city}, {state} {zip}\n",
          hospital=_phi(dice.choice(lx.HOSPITALS), "HOSPITAL"),
          dept=_phi(dice.choice(_DEPARTMENTS), "DEPARTMENT"),
          street=s.street(), city=_phi(s.city, "CITY"), state=s.state(),
          zip=_phi(f"{s.zip3}{dice.between(0, 99):02d}", "ZIP"))
    b.say("Phone {phone}    Fax {fax}\n\n", phone=s.phone(), fax=s.phone("FAX"))
    b.say("Patient: {patient}    MRN: {mrn}    Room: {room}\n", patient=s.patient(),
          mrn=_phi(s.number(dice.between(7, 8)), "MEDICALRECORD"),
          room=_phi(f"{dice.between(1, 12)}{s.letters(1)}-{dice.between(1, 40):02d}", "ROOM"))
    b.say("Account: {account}    Health plan: {plan}    SSN: {ssn}\n\n",
          account=_phi(s.number(9), "ACCOUNT"), plan=_phi(f"{s.letters(3)}{s.number(9)}", "HEALTHPLAN"),
          ssn=_phi(f"987-65-{dice.between(4320, 4329)}", "SSN"))
    sentences = _body_sentences(s)
    sentences += [lambda b, t=t: b.add(t) for t in dice.sample(_NEUTRAL, dice.between(1, 3))]
    b.add("HPI:\n")
    for write in dice.sample(sentences, len(sentences)):
        write(b)
        b.add("\n" if dice.chance(0.5) else " ")
    if dice.chance(0.5):
        b.say("\nFollow-up on {date} with Dr. {doctor}; call {phone} with questions.\n",
              date=s.date(s.visit + dt.timedelta(days=dice.between(7, 120))), doctor=s.doctor(),
              phone=s.phone())
    b.say("\n______________________________\n{doctor}, M.D.\n\nDictated by: {user}\n",
          doctor=s.doctor(), user=s.username())
    document = b.document(document_id)
    for number, entity in enumerate(document.entities):
        entity.id = f"P{number}"
    return document
