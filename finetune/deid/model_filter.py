"""What of a model's span is plausibly PHI: the safe lists applied to the model.

A model trained on one hospital's notes tags words it has never seen in another's (the issue's small
model tagged most of any other style: precision .22). Each model span is cut down to the parts that
could be PHI by their form and the word lists (what a rule found stays found by the rule):

- names, places, professions, other: capitalised words that are neither common English nor clinical
  vocabulary (in capitals only listed ones: an all-caps line says nothing), listed names and places,
  listed professions, a 5-digit ZIP, user names with digits, "_" or ".";
- dates: a span with a date's form (month/day/year, a year, a month, weekday or holiday);
- ages: a number up to 125 with an age word near it (yo, years old, age, M/F);
- contacts: 7+ digits, an @, a web address;
- IDs: a token with 5+ digits, or letters and 3+ digits.

So a model only adds what the safe lists cannot explain away, and precision stays that of the rules
plus what the model adds; recall never goes below the rules' own.
"""

from __future__ import annotations

from collections.abc import Sequence

import regex

from finetune.deid.lexicon import Lexicon
from finetune.deid.rules import PhiSpan
from finetune.deid.words import fold

_TOKEN = regex.compile(r"[\p{L}\p{M}\p{N}_]+(?:['’][\p{L}\p{M}]+)*")
_DATE_FORM = regex.compile(
    r"\b(?:[01]?\d[/.-][0-3]?\d[/.-]\d{2,4}|\d{4}[/.-][01]?\d[/.-][0-3]?\d)\b|(?<!\d)(?:19|20)\d{2}(?!\d)|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov"
    r"|dec|mon|tue|wed|thu|fri|sat|sun|christmas|thanksgiving|easter|halloween|new\s+year|spring|summer|fall"
    r"|autumn|winter|holiday)", regex.IGNORECASE)
_AGE_WORDS = regex.compile(r"\b(?:y/?o|y\.o|yrs?|years?[\s-]+old|old|age[ds]?|(?-i:M|F)|male|female|boy|girl"
                           r"|man|woman)\b"
                           r"|\d0'?s", regex.IGNORECASE)
_NUMBER = regex.compile(r"(?<![\d.])\d{1,3}(?![\d.])")
_WEB = regex.compile(r"@|://|www\.|\.(?:com|org|net|edu|gov)\b", regex.IGNORECASE)
_WORD_CATEGORIES = frozenset(("NAME", "LOCATION", "PROFESSION", "OTHER"))
_OPENING = regex.compile(r"(?:^|\n|[.!?:;|]\s+|--\s*)[ \t(\-*•]*$")


_SURNAME_ZIPF = 4.7  # a listed surname English uses less than this is a name in a model's name span
_INITIAL = regex.compile(r"\p{Lu}\.?[ \t]+\p{Lu}")


def _initial_before_name(text: str, match: regex.Match[str], span: PhiSpan) -> bool:
    """An initial in a model's name span before a capitalised word ("N. Stevens")."""
    return span.category == "NAME" and len(match.group()) == 1 and bool(_INITIAL.match(text, match.start()))


def _opens(text: str, start: int) -> bool:
    """Whether the word at `start` opens a line or a sentence (its capital says nothing)."""
    return bool(_OPENING.search(text, max(0, start - 12), start))


class ModelSpanFilter:
    """Cuts a model's spans down to what could be PHI (see the module docstring).

    Args:
        lexicon: the word lists.
        allowed: folded words and phrases never PHI.
    """

    def __init__(self, lexicon: Lexicon, allowed: frozenset[str]) -> None:
        self.lexicon = lexicon
        self.allowed = allowed

    def _plausible_word(self, text: str, match: regex.Match[str], span: PhiSpan) -> bool:
        """A word of a model's name/place/profession span that could be PHI: all but clear non-PHI."""
        lexicon, token = self.lexicon, match.group()
        if any(char.isdigit() for char in token):  # a ZIP; a user name (streets and rooms: the rules')
            return (span.category == "LOCATION" and token.isdigit() and len(token) == 5) or (
                span.subtype == "USERNAME" and any(c.isalpha() for c in token))
        key = fold(token).replace("’", "'")
        key = key[:-2] if key.endswith("'s") else key
        listed = lexicon.is_name_word(key) or key in lexicon.place_words or key in lexicon.professions or (
            span.category == "NAME" and token[0].isupper() and (lexicon.is_given_name(key) or (
                key in lexicon.surnames and lexicon.english.get(key, 0.0) < _SURNAME_ZIPF)))
        if listed:
            return key not in self.allowed
        if span.category == "PROFESSION":
            return False  # an occupation is on the professions list
        if len(key) < 2 or (key in self.allowed
                            and not (span.subtype == "DEPARTMENT" and token[0].isupper())):
            return False
        if token[0].islower():  # ordinary lower-case words ("presented", "swelling")
            return not lexicon.is_common_word(key)
        if token.isupper() and (len(token) <= 4 or lexicon.is_common_word(key)):  # acronyms, headings
            return False
        if text.startswith(":", match.end()):  # a field's label ("Service:", "Attending:")
            return False
        # a capitalised English word that opens a line or sentence ("Acute on chronic", "On Eliquis")
        return not (lexicon.is_common_word(key) and _opens(text, match.start()))

    def _plausible_whole(self, text: str, span: PhiSpan) -> bool:
        piece = text[span.start:span.end]
        if span.category == "DATE":
            return bool(_DATE_FORM.search(piece))
        if span.category == "AGE":
            around = text[max(0, span.start - 20):span.end + 20]
            numbers = [int(n) for n in _NUMBER.findall(piece)]
            return bool(numbers) and all(n <= 125 for n in numbers) and bool(_AGE_WORDS.search(around))
        if span.category == "CONTACT":
            return sum(char.isdigit() for char in piece) >= 7 or bool(_WEB.search(piece))
        # IDs: 5+ digits, or letters and 4+ digits ("K5589580", "QVR-3338"; not "Team 3", "0911")
        digits = sum(char.isdigit() for char in piece)
        return digits >= 5 or (digits >= 4 and any(char.isalpha() for char in piece))

    def filter(self, text: str, spans: Sequence[PhiSpan]) -> list[PhiSpan]:
        """The plausible parts of the model's `spans` (what a rule found stays found by the rule)."""
        kept: list[PhiSpan] = []
        for span in spans:
            if span.category not in _WORD_CATEGORIES:
                if self._plausible_whole(text, span):
                    kept.append(span)
            elif span.category == "PROFESSION":  # "school teacher": modifiers of a listed occupation
                tokens = list(_TOKEN.finditer(text, span.start, span.end))
                listed = [m for m in tokens if fold(m.group()) in self.lexicon.professions]
                if listed:
                    kept.append(_part(span, [tokens[0], listed[-1]]))
            else:
                run: list[regex.Match[str]] = []
                for match in _TOKEN.finditer(text, span.start, span.end):
                    if self._plausible_word(text, match, span) or _initial_before_name(text, match, span):
                        run.append(match)
                        continue
                    if run:
                        kept.append(_part(span, run))
                    run = []
                if run:
                    kept.append(_part(span, run))
        return kept


def _part(span: PhiSpan, run: list[regex.Match[str]]) -> PhiSpan:
    return PhiSpan(run[0].start(), run[-1].end(), span.category, span.subtype, span.score, span.sources)
