"""n2c2 2018 track 2 notes: medications with their attributes, ADEs and relations (brat standoff).

MIMIC-style discharge summaries (dates as `[**2115-2-22**]` placeholders, as in the release) with
Drug, Strength, Dosage, Duration, Frequency, Form, Route, Reason and ADE entities, each attribute
linked to its drug by a `<Type>-Drug` relation (Arg1 the attribute, Arg2 the drug). Every note has
the two shapes BIO labelling cannot express directly:

- one span annotated twice, as the ADE of the drug that caused it and as the Reason for the drug
  that treated it ("developed a rash ... diphenhydramine was given"),
- a discontinuous Reason ("chest ... pain" in "chest and abdominal pain", next to the contiguous
  Reason "abdominal pain").
"""

from __future__ import annotations

from typing import Any

from finetune.corpora.document import Document, Entity
from synthetic import lexicon as lx
from synthetic.annotated.builder import AnnotatedText, Mention
from synthetic.text import Dice

ENTITY_TYPES: tuple[str, ...] = ("Drug", "Strength", "Dosage", "Duration", "Frequency", "Form", "Route",
                                 "Reason", "ADE")
RELATION_TYPES: tuple[str, ...] = tuple(f"{t}-Drug" for t in ENTITY_TYPES if t != "Drug")

_ORAL = tuple(d for d in lx.DRUGS if d.route == "p.o." and d.unit in ("mg", "mcg"))
_FREQUENCIES = ("DAILY (Daily)", "BID (2 times a day)", "TID (3 times a day)", "Q6H (every 6 hours)",
                "QHS (once a day (at bedtime))", "Q8H (every 8 hours)")
_DOSAGES = ("One (1)", "Two (2)", "One-half (1/2)")
# (drug that caused it, why it was given, adverse event, drug given for the event, strength, route)
_ADE_CASES = (
    ("Vancomycin", "cellulitis", "rash", "Diphenhydramine", "25 mg", "IV"),
    ("Ceftriaxone", "pneumonia", "hives", "Hydroxyzine", "25 mg", "PO"),
    ("Oxycodone", "back pain", "nausea", "Ondansetron", "4 mg", "IV"),
    ("Azithromycin", "bronchitis", "diarrhea", "Loperamide", "2 mg", "PO"),
    ("Spironolactone", "ascites", "hyperkalemia", "Sodium polystyrene sulfonate", "15 g", "PO"),
)
_PAIN_SITES = (("chest", "abdominal"), ("back", "neck"), ("hip", "knee"))
_REASONS = tuple(c for c in lx.CONDITIONS if c.islower())


class _Relations:
    """Collects `<Type>-Drug` relations between entities; ids are given when the note is done."""

    def __init__(self) -> None:
        self.pairs: list[tuple[str, Entity, Entity]] = []

    def link(self, drug: Entity, *attributes: Entity) -> None:
        for attribute in attributes:
            self.pairs.append((f"{attribute.type}-Drug", attribute, drug))

    def link_all(self, written: dict[str, Entity]) -> None:
        """Link every entity of a `say` result to its one Drug."""
        drug = written["drug"]
        self.link(drug, *(entity for name, entity in written.items() if name != "drug"))


def _history(b: AnnotatedText, d: Dice, relations: _Relations) -> None:
    culprit, why, event, remedy, strength, route = d.choice(_ADE_CASES)
    b.add(f"History of Present Illness:\n{d.between(30, 90)} yo {d.choice(('M', 'F'))} with "
          f"{d.choice(_REASONS)} who was recently started on ")
    written = b.say("{drug} for {reason}", drug=Mention(culprit, "Drug"), reason=Mention(why, "Reason"))
    relations.link_all(written)
    b.add(" and developed ")
    # One span, two annotations: the ADE of the culprit and the Reason for the remedy.
    ade = b.mark(Mention(event, "ADE"))
    reason = b.annotate([(ade.start, ade.end)], "Reason")
    relations.link(written["drug"], ade)
    given = b.say(", for which {drug} {strength} {route} was given.\n", drug=Mention(remedy, "Drug"),
                  strength=Mention(strength, "Strength"), route=Mention(route, "Route"))
    relations.link_all(given)
    relations.link(given["drug"], reason)
    drug = d.choice(_ORAL)
    first, second = d.choice(_PAIN_SITES)
    home = b.say("Home medications also include {drug} as needed for ", drug=Mention(drug.name, "Drug"))
    start = len(b)
    b.add(f"{first} and ")
    site_start = len(b)
    b.add(f"{second} ")
    pain_start = len(b)
    b.add("pain")
    # "chest ... pain" (discontinuous) and "abdominal pain" are both reasons for this drug.
    split_reason = b.annotate([(start, start + len(first)), (pain_start, len(b))], "Reason")
    whole_reason = b.annotate([(site_start, len(b))], "Reason")
    relations.link(home["drug"], split_reason, whole_reason)
    b.add(".\n\n")


def _course(b: AnnotatedText, d: Dice, relations: _Relations) -> None:
    b.add("Brief Hospital Course:\n")
    drug = d.choice(_ORAL)
    written = b.say("{drug} was held for {ade}. ", drug=Mention(drug.name, "Drug"),
                    ade=Mention(d.choice(("bradycardia", "hypotension", "acute kidney injury")), "ADE"))
    relations.link_all(written)
    drug = d.choice(_ORAL)
    written = b.say("Then started on {drug} {strength} {route} {freq} {duration} for {reason}.\n\n",
                    drug=Mention(drug.name, "Drug"),
                    strength=Mention(f"{d.choice(drug.strengths)} {drug.unit}", "Strength"),
                    route=Mention(d.choice(("PO", "by mouth")), "Route"),
                    freq=Mention(d.choice(_FREQUENCIES), "Frequency"),
                    duration=Mention(f"for {d.between(3, 14)} days", "Duration"),
                    reason=Mention(d.choice(_REASONS), "Reason"))
    relations.link_all(written)


def _discharge_medications(b: AnnotatedText, d: Dice, relations: _Relations) -> None:
    b.add("Discharge Medications:\n")
    for number, drug in enumerate(d.sample(_ORAL, d.between(2, 5)), start=1):
        form = d.choice(("Tablet", "Capsule"))
        b.add(f"{number}. ")
        written = b.say("{drug} {strength} {form} Sig: {dosage} {form2} {route} {freq}",
                        drug=Mention(drug.name, "Drug"),
                        strength=Mention(f"{d.choice(drug.strengths)} {drug.unit}", "Strength"),
                        form=Mention(form, "Form"), dosage=Mention(d.choice(_DOSAGES), "Dosage"),
                        form2=Mention(form, "Form"), route=Mention("PO", "Route"),
                        freq=Mention(d.choice(_FREQUENCIES), "Frequency"))
        if d.chance(0.3):
            written |= b.say(" {duration}", duration=Mention(f"for {d.between(3, 10)} days", "Duration"))
        relations.link_all(written)
        b.add(f".\nDisp:*{d.between(14, 90)} {form}(s)* Refills:*{d.below(3)}*\n")


def medication_note(dice: Dice, document_id: str) -> Document:
    """One 2018-style discharge summary with medication entities and `<Type>-Drug` relations.

    Args:
        dice: seeded draws.
        document_id: the file stem (the release uses numbers such as `100035`).
    """
    b = AnnotatedText()
    year = dice.between(2100, 2190)
    b.add(f"\n\nAdmission Date:  [**{year}-{dice.between(1, 12)}-{dice.between(1, 28)}**]              "
          f"Discharge Date:   [**{year}-{dice.between(1, 12)}-{dice.between(1, 28)}**]\n\n"
          f"Service: MEDICINE\n\nAllergies:\nPatient recorded as having No Known Allergies to Drugs\n\n")
    relations = _Relations()
    _history(b, dice, relations)
    _course(b, dice, relations)
    _discharge_medications(b, dice, relations)
    b.add(f"\nFollowup Instructions:\nFollow up with your PCP in {dice.between(1, 4)} weeks.\n")
    document = b.document(document_id)
    for number, entity in enumerate(document.entities, start=1):
        entity.id = f"T{number}"
    links: list[dict[str, Any]] = [
        {"id": f"R{number}", "type": kind, "args": {"Arg1": attribute.id, "Arg2": drug.id}}
        for number, (kind, attribute, drug) in enumerate(relations.pairs, start=1)]
    document.relations = links
    return document
