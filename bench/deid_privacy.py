"""Surrogate privacy under a noisy detector: what of the PHI survives `Surrogates.note_replacements`.

    python bench/deid_privacy.py [--documents 2000] [--seed 7] [--relabel 0.3]

On synthetic i2b2-2014 notes (`synthetic.annotated`, ids "<patient>-<note>": four notes a patient),
a deliberately noisy detector is applied to the gold PHI spans: starts and ends moved by 1 to 3
characters, some spans split at a space, some neighbours merged, a share relabelled to a wrong
subtype. Surrogates are made per patient (scope "patient:<id>") and spliced in. Reported, as counts
and ratios only (never text):

- survival: letter tokens (2+ letters) and digit runs (2+ digits) of gold PHI that lie inside a
  replaced span and reappear in that span's surrogate, or anywhere among the note's surrogates
  (goal 0; the generic words a surrogate may keep, "Hospital", "Street", are counted apart; dates
  that moved are reported apart: HIPAA allows a kept year);
- name consistency: an original name word maps to one surrogate word within a note and within a
  patient (only spans the detector labelled as a name and whose words align one to one);
- ages of 90 and over that the detector found exactly: the HIPAA category;
- dates found exactly as DATE: valid and moved by exactly the patient's offset;
- the tag (no safe surrogate) per subtype the detector gave;
- notes/s for surrogates and for tags on the same spans (splicing included; one core).
"""

from __future__ import annotations

import bench_environment  # noqa: F401  the repository on sys.path, process settings

import argparse
import bisect
import datetime as dt
import random
import time
from collections import Counter, defaultdict
from collections.abc import Sequence

import regex

from finetune.corpora.document import Document
from finetune.corpora.formats.i2b2_2014 import CATEGORY_OF
from finetune.deid.dates import parse_date
from finetune.deid.guard import EXEMPT_WORDS
from finetune.deid.rules import PhiSpan
from finetune.deid.surrogates import Surrogates
from finetune.deid.words import WORD, fold
from synthetic.annotated import generate_corpus

SUBTYPES = sorted(CATEGORY_OF)
NAME_WORD = regex.compile(r"\p{L}[\p{L}\p{M}]*(?:['’]\p{L}[\p{L}\p{M}]*)*")
TOKEN = regex.compile(r"\p{L}[\p{L}\p{M}]+|\p{N}{2,}")
TAG = "[**{category}**]"


def noisy_spans(document: Document, rng: random.Random, relabel: float) -> list[PhiSpan]:
    """The gold spans with wrong boundaries, splits, merges and labels (sorted, non-overlapping)."""
    text = document.text
    raw: list[list] = []
    for entity in sorted(document.entities, key=lambda e: e.start):
        start, end, subtype = entity.start, entity.end, entity.type
        inner = [i for i in range(start + 1, end - 1) if text[i] == " "]
        pieces = [[start, end]]
        if inner and rng.random() < 0.05:
            cut = rng.choice(inner)
            pieces = [[start, cut], [cut + 1, end]]
        for piece in pieces:
            if rng.random() < 0.2:
                piece[0] += rng.choice((-3, -2, -1, 1, 2, 3))
            if rng.random() < 0.2:
                piece[1] += rng.choice((-3, -2, -1, 1, 2, 3))
            label = subtype
            if rng.random() < relabel:
                label = rng.choice([s for s in SUBTYPES if s != subtype])
            raw.append([piece[0], piece[1], label])
    merged: list[list] = []
    for span in sorted(raw):
        if merged and span[0] - merged[-1][1] <= 3 and rng.random() < 0.05:
            merged[-1][1] = max(merged[-1][1], span[1])
        else:
            merged.append(span)
    spans, previous = [], 0
    for start, end, label in merged:
        start, end = max(start, previous, 0), min(end, len(text))
        if end > start:
            spans.append(PhiSpan(start, end, CATEGORY_OF[label], label, 1.0, ("bench",)))
            previous = end
    return spans


def splice(text: str, spans: Sequence[PhiSpan], replacements: Sequence[str]) -> str:
    pieces, position = [], 0
    for span, new in zip(spans, replacements, strict=True):
        pieces += [text[position:span.start], new]
        position = span.end
    pieces.append(text[position:])
    return "".join(pieces)


def tag_replacements(spans: Sequence[PhiSpan]) -> list[str]:
    return [TAG.format(category=s.category, subtype=s.subtype) for s in spans]


def row(label: str, part: int, whole: int | None = None, note: str = "") -> None:
    """One table line: a count, or a count out of a whole with its share."""
    if whole is None:
        print(f"  {label:<44}{part:>7}{note}")
        return
    share = f"{100 * part / whole:6.2f} %" if whole else "   n/a"
    print(f"  {label:<44}{part:>7} / {whole:<7} {share}{note}")


class Tally:
    """Everything the bench counts (no text kept past one note)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.note_names: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.patient_names: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.spans: Counter[str] = Counter()
        self.tags: Counter[str] = Counter()

    def add(self, surrogates: Surrogates, document: Document, patient: str, spans: Sequence[PhiSpan],
            out: Sequence[str]) -> None:
        tags = tag_replacements(spans)
        moved = {i for i, (s, r) in enumerate(zip(spans, out, strict=True))
                 if s.subtype == "DATE" and r != tags[i]}
        note_words = {fold(w) for i, r in enumerate(out) if i not in moved for w in WORD.findall(r)}
        gold = {(e.start, e.end, e.type) for e in document.entities}
        for index, (span, new) in enumerate(zip(spans, out, strict=True)):
            self.spans[span.subtype] += 1
            self.tags[span.subtype] += new == tags[index]
            if (span.start, span.end, span.subtype) in gold:  # found exactly, right label
                self.counts["exact spans"] += 1
                self.counts["exact spans tagged"] += new == tags[index]
        self._survival(document, spans, out, moved, note_words)
        self._names(document, patient, spans, out, tags)
        self._ages_and_dates(surrogates, document, patient, spans, out)

    def _survival(self, document: Document, spans: Sequence[PhiSpan], out: Sequence[str], moved: set[int],
                  note_words: set[str]) -> None:
        text, starts = document.text, [s.start for s in spans]
        for entity in document.entities:
            for token in TOKEN.finditer(text, entity.start, entity.end):
                index = _containing(spans, starts, token.start(), token.end())
                kind = "digit" if token.group()[0].isdigit() else "letter"
                if index is None:
                    self.counts["tokens outside every replaced span (detector miss)"] += 1
                    continue
                new = out[index]
                if spans[index].subtype == "AGE" and "90+" in new:
                    self.counts[f"{kind} tokens of ages made the category (90+)"] += 1
                    continue
                if entity.type == "DATE" and index in moved:
                    self.counts[f"date {kind} tokens"] += 1
                    self.counts[f"date {kind} tokens kept"] += _kept(token.group(), new)
                    continue
                generic = kind == "letter" and fold(token.group()) in EXEMPT_WORDS
                name = f"{'generic ' if generic else ''}{kind} tokens"
                self.counts[name] += 1
                self.counts[f"{name} kept in own surrogate"] += _kept(token.group(), new)
                if kind == "letter":
                    self.counts[f"{name} kept in note surrogates"] += fold(token.group()) in note_words

    def _names(self, document: Document, patient: str, spans: Sequence[PhiSpan], out: Sequence[str],
               tags: Sequence[str]) -> None:
        text = document.text
        gold = {fold(w) for e in document.entities if e.type in ("PATIENT", "DOCTOR")
                for w in NAME_WORD.findall(text[e.start:e.end]) if len(w) > 1}
        for index, (span, new) in enumerate(zip(spans, out, strict=True)):
            if span.subtype not in ("PATIENT", "DOCTOR") or new == tags[index]:
                continue
            before, after = NAME_WORD.findall(text[span.start:span.end]), NAME_WORD.findall(new)
            if len(before) != len(after):
                continue
            for old, surrogate in zip(before, after, strict=True):
                if fold(old) in gold:
                    self.note_names[(document.id, fold(old))].add(fold(surrogate))
                    self.patient_names[(patient, fold(old))].add(fold(surrogate))

    def _ages_and_dates(self, surrogates: Surrogates, document: Document, patient: str,
                        spans: Sequence[PhiSpan], out: Sequence[str]) -> None:
        text = document.text
        exact = {(s.start, s.end): (s, r) for s, r in zip(spans, out, strict=True)}
        offset = surrogates.date_offset(f"patient:{patient}")
        for entity in document.entities:
            found = exact.get((entity.start, entity.end))
            original = text[entity.start:entity.end]
            if entity.type == "AGE" and original.isdigit() and int(original) >= 90:
                self.counts["ages >= 90"] += 1
                if found and found[0].subtype == "AGE":
                    self.counts["ages >= 90 found exactly"] += 1
                    self.counts["ages >= 90 found exactly -> category"] += found[1] == "90+"
            if entity.type == "DATE" and found and found[0].subtype == "DATE":
                self.counts["dates found exactly"] += 1
                self.counts["dates found exactly, moved"] += _moved_by(original, found[1], offset)


def _containing(spans: Sequence[PhiSpan], starts: list[int], start: int, end: int) -> int | None:
    index = bisect.bisect_right(starts, start) - 1
    if index >= 0 and spans[index].start <= start and end <= spans[index].end:
        return index
    return None


def _kept(token: str, surrogate: str) -> bool:
    if token[0].isdigit():
        return token in surrogate
    return fold(token) in {fold(w) for w in WORD.findall(surrogate)}


def _moved_by(original: str, new: str, offset: int) -> bool:
    before, after = parse_date(original), parse_date(new)
    if before is None or after is None:
        return False
    try:
        target = before.date + dt.timedelta(days=offset)
    except OverflowError:
        return False
    if before.has_year and before.has_day:
        return (after.date - before.date).days == offset
    if not before.has_year:
        return (after.date.month, after.date.day) == (target.month, target.day)
    return (after.date.year, after.date.month) == (target.year, target.month)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--relabel", type=float, default=0.3, help="share of spans given a wrong subtype")
    args = parser.parse_args()
    documents = generate_corpus("i2b2_2014", seed=args.seed, documents=args.documents)
    rng = random.Random(args.seed)
    noisy = [noisy_spans(d, rng, args.relabel) for d in documents]
    patients = [d.id.split("-")[0] for d in documents]
    gold_spans = sum(len(d.entities) for d in documents)
    print(f"{len(documents)} notes, {len(set(patients))} patients, {gold_spans} gold PHI spans, "
          f"{sum(map(len, noisy))} noisy spans ({args.relabel:.0%} relabelled, boundaries moved, split, "
          "merged)")

    surrogates = Surrogates("bench secret")
    started = time.perf_counter()
    outputs = []
    for document, spans, patient in zip(documents, noisy, patients, strict=True):
        out = surrogates.note_replacements(document.text, spans, f"patient:{patient}")
        splice(document.text, spans, out)
        outputs.append(out)
    surrogate_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for document, spans in zip(documents, noisy, strict=True):
        splice(document.text, spans, tag_replacements(spans))
    tag_seconds = time.perf_counter() - started

    tally = Tally()
    for document, spans, patient, out in zip(documents, noisy, patients, outputs, strict=True):
        tally.add(surrogates, document, patient, spans, out)
    report(tally, len(documents), surrogate_seconds, tag_seconds)


def report(tally: Tally, notes: int, surrogate_seconds: float, tag_seconds: float) -> None:
    c = tally.counts
    print("\nsurvival of gold PHI tokens inside replaced spans (goal 0)")
    row("letter tokens, in own surrogate", c["letter tokens kept in own surrogate"], c["letter tokens"])
    row("digit runs, in own surrogate", c["digit tokens kept in own surrogate"], c["digit tokens"])
    row("letter tokens, in any surrogate of the note", c["letter tokens kept in note surrogates"],
        c["letter tokens"])
    row("generic words (may stay), in own surrogate", c["generic letter tokens kept in own surrogate"],
        c["generic letter tokens"])
    row("moved dates: letter tokens kept", c["date letter tokens kept"], c["date letter tokens"])
    row("moved dates: digit runs kept", c["date digit tokens kept"], c["date digit tokens"])
    row("ages made the category (90+): tokens", c["digit tokens of ages made the category (90+)"]
        + c["letter tokens of ages made the category (90+)"])
    row("tokens outside every replaced span", c["tokens outside every replaced span (detector miss)"],
        note="   (detector misses: not the surrogates' to hide)")
    within = [len(v) == 1 for v in tally.note_names.values()]
    across = [len(v) == 1 for v in tally.patient_names.values()]
    print("\nname words: one surrogate per original word")
    row("within a note", sum(within), len(within))
    row("within a patient (4 notes)", sum(across), len(across))
    print("\nages and dates the detector found exactly")
    row("ages >= 90 -> category", c["ages >= 90 found exactly -> category"], c["ages >= 90 found exactly"],
        f"   ({c['ages >= 90']} gold ages >= 90)")
    row("dates valid, moved by the patient offset", c["dates found exactly, moved"], c["dates found exactly"])
    print("\nthe tag instead of a surrogate, per subtype the detector gave")
    for subtype in sorted(tally.spans):
        row(subtype, tally.tags[subtype], tally.spans[subtype])
    row("all", sum(tally.tags.values()), sum(tally.spans.values()))
    row("all spans found exactly with the right label", c["exact spans tagged"], c["exact spans"])
    print(f"\nspeed (1 core, splicing included): surrogates {notes / surrogate_seconds:,.0f} notes/s, "
          f"tags {notes / tag_seconds:,.0f} notes/s")


if __name__ == "__main__":
    main()
