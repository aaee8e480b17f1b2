"""i2b2 2010 concept notes: problems, tests and treatments in one-sentence-per-line text.

The text is written the way the 2010 release is: one sentence per line, tokens separated by
single spaces, punctuation as separate tokens, so every concept is a run of whole tokens and
the `.con` line:token offsets are exact. Following the annotation guidelines, articles and
possessives belong to the concept ("a chest x-ray", "his chest pain"). Two rarer shapes the
readers must handle are written on request: a concept broken across two lines and a concept
in double quotes.
"""

from __future__ import annotations

from finetune.corpora.document import Document
from synthetic import lexicon as lx
from synthetic.annotated.builder import AnnotatedText, Mention
from synthetic.text import Dice

_PROBLEMS = tuple(c for c in lx.CONDITIONS + lx.SYMPTOMS if "(" not in c)
_TESTS = ("a chest x-ray", "an EKG", "blood cultures", "a CT scan of the abdomen", "a troponin level",
          "a hemoglobin A1c", "an echocardiogram", "a urinalysis", "a CBC", "serial cardiac enzymes",
          "a BMP", "an INR", "a renal ultrasound", "an MRI of the brain")
_PROCEDURES = ("cardiac catheterization", "hemodialysis", "physical therapy", "IV fluids",
               "a blood transfusion", "supplemental oxygen", "a CABG", "an incision and drainage")
_DRUGS = tuple(d.name.lower() for d in lx.DRUGS)
_SECTIONS = ("HISTORY OF PRESENT ILLNESS :", "HOSPITAL COURSE :", "DISCHARGE MEDICATIONS :")
_NEUTRAL = ("The patient was seen and examined .", "The family was updated at the bedside .",
            "The patient tolerated a regular diet .", "The patient was ambulating without assistance .")


def _problem(dice: Dice) -> Mention:
    return Mention(dice.choice(_PROBLEMS), "problem")


def _test(dice: Dice) -> Mention:
    return Mention(dice.choice(_TESTS), "test")


def _treatment(dice: Dice) -> Mention:
    return Mention(dice.choice(_DRUGS + _PROCEDURES), "treatment")


def _capital(mention: Mention) -> Mention:
    """The mention with its first letter upper-cased (it starts a sentence)."""
    return Mention(mention.text[:1].upper() + mention.text[1:], mention.type)


def concept_note(dice: Dice, document_id: str, *, broken_concept: bool = False,
                 quoted_concept: bool = False) -> Document:
    """One 2010-style discharge summary with problem / test / treatment concepts.

    Args:
        dice: seeded draws.
        document_id: the file stem.
        broken_concept: break one two-token treatment across two lines (`.con` `5:3 6:0`).
        quoted_concept: write one problem in double quotes (`c=""leaky valve"" ...`).
    """
    b = AnnotatedText()
    year = dice.between(2010, 2019)
    month, day = dice.between(1, 12), dice.between(1, 20)
    b.add(f"Admission Date :\n{year}-{month:02d}-{day:02d}\nDischarge Date :\n"
          f"{year}-{month:02d}-{day + dice.between(1, 8):02d}\n")
    b.add(f"{_SECTIONS[0]}\n")
    b.say(f"This {dice.between(25, 95)} year old {dice.choice(('man', 'woman'))} has a history of "
          "{p1} and {p2} and presents with {p3} .\n", p1=_problem(dice), p2=_problem(dice), p3=_problem(dice))
    if quoted_concept:
        b.say("The patient describes {q} for the past week .\n",
              q=Mention(f'"{dice.choice(("leaky valve", "heart flutter", "tight chest"))}"', "problem"))
    b.say("The patient denies {p} .\n", p=_problem(dice))
    b.add(f"{_SECTIONS[1]}\n")
    for _ in range(dice.between(2, 4)):
        template = dice.choice((
            "{T} showed {p} .\n",
            "On admission , {t} was notable for {p} .\n",
            "The patient was started on {r} for {p} .\n",
            "{P} was treated with {r} and {r2} .\n",
            "{T} was negative .\n",
        ))
        b.say(template, t=_test(dice), T=_capital(_test(dice)), p=_problem(dice), P=_capital(_problem(dice)),
              r=_treatment(dice), r2=_treatment(dice))
        if dice.chance(0.3):
            b.add(dice.choice(_NEUTRAL) + "\n")
    if broken_concept:
        verb, first, second = dice.choice((("underwent", "cardiac", "catheterization"),
                                           ("was started on", "metoprolol", "tartrate"),
                                           ("was started on", "insulin", "glargine")))
        # The line break falls inside the concept, as where the release split a sentence badly.
        b.say(f"The patient {verb} {{r}} without complication .\n",
              r=Mention(f"{first}\n{second}", "treatment"))
    b.add(f"{_SECTIONS[2]}\n")
    for number, drug in enumerate(dice.sample(lx.DRUGS, dice.between(2, 5)), start=1):
        b.say(f"{number} . {{r}} {dice.choice(drug.strengths)} {drug.unit or 'units'} {drug.route} "
              f"{dice.choice(drug.frequencies)}\n", r=Mention(drug.name.lower(), "treatment"))
    return b.document(document_id)
