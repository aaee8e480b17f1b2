"""Synthetic clinical STS and MedNLI corpora, written in the releases' own file layouts.

- **STS**: both sentences state a medication fact (drug, strength, frequency, condition), each in
  one of several phrasings; the gold score grows with the facts the two share (0 shared: 0.5,
  all four: 5.0 in the same phrasing, 4.5 in another), with a little jitter, and a pair of
  unrelated sentences scores 0.
- **MedNLI**: the premise is a short history (age, sex, two conditions, a presenting symptom); the
  hypothesis is entailed (a stated fact restated), contradicted (a stated fact negated, the other
  sex), or neutral (a condition the premise does not name, a claim it says nothing about). The
  three classes come in equal shares.

The facts come from `synthetic.lexicon` (fictional combinations of real drug and condition names).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from finetune.pairs.readers import SentencePair, write_predictions
from gatortron_common.atomic import atomic_write_text
from synthetic import lexicon as lx
from synthetic.text import Dice

_STS_PHRASINGS = (
    "Patient was started on {drug} {strength} {freq} for {cond}.",
    "{drug} {strength} {freq} prescribed for {cond}.",
    "For {cond}, continue {drug} {strength} {freq}.",
    "Take {drug} {strength} by mouth {freq} to treat {cond}.",
    "The patient takes {drug} {strength} {freq} because of {cond}.",
)
_UNRELATED = (
    "Vital signs were stable overnight.", "Patient ambulating in the hallway without assistance.",
    "Follow up with cardiology in two weeks.", "Diet advanced to regular as tolerated.",
    "Wound is clean, dry and intact.", "Family at bedside and updated on the plan.",
    "Physical therapy evaluation requested.", "No acute distress on examination this morning.",
)
_FREQUENCIES = ("daily", "twice a day", "three times a day", "every 6 hours", "at bedtime", "every other day")
_SHARED_SCORE = (0.5, 1.5, 2.5, 3.5, 4.5)  # by the number of facts shared; 5.0 when the phrasing is too
_SYMPTOMS = ("chest pain", "shortness of breath", "fever", "abdominal pain", "headache", "cough", "syncope",
             "nausea", "dizziness", "back pain")
_CONDITIONS = tuple(c for c in lx.CONDITIONS if c.islower() and "history" not in c and "s/p" not in c)
_SEXES = (("male", "man", "M"), ("female", "woman", "F"))
_NEUTRAL_CLAIMS = ("The patient will need surgery.", "The patient lives alone.",
                   "The patient was admitted to the ICU.", "The patient smokes cigarettes.",
                   "The patient's symptoms began a week ago.")


@dataclass(frozen=True)
class _Fact:
    drug: str
    strength: str
    freq: str
    cond: str


def _fact(d: Dice) -> _Fact:
    drug = d.choice(lx.DRUGS)
    return _Fact(drug.name, f"{d.choice(drug.strengths)} {drug.unit}", d.choice(_FREQUENCIES),
                 d.choice(_CONDITIONS))


def _changed(d: Dice, fact: _Fact, keep: int) -> _Fact:
    """`fact` with all but `keep` of its four slots drawn anew (each to a different value)."""
    kept = set(d.sample(range(4), keep))
    fresh = _fact(d)
    while any(getattr(fresh, slot) == getattr(fact, slot) for slot in ("drug", "freq", "cond")):
        fresh = _fact(d)
    values = [fact.drug, fact.strength, fact.freq, fact.cond]
    other = [fresh.drug, fresh.strength, fresh.freq, fresh.cond]
    if 0 in kept and 1 not in kept:  # the same drug keeps a strength it comes in
        drug = next(x for x in lx.DRUGS if x.name == fact.drug)
        choices = [f"{s} {drug.unit}" for s in drug.strengths if f"{s} {drug.unit}" != fact.strength]
        other[1] = d.choice(choices) if choices else f"{fact.strength}0"
    return _Fact(*(values[slot] if slot in kept else other[slot] for slot in range(4)))


def generate_sts(seed: int, count: int) -> list[SentencePair]:
    """`count` scored pairs (deterministic for `seed`)."""
    d = Dice(np.random.default_rng([seed, 2019]))
    pairs = []
    for index in range(count):
        fact = _fact(d)
        phrasing = d.choice(_STS_PHRASINGS)
        first = phrasing.format(**vars(fact))
        if d.chance(0.15):
            second, score = d.choice(_UNRELATED), 0.0
        else:
            keep = d.between(0, 4)
            other_phrasing = d.choice(_STS_PHRASINGS)
            second = other_phrasing.format(**vars(_changed(d, fact, keep)))
            score = 5.0 if keep == 4 and other_phrasing == phrasing else _SHARED_SCORE[keep]
            score = min(5.0, max(0.0, round(score + d.uniform(-0.25, 0.25), 2)))
        if d.chance(0.5):
            first, second = second, first
        pairs.append(SentencePair(f"sts-{index}", first, second, score))
    return pairs


def _premise(d: Dice) -> tuple[str, dict[str, str]]:
    sex, noun, letter = d.choice(_SEXES)
    first, second = d.sample(_CONDITIONS, 2)
    symptom = d.choice(_SYMPTOMS)
    text = d.choice((f"{d.between(25, 90)} yo {letter} with a history of {first} and {second} who presents "
                     f"with {symptom}.",
                     f"The patient is a {d.between(25, 90)} year old {noun} with {first} and {second}, "
                     f"admitted for {symptom}."))
    return text, {"sex": sex, "noun": noun, "first": first, "second": second, "symptom": symptom}


def _hypothesis(d: Dice, facts: dict[str, str], label: str) -> str:
    condition = d.choice((facts["first"], facts["second"]))
    other_noun = next(noun for _, noun, _ in _SEXES if noun != facts["noun"])
    if label == "entailment":
        return d.choice((f"The patient has {condition}.", f"Patient has a history of {condition}.",
                         f"The patient is a {facts['noun']}.", f"The patient has {facts['symptom']}."))
    if label == "contradiction":
        return d.choice((f"The patient has no history of {condition}.", f"Patient denies {facts['symptom']}.",
                         f"The patient is a {other_noun}.", f"The patient has never had {condition}."))
    absent = d.choice([c for c in _CONDITIONS if c not in (facts["first"], facts["second"])])
    return d.choice((f"The patient has {absent}.", f"Patient has a history of {absent}.",
                     f"The patient has a family history of {condition}.", d.choice(_NEUTRAL_CLAIMS)))


def generate_mednli(seed: int, count: int) -> list[SentencePair]:
    """`count` labelled pairs, the three classes in turn (deterministic for `seed`)."""
    d = Dice(np.random.default_rng([seed, 2018]))
    labels = ("entailment", "contradiction", "neutral")
    pairs = []
    for index in range(count):
        premise, facts = _premise(d)
        label = labels[index % 3]
        pairs.append(SentencePair(f"mednli-{index}", premise, _hypothesis(d, facts, label), label))
    return pairs


def write_sts_release(folder: str | Path, train: list[SentencePair], test: list[SentencePair]) -> Path:
    """The 2019 release's layout: `clinicalSTS2019.train.txt` (three columns), `clinicalSTS2019.test.txt`
    (two) and `clinicalSTS2019.test.gs.sim.txt` (the test scores, one per line)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "clinicalSTS2019.train.txt",
                      "".join(f"{p.sentence1}\t{p.sentence2}\t{p.label}\n" for p in train))
    atomic_write_text(folder / "clinicalSTS2019.test.txt",
                      "".join(f"{p.sentence1}\t{p.sentence2}\n" for p in test))
    write_predictions(folder / "clinicalSTS2019.test.gs.sim.txt", "sts", test, [p.label for p in test])
    return folder


def write_mednli_release(folder: str | Path, splits: dict[str, list[SentencePair]]) -> Path:
    """The release's layout: `mli_<split>_v1.jsonl` per split (train, dev, test)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for split, pairs in splits.items():
        write_predictions(folder / f"mli_{split}_v1.jsonl", "mednli", pairs, [p.label for p in pairs])
    return folder
