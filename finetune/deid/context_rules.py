"""Organisations, care sites and units named by where they stand rather than by a head word.

| rule | subtype | finds |
|---|---|---|
| military | ORGANIZATION | "US Army", "Bravo Co, 2nd Bn, 147th Infantry" |
| units | DEPARTMENT | a named unit: "Stroke Recovery Unit", "Medical ICU", "Infusion 4 East", "4 North" |
| fields | HOSPITAL, ORGANIZATION, DEPARTMENT | the value of a place field: "Employer:", "Facility:", "Agency:", "Payer:", "Unit:", ... |
| affiliations | ORGANIZATION, HOSPITAL | a name after "works at", "drives for", "attends", "retired from", "transferred from", ... |
| beside_places | DEPARTMENT, HOSPITAL, ORGANIZATION | the part after a hospital ("Mercy Regional / Heart Rhythm Center") and a letterhead line above an address |

Head words (`place_rules.InstitutionRule`) miss names like "Two Rivers Fire & EMS" or "Keystone
Blue"; what names them is the label or the verb before them, or the address under them. A phrase
is taken only when it could be a name: capitalised words (or, in lower-case text, a word English
rarely uses) that are not all clinical vocabulary or common words.
"""  # noqa: E501  (markdown table rows: a row cannot be wrapped)

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import regex

from finetune.deid.lexicon import LANGUAGES, Lexicon, lexicon
from finetune.deid.note_words import Word
from finetune.deid.rules import ListRule, PhiSpan, Rule, rule_span
from finetune.deid.words import fold

_UNIT_HEAD = r"(?:Unit|ICU|NICU|PICU|MICU|SICU|CVICU|CTICU|CCU|Suite|Program|Ward|Wing|Pod|Pavilion)"
# Units every hospital has: the kind of unit, not a name
_GENERIC_UNITS = frozenset((
    "intensive care unit", "coronary care unit", "neonatal intensive care unit",
    "pediatric intensive care unit",
    "post anesthesia care unit", "post-anesthesia care unit", "medical intensive care unit",
    "surgical intensive care unit", "cardiac care unit", "step down unit", "step-down unit", "burn unit",
    "labor and delivery unit", "psychiatric unit", "inpatient unit", "observation unit", "dialysis unit",
    "telemetry unit", "the unit", "home program", "exercise program", "treatment program", "this program"))
_UNIT_STOP = (r"(?!(?:The|A|An|To|From|In|At|On|Our|This|That|Per|Via|And|Of|Or|For|With|Her|His|Their"
              r"|Your)\b)")
UNIT_RULE = Rule("units", "DEPARTMENT", (
    rf"\b(?:{_UNIT_STOP}\p{{Lu}}[\p{{L}}\p{{M}}'’/-]*[ \t]+|\d{{1,2}}[ \t]+){{1,4}}{_UNIT_HEAD}\b"
    r"(?![ \t]+(?:of|at)\b)",
    r"(?i:\b\d{1,2}[ \t-]?(?:north|south|east|west)\b)(?![ \t]+(?i:of|on|side)\b)"
    r"(?:[ ]\p{Lu}[\p{L}\p{M}]+(?:[-/]\p{Lu}[\p{L}\p{M}]+)?){0,2}",
    r"(?<=\b(?i:unit|floor|ward|to|on|from)[ \t:]+)\d{1,2}[NSEW]\b",
    r"\b\d{1,2}[NSEW](?=[ \t]+(?i:unit|floor|ward|tower|wing)\b)",
), score=0.9, validate=lambda text: _named_unit(text))



def _named_unit(text: str) -> bool:
    """A unit with a name: an ICU with any word before it, or a unit with two words or a rare one
    ("Rainbow Infant Unit", "Medical ICU"; not "Endoscopy Unit" or "Appeals Unit")."""
    keys = regex.findall(r"[\p{L}\p{M}'’]+|\d+", fold(text))
    if " ".join(keys) in _GENERIC_UNITS or any(key in _NOT_UNIT_WORDS for key in keys):
        return False
    if keys[-1].endswith("icu") or keys[-1] == "ccu" or len(keys) > 2 or any(key.isdigit() for key in keys):
        return True
    words = lexicon()
    return keys[0] not in words.clinical and words.english.get(keys[0], 0.0) < 2.5


# The military: "US Army", "Bravo Co, 2nd Bn, 147th Infantry"
MILITARY_RULE = Rule("military", "ORGANIZATION", (
    r"\b(?:U\.?S\.?|United\s+States)[ \t]+(?:Army|Navy|Air\s+Force|Marine\s+Corps|Marines"
    r"|Coast\s+Guard|Space\s+Force)(?:[ \t]+Reserves?)?|\b(?:Army|Air)[ \t]+National[ \t]+Guard"
    r"|\b(?:\p{Lu}\p{Ll}+[ \t]+(?:Co|Company|Btry|Battery|Troop),[ \t]+)?(?:\d{1,3}(?:st|nd|rd|th)[ \t]+"
    r"(?:Bn|Battalion|Bde|Brigade|Div|Division|Regt|Regiment|Sqdn|Squadron|Infantry|Armor|Cavalry|Airborne"
    r"|Artillery|Engineers?|Signal|Marines|Fighter[ \t]+Wing|Air[ \t]+Wing|Wing|MP|Military[ \t]+Police)"
    r"(?:,?[ \t]+)?)+",
), score=0.8)

# Labels whose value names a place of care, an organisation or a unit
_FIELD_LABELS = {
    "HOSPITAL": (
        r"facility|hospital|clinic|practice|program|site|location|pharmacy|preferred\s+pharmacy|lab|laboratory"
        r"|performing\s+lab|imaging\s+(?:site|center)|(?:referring|sending|receiving|accepting|transferring"
        r"|outside)\s+(?:facility|hospital|clinic|institution|site)|osh|snf|nursing\s+home|placement"
        r"|home\s+health(?:\s+agency)?|hospice|dialysis(?:\s+(?:unit|center))?|pcp\s+(?:practice|office)"
        r"|(?:referred|transferred|admitted)\s+from|discharged\s+to|destination|performed\s+at|collected\s+at"
        r"|drawn\s+at|institution|provider\s+group|medical\s+home|office|treating\s+facility"),
    "ORGANIZATION": (
        r"employer|company|agency|school|college|university|team|church|payer|payor|insurer|insurance|ins"
        r"|carrier|(?:primary|secondary)\s+(?:insurance|payer|payor|carrier)|(?:health\s+)?plan\s+name"
        r"|health\s+plan|platform|vendor|manufacturer|mfr|firm|law\s+firm|funeral\s+home|organi[sz]ation"
        r"|union|shelter|daycare|workplace|place\s+of\s+(?:work|employment)|court|sponsor|jail|network"
        r"|mortuary|ems\s+agency|airline|works\s+at|employed\s+by|supplier|distributor|primary|secondary"
        r"|tertiary|registry"),
    "DEPARTMENT": r"unit|dept|department|ward|division|floor|nursing\s+unit",
}
_FIELD = regex.compile(
    r"(?:^|(?<=[ \t]{2})|(?<=\t)|(?<=\|))[ \t]*(?:"
    + "|".join(rf"(?P<{subtype}>{labels})" for subtype, labels in _FIELD_LABELS.items())
    + r")[ \t]*(?:name|#)?[ \t]*:[ \t]*",
    regex.IGNORECASE | regex.MULTILINE)
_AFFILIATION = regex.compile(
    r"\b(?:(?P<ORGANIZATION>(?:works?|worked|working|employed|employment|job|volunteers?|volunteered"
    r"|volunteering|interns?|interned|shifts?)\b[^.\n;:]{0,40}?\b(?:at|for|by)"
    r"|retired\s+from|laid\s+off\s+from|fired\s+from|quit|drives?\s+for|drove\s+for|driving\s+for"
    r"|plays?\s+(?:\w+\s+)?(?:for|on)|attends|attended|enrolled\s+(?:at|in)|student\s+at|graduated\s+from"
    r"|studies\s+at|member\s+of|insured\s+(?:by|through|with)|coverage\s+(?:through|with|from)"
    r"|linked\s+to|connected\s+(?:to|with)|resources:|adjuster\s+(?:at|with|from)"
    r"|(?:submitted|reported|faxed|mailed|forwarded|billed|appealed)\b[^.\n;:]{0,20}?\bto)"
    r"|(?P<HOSPITAL>(?:admitted|admission|transferred|transfer|discharged|sent|taken|transported|brought"
    r"|seen|followed|treated|hospitali[sz]ed|evaluated|presented|delivered|died|expired|stayed|placed"
    r"|resides|rehab|lives)\b[^.\n;:]{0,20}?\b(?:to|at|from)"
    r"|(?:emergency\s+room|er|ed|urgent\s+care|clinic|hospital|icu|office)\s+(?:at|of)))"
    r"[ \t]+(?:the[ \t]+)?",
    regex.IGNORECASE)
# Words that join the words of a name ("Meals on Wheels of the Lakeshore", "Harris & Ruiz")
_JOINERS = frozenset(("of", "and", "&", "the", "on", "de", "del", "la", "for", "at"))
_SUFFIXES = regex.compile(r",[ \t]*(?:Inc|LLC|LLP|PC|PA|PLLC|Ltd|Co)\b\.?")
# One space, a hyphen, "&" or a small number between the words of a name; two spaces end a field
_GAP = regex.compile(r"[ ]|-|[ ]?&[ ]?|[ ]\d{1,3}[ ]")
# In lower-case text a word this common ends a name ("publix so she")
_FUNCTION_ZIPF = 5.5
_ABBREVIATED = frozenset(("st", "mt", "ft"))
_NOT_NAMES = frozenset(("none", "n/a", "na", "unknown", "self", "same", "home", "yes", "no", "pending", "tbd",
                        "medicare", "medicaid", "va", "other", "declined", "not", "private", "uninsured",
                        "self-pay", "pt", "patient", "room", "rm", "bed", "ppo", "hmo", "epo", "hdhp",
                        "member", "id", "group", "policy", "attn"))
# Words of a heading or a role, not of a unit's name ("RETINA SERVICE", "WORK-RELATED INJURY REPORT")
_NOT_UNIT_WORDS = frozenset((
    "report", "note", "notes", "service", "summary", "consultation", "consult", "visit", "follow",
    "treatment", "record", "records", "evaluation", "progress", "encounter", "injury", "letter", "request",
    "form",
    "assessment", "flowsheet", "log", "addendum", "history", "physical", "main", "campus", "level",
    "supervisor", "manager", "director", "coordinator", "nursing",
    "operative", "exam", "examination", "study", "results", "result", "order", "orders",
    "instructions", "plan", "update", "appointment", "referral", "clinic", "telephone", "phone", "message"))


@dataclass
class _Phrase:
    """The words of a candidate name from `first` (index) up to `last` (inclusive)."""

    first: int
    last: int


def _phrase(text: str, words: Sequence[Word], index: int, lexicon: Lexicon, *, lower: bool,
            limit: int = 7) -> _Phrase | None:
    """The run of words from `index` that could be a name: capitalised words (joined by "of", "&",
    "and", a hyphen or a small number) or, in lower-case text, words up to the field's end."""
    if index >= len(words):
        return None
    first = words[index]
    if not first.capital and not lower:
        return None
    last = index
    for position in range(index + 1, min(len(words), index + limit)):
        gap = text[words[position - 1].end:words[position].start]
        word = words[position]
        abbreviated = gap == ". " and words[position - 1].key in _ABBREVIATED  # "St. Luke"
        if "\n" in gap or not (_GAP.fullmatch(gap) or abbreviated):
            break
        if first.capital and (not word.capital or word.key in _NOT_NAMES):
            if word.key in _JOINERS and word.shape == "lower":
                continue
            break
        if not first.capital and (word.capital or word.key in _NOT_NAMES or (
                word.key not in _JOINERS and lexicon.english.get(word.key, 0.0) >= _FUNCTION_ZIPF)):
            break
        last = position
    while last > index and words[last].key in _JOINERS:
        last -= 1
    return _Phrase(index, last)


def _could_be_name(members: Sequence[Word], lexicon: Lexicon, allowed: frozenset[str]) -> bool:
    """Words that could be an organisation's name: not all clinical, generic or common words."""
    keys = [w.key for w in members if w.key not in _JOINERS]
    if not keys or keys[0] in _NOT_NAMES or all(key in allowed for key in keys):
        return False
    if " ".join(w.key for w in members) in _GENERIC_UNITS:
        return False  # "the Intensive Care Unit"
    if all(w.shape == "upper" for w in members) and not any(
            key not in allowed and lexicon.english.get(key, 0.0) < 4.0 for key in keys):
        return False  # a heading in capitals ("SNF TO ACUTE CARE HOSPITAL")
    joined = " ".join(keys)
    if joined in lexicon.cities or joined in lexicon.states or joined in lexicon.countries \
            or keys[0] in LANGUAGES:
        return False  # a place is left to the place rules
    rare = [key for key in keys if key not in allowed and lexicon.english.get(key, 0.0) < 4.0]
    if rare:
        return True
    capitals = [w for w in members if w.capital and w.key not in _JOINERS]
    if len(members) == 1:  # one common word: only an acronym ("KLM") names something
        return members[0].shape == "upper" and len(keys[0]) >= 3 and keys[0] not in allowed
    clinical = sum(key in allowed for key in keys)
    return len(capitals) == len(keys) and 2 * clinical < len(keys)


def _span_of(text: str, words: Sequence[Word], phrase: _Phrase) -> tuple[int, int]:
    start, end = words[phrase.first].start, words[phrase.last].end
    suffix = _SUFFIXES.match(text, end)
    return start, suffix.end() if suffix else end


@dataclass
class FieldRule(ListRule):
    """The value of a labelled place field ("Employer: Gator Country Poultry", "Unit: 4 North")."""

    def find(self, text: str, words: Sequence[Word]) -> list[PhiSpan]:
        starts = {word.start: index for index, word in enumerate(words)}
        found = []
        for match in _FIELD.finditer(text):
            index = starts.get(match.end())
            if index is None:
                number = regex.match(r"\d{1,2}[ \t]*[A-Z]?\b", text[match.end():])
                if match.group("DEPARTMENT") and number:  # "Unit: 4 North", "Floor: 6"
                    index = starts.get(match.end() + number.end() + 1)
                    phrase = None if index is None else _phrase(text, words, index, self.lexicon, lower=False)
                    end = _span_of(text, words, phrase)[1] if phrase else match.end() + number.end()
                    found.append(rule_span(match.end(), end, "DEPARTMENT", self.score, self.name))
                continue
            phrase = _phrase(text, words, index, self.lexicon, lower=True)
            if phrase is not None and phrase.first == phrase.last and words[index].shape == "upper" \
                    and len(words[index].key) <= 4:
                continue  # an acronym in a field is most often a unit's or a plan's kind ("EMU", "BCBS")
            if phrase is None or not _could_be_name(words[phrase.first:phrase.last + 1], self.lexicon,
                                                    self.allowed):
                continue
            subtype = next(name for name in _FIELD_LABELS if match.group(name) is not None)
            start, end = _span_of(text, words, phrase)
            found.append(rule_span(start, end, subtype, self.score, self.name))
        return found


@dataclass
class AffiliationRule(ListRule):
    """A name after a verb of affiliation: "works part time at Golden Lotus Buffet", "plays for the
    Alder Grove Youth Soccer League", "transferred from Sunrise of Ocala".
    """

    score: float = 0.7

    def find(self, text: str, words: Sequence[Word]) -> list[PhiSpan]:
        starts = {word.start: index for index, word in enumerate(words)}
        found = []
        for match in (*_AFFILIATION.finditer(text), *self._after_professions(text)):
            index = starts.get(match.end())
            if index is None:
                continue
            word = words[index]
            # lower-case text: only when the first word is one English rarely uses ("publix", "harwick")
            lower = not word.capital and self.lexicon.english.get(word.key, 0.0) < 3.5 \
                and word.key not in self.allowed and len(word.key) > 3
            phrase = _phrase(text, words, index, self.lexicon, lower=lower, limit=6)
            while phrase is not None and phrase.last > phrase.first and words[phrase.last].shape == "upper" \
                    and len(words[phrase.last].key) <= 4 and words[phrase.last].key in self.allowed:
                phrase.last -= 1  # "Flagler ED": the department is no part of the name
            if phrase is None or not _could_be_name(words[phrase.first:phrase.last + 1], self.lexicon,
                                                    self.allowed):
                continue
            subtype = "HOSPITAL" if match.groupdict().get("HOSPITAL") else "ORGANIZATION"
            start, end = _span_of(text, words, phrase)
            found.append(rule_span(start, end, subtype, self.score, self.name))
        return found

    def _after_professions(self, text: str) -> list[regex.Match[str]]:
        """Matches of "<profession> at|for|with ": "software engineer at Northwind Analytics"."""
        return [match for match in _WORD_AT.finditer(text)
                if fold(match.group(1)) in self.lexicon.professions]


_WORD_AT = regex.compile(r"\b([\p{L}-]+)[ \t]+(?:at|for|with)[ \t]+(?:the[ \t]+)?(?=\p{Lu})")
_AFTER_PLACE = regex.compile(r"[ \t]*(?:/|-{1,2}|–|—|\||,|:)[ \t]*(?=[\p{Lu}\d])")
_LINE = regex.compile(r"[^\n]*")


@dataclass
class BesidePlacesRule(ListRule):
    """Names beside places already found: the unit after a hospital ("Mercy Regional Medical Center /
    Heart Rhythm Center", "Bayview Regional - 4 North Med-Surg") and a letterhead line above a street
    address.
    """

    score: float = 0.9

    def find(self, text: str, words: Sequence[Word], spans: Sequence[PhiSpan]) -> list[PhiSpan]:
        starts = {word.start: index for index, word in enumerate(words)}
        found = []
        covered = sorted((span.start, span.end) for span in spans)
        for span in spans:
            if span.subtype != "HOSPITAL":
                continue
            gap = _AFTER_PLACE.match(text, span.end)
            if not gap:
                continue
            number = regex.match(r"\d{1,2}[ \t]*", text[gap.end():])
            index = starts.get(gap.end() + (number.end() if number else 0))
            phrase = _phrase(text, words, index, self.lexicon, lower=False) if index is not None else None
            if phrase is None:
                continue
            members = words[phrase.first:phrase.last + 1]
            keys = [w.key for w in members]
            if keys[0] in self.lexicon.cities or keys[0] in self.lexicon.states \
                    or keys[0] in self.lexicon.countries or keys[0] in _NOT_NAMES \
                    or " ".join(keys[:2]) in self.lexicon.cities or keys[0] in ("inc", "llc", "pc", "attn"):
                continue
            if any(key in _NOT_UNIT_WORDS for key in keys) or all(
                    key in self.allowed or key in _JOINERS for key in keys) or max(map(len, keys)) < 4:
                continue
            start, end = gap.end(), _span_of(text, words, phrase)[1]  # the separator's end: "4 North ..."
            if not any(a <= start and end <= b for a, b in covered):  # a part found already is joined
                found.append(rule_span(start, end, "DEPARTMENT", self.score, self.name))
        found.extend(self._letterheads(text, words, spans, starts, covered))
        return found

    def _letterheads(self, text: str, words: Sequence[Word], spans: Sequence[PhiSpan], starts: dict[int, int],
                     covered: list[tuple[int, int]]) -> list[PhiSpan]:
        streets = {span.start for span in spans if span.subtype == "STREET"}
        found = []
        lines = text.split("\n")
        line_starts = [0]
        for line in lines[:-1]:
            line_starts.append(line_starts[-1] + len(line) + 1)
        first_lines = [start for start, line in zip(line_starts, lines, strict=True) if line.strip()][:3]
        for line_start, next_start, line in zip(line_starts, line_starts[1:], lines, strict=False):
            stripped = line.strip()
            following = text[next_start:next_start + 200]
            indent = len(following) - len(following.lstrip(" \t"))
            if not stripped or next_start + indent not in streets or ":" in stripped:
                continue
            begin = line_start + len(line) - len(line.lstrip())
            index = starts.get(begin)
            if index is None:
                continue
            phrase = _phrase(text, words, index, self.lexicon, lower=False, limit=8)
            if phrase is None:
                continue
            start, end = _span_of(text, words, phrase)
            if end != begin + len(stripped) or any(a <= start and end <= b for a, b in covered):
                continue  # not the whole line, or found already (a part found is joined)
            members = words[phrase.first:phrase.last + 1]
            if not _could_be_name(members, self.lexicon, self.allowed):
                continue
            subtype = "HOSPITAL" if line_start in first_lines else "ORGANIZATION"
            if len(members) <= 3 and self.lexicon.is_given_name(members[0].key):
                subtype = "PATIENT"  # a person's name above their address
            found.append(rule_span(start, end, subtype, self.score, self.name))
        return found
