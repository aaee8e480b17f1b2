"""Pattern rules for identifiers with a fixed shape, which a model can miss.

Each rule is a small named object in one registry (the shape of Presidio's recognizers, without its
spaCy dependency): the PHI subtype it finds, regular expressions, a score, optional context words
that change the subtype (a number after "Fax" is a FAX, not a PHONE), and an optional validation
(an IPv4 octet is at most 255, a date has a real month and day). Every span says which rule found
it (`rule:<name>`). Rules are switched on by name (`enabled`) and patterns replaced per institution
(`patterns`: the MRN and account-number shapes differ from hospital to hospital).

The default shapes (US conventions, as in the i2b2 2014 notes):

| rule | subtype | finds |
|---|---|---|
| phone | PHONE / FAX | (352) 555-0101, 352-555-0101, 352.555.0101, +1 352 555 0101; FAX after "fax" |
| email | EMAIL | name@host.domain |
| url | URL | http(s)://..., www.... |
| ipaddr | IPADDR | IPv4 dotted quads with octets <= 255 |
| ssn | SSN | 123-45-6789 |
| mrn | MEDICALRECORD | the number after MRN / Medical record (number) / Med rec |
| account | ACCOUNT | the number after Account / Acct |
| date | DATE | 2067-05-03, 05/03/2067, 5/3/67, 5/3, May 3, 2067, May 2067, 3 May 2067 |
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from finetune.formats.i2b2_2014 import CATEGORY_OF
from gatortron_common.logging import InputError

_MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
          r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?")


@dataclass(frozen=True)
class PhiSpan:
    """One PHI span in a note (offsets into the note text, end exclusive; never the text itself).

    Args:
        start: first character.
        end: one past the last character.
        category: i2b2 2014 category (NAME, DATE, CONTACT, ...).
        subtype: i2b2 2014 TYPE (PATIENT, DATE, PHONE, ...).
        score: confidence (a model's mean label probability, a rule's fixed score).
        sources: who found it: `model` and/or `rule:<name>`.
    """

    start: int
    end: int
    category: str
    subtype: str
    score: float
    sources: tuple[str, ...]


def _valid_ip(text: str) -> bool:
    return all(int(part) <= 255 for part in text.split("."))


def _valid_numeric_date(text: str) -> bool:
    """Month 1-12 and day 1-31 in m/d(/y) or yyyy-mm-dd; other date shapes are valid by construction."""
    parts = re.split(r"[/-]", text)
    if len(parts[0]) == 4:  # yyyy-mm-dd
        month, day = int(parts[1]), int(parts[2])
    else:
        month, day = int(parts[0]), int(parts[1])
    return 1 <= month <= 12 and 1 <= day <= 31


@dataclass(frozen=True)
class Rule:
    """A named pattern rule.

    Args:
        name: the rule's name (`enabled` lists these; spans say `rule:<name>`).
        subtype: the i2b2 2014 TYPE it finds.
        patterns: regular expressions; when a pattern has a group, the group is the PHI (a label
            before it, "MRN:", is context, not PHI).
        score: the score of its spans.
        context: lower-case words that, within `context_chars` before a match, switch it to
            `context_subtype`.
        context_subtype: the subtype after a context word.
        context_chars: how far back context words count.
        validate: a check of the matched text; a match that fails it is no span.
    """

    name: str
    subtype: str
    patterns: tuple[str, ...]
    score: float = 0.9
    context: tuple[str, ...] = ()
    context_subtype: str | None = None
    context_chars: int = 12
    validate: Callable[[str], bool] | None = None
    compiled: tuple[re.Pattern[str], ...] = field(default=(), compare=False, repr=False)

    def find(self, text: str) -> list[PhiSpan]:
        """Spans this rule finds in `text`."""
        found = []
        for pattern in self.compiled:
            for match in pattern.finditer(text):
                group = 1 if pattern.groups else 0
                start, end = match.span(group)
                if start == end or (self.validate and not self.validate(text[start:end])):
                    continue
                subtype = self.subtype
                if self.context:
                    before = text[max(0, start - self.context_chars):start].lower()
                    if any(word in before for word in self.context):
                        subtype = self.context_subtype or subtype
                found.append(PhiSpan(start, end, CATEGORY_OF[subtype], subtype, self.score,
                                     (f"rule:{self.name}",)))
        return found


DEFAULT_RULES: dict[str, Rule] = {rule.name: rule for rule in (
    Rule("phone", "PHONE",
         (r"(?<![\w.-])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?![\w-])",),
         context=("fax",), context_subtype="FAX"),
    Rule("email", "EMAIL", (r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+",), score=0.95),
    Rule("url", "URL", (r"\b(?:https?://|www\.)[^\s<>\"']*[^\s<>\"'.,;:!?)\]]",)),
    Rule("ipaddr", "IPADDR", (r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\.?\d)",), validate=_valid_ip),
    Rule("ssn", "SSN", (r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])",), score=0.95),
    Rule("mrn", "MEDICALRECORD",
         (r"\b(?:MRN|Medical record(?: number)?|Med rec)\s*(?:#|no\.?|number)?\s*:?\s*"
          r"([A-Z]{0,3}\d{5,12})\b",)),
    Rule("account", "ACCOUNT",
         (r"\b(?:Account|Acct)\.?\s*(?:#|no\.?|number)?\s*:?\s*([A-Z]{0,3}\d{5,14})\b",)),
    Rule("date", "DATE", (r"(?<![\w/-])(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}(?:/\d{2,4})?)(?![\w/-])",),
         score=0.8, validate=_valid_numeric_date),
    Rule("date_words", "DATE", (rf"\b{_MONTH}\s+\d{{1,2}},?\s+\d{{4}}\b",
                                rf"\b\d{{1,2}}\s+{_MONTH}\s+\d{{4}}\b", rf"\b{_MONTH}\s+\d{{4}}\b"),
         score=0.8),
)}
RULE_NAMES: tuple[str, ...] = tuple(DEFAULT_RULES)


def build_rules(enabled: Sequence[str] | None = None, patterns: Mapping[str, Iterable[str]] | None = None,
                scores: Mapping[str, float] | None = None) -> list[Rule]:
    """The rules to run, compiled.

    Args:
        enabled: rule names to run (None: all of `RULE_NAMES`).
        patterns: replacement patterns by rule name (e.g. an institution's MRN shape).
        scores: replacement scores by rule name.

    Raises:
        InputError: an unknown rule name, or a pattern that does not compile.
    """
    names = list(RULE_NAMES if enabled is None else enabled)
    patterns, scores = dict(patterns or {}), dict(scores or {})
    for setting, given in (("rules.enabled", names), ("rules.patterns", patterns), ("rules.scores", scores)):
        unknown = sorted(set(given) - set(RULE_NAMES))
        if unknown:
            raise InputError(f"{setting}: unknown rule(s) {', '.join(unknown)}; "
                             f"known: {', '.join(RULE_NAMES)}")
    rules = []
    for name in names:
        rule = DEFAULT_RULES[name]
        sources = tuple(patterns.get(name, rule.patterns))
        try:
            compiled = tuple(re.compile(source) for source in sources)
        except re.error as error:
            raise InputError(f"rules.patterns.{name}: not a regular expression ({error})") from None
        rules.append(Rule(**{**rule.__dict__, "patterns": sources, "score": scores.get(name, rule.score),
                             "compiled": compiled}))
    return rules


def find_rule_spans(text: str, rules: Sequence[Rule]) -> list[PhiSpan]:
    """The spans the rules find in `text`, in text order, overlapping matches joined (`merge_spans`)."""
    return merge_spans(span for rule in rules for span in rule.find(text))


def merge_spans(spans: Iterable[PhiSpan]) -> list[PhiSpan]:
    """Overlapping or touching-inside spans joined into their union, each union keeping every source.

    The union takes the category and subtype of its longest member (a model span first on ties), and
    the highest score.
    """
    ordered = sorted(spans, key=lambda s: (s.start, -s.end))
    merged: list[list[PhiSpan]] = []
    for span in ordered:
        if merged and span.start < max(member.end for member in merged[-1]):
            merged[-1].append(span)
        else:
            merged.append([span])
    result = []
    for group in merged:
        lead = max(group, key=lambda s: (s.end - s.start, "model" in s.sources))
        sources = tuple(dict.fromkeys(source for member in group for source in member.sources))
        result.append(PhiSpan(min(s.start for s in group), max(s.end for s in group), lead.category,
                              lead.subtype, max(s.score for s in group), sources))
    return result
