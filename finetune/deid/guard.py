"""The privacy guard: nothing of the original PHI survives in a surrogate.

The rule, for every surrogate of a note: no word (two letters or more, compared case- and
accent-blind with `fold`) of any PHI span of the note appears as a word of the surrogate, whatever
label the span carries; the only words that may stay are those that identify nobody
(`EXEMPT_WORDS`: titles and suffixes, Dr., MD; contact labels, ext, MRN; generic head words of
places, Hospital, Street, of; month and weekday names of dates; age words, yo, years), and in a
name span only titles, suffixes and contact labels. Every digit of a span becomes a different
digit, and no run of two or more of its digits (nor of four or more of the note's other non-date
spans) appears in the surrogate. `surrogate_is_safe` checks this; a surrogate that fails it is
never used (`finetune.deid.surrogates` draws again, then falls back to the tag).
"""

from __future__ import annotations

from collections.abc import Set

from finetune.corpora.formats.i2b2_2014 import CATEGORY_OF
from finetune.deid.ages import AGE_WORDS
from finetune.deid.dates import DATE_WORDS
from finetune.deid.names import LABELS, SUFFIXES, TITLES, NameToken, is_name, parse_name
from finetune.deid.words import DIGITS, WORD, ascii_digits, fold

ORDINALS = frozenset(("st", "nd", "rd", "th"))
# Generic head words: these alone identify no place, so a place surrogate may keep them.
GENERIC_PLACE = frozenset(
    """hospital hospitals medical medicine center centre centers clinic clinics memorial health healthcare
    regional community general university college school church chapel bank library associates
    group unit department dept institute foundation society club lodge company co inc llc corp
    corporation and of the for at in on st saint street avenue ave road rd drive dr lane ln boulevard
    blvd court ct way terrace ter place pl circle cir highway hwy parkway pkwy route rte suite ste apt
    apartment floor building bldg room rm bed nursing rehabilitation rehab county public first
    hardware sons services office practice pharmacy laboratory lab hospice facility home campground
    children women""".split())
# Labels inside contact and ID spans ("ext. 204", "MRN 55-20-9987", `names.LABELS`) and their kin.
CONTACT_WORDS = LABELS | frozenset("x ph cell mobile account no num number id room rm bed unit "
                                   "suite".split())

# Words that identify nobody, whatever the label of the span they are in: they are never forbidden
# (a mislabelled "92 yo" or "Memorial Hospital" must not make every other "yo" or "Hospital" a leak).
# In a name span only titles, suffixes and contact labels count as such: every other word is a name.
EXEMPT_WORDS = TITLES | SUFFIXES | ORDINALS | CONTACT_WORDS | GENERIC_PLACE | DATE_WORDS | AGE_WORDS


def span_words(text: str, subtype: str, category: str | None = None) -> set[str]:
    """Keys of the words of a PHI span that no surrogate of its note may contain.

    Args:
        text: the span text.
        subtype: its label (decides which words are exempt: titles, generic place words, ...).
        category: its category (default: the subtype's).
    """
    if is_name(subtype, category or CATEGORY_OF.get(subtype, "")):
        return name_words(parse_name(text))
    return {key for word in WORD.findall(text) if len(key := fold(word)) >= 2 and key not in EXEMPT_WORDS}


def name_words(tokens: list[NameToken]) -> set[str]:
    """Keys of the words of a parsed name span (names, particles, initials of 2+ letters)."""
    return {key for token in tokens if token.kind in ("word", "particle", "initial")
            for word in WORD.findall(token.text) if len(key := fold(word)) >= 2}


def digit_runs(text: str, shortest: int = 2) -> set[str]:
    """The runs of at least `shortest` digits in `text`, as ASCII digits."""
    return {run for run in map(ascii_digits, DIGITS.findall(text)) if len(run) >= shortest}


def surrogate_is_safe(surrogate: str, original: str, subtype: str, note_words: Set[str] = frozenset(),
                      note_runs: Set[str] = frozenset(), *, positions: bool = True) -> bool:
    """Whether `surrogate` carries nothing of `original` or of its note's PHI.

    Args:
        surrogate: the candidate replacement.
        original: the PHI span it replaces.
        subtype: the span's label (exemptions of `span_words`).
        note_words: word keys of every PHI span of the note (`span_words`).
        note_runs: digit runs (4 or more) of the note's other PHI spans.
        positions: every digit must differ from the original's at its position (ages: only the
            number as a whole must differ).
    """
    return is_safe(surrogate, original, span_words(original, subtype) | set(note_words), note_runs, positions)


def is_safe(surrogate: str, original: str, forbidden: Set[str], note_runs: Set[str], positions: bool) -> bool:
    """`surrogate_is_safe` with the forbidden words known (the span's own among them)."""
    for word in WORD.findall(surrogate):
        key = fold(word)
        if len(key) >= 2 and key in forbidden:
            return False
    before = [ascii_digits(run) for run in DIGITS.findall(original)]
    if not before and not note_runs:
        return True
    digits = ascii_digits(surrogate)
    if any(len(run) >= 2 and run in digits for run in before) or any(run in digits for run in note_runs):
        return False
    if not before:
        return True
    after = [ascii_digits(run) for run in DIGITS.findall(surrogate)]
    if not positions:
        return "".join(before) != "".join(after)
    if [len(run) for run in before] == [len(run) for run in after]:
        return all(a != b for old, new in zip(before, after, strict=True)
                   for a, b in zip(old, new, strict=True))
    return True
