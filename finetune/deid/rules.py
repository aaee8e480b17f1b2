"""The core of the rule layer: a PHI span, the pattern rule, and how overlapping spans join.

A `Rule` is a named set of regular expressions (the `regex` package: Unicode classes, variable
look-behind) compiled when the rule is made, so a rule built anywhere finds what it says. What a
match marks: groups named after subtypes (`CITY`, `STATE`, `ZIP`; `LOCATION_OTHER` for
LOCATION-OTHER) each give a span of their own; otherwise the first group when the pattern has one
(a label before it, "MRN:", is context, not PHI); otherwise the whole match. Context words before a
match can switch its subtype (a number after "Fax" is a FAX), and a validation can refuse a match
(an IPv4 octet is at most 255). Every span says which rule found it (`rule:<name>`).

The rules themselves are in `shape_rules` (fixed shapes), `name_rules`, `place_rules` and
`context_rules` (word lists with context: `ListRule`s); `detectors` holds the registry and runs them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import regex

from finetune.corpora.formats.i2b2_2014 import CATEGORIES, CATEGORY_OF
from gatortron_common.logging import InputError

if TYPE_CHECKING:
    from finetune.deid.lexicon import Lexicon

# Subtypes with a fixed shape: where a rule and the model find the same span, the rule's subtype
# wins (a model that calls an MRN an AGE is wrong in a way the pattern cannot be).
FIXED_SHAPE_SUBTYPES = frozenset(CATEGORIES["CONTACT"] + CATEGORIES["ID"] + ("DATE",))


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


def rule_span(start: int, end: int, subtype: str, score: float, name: str) -> PhiSpan:
    """A span found by rule `name`."""
    return PhiSpan(start, end, CATEGORY_OF[subtype], subtype, score, (f"rule:{name}",))


def _group_subtype(group: str) -> str:
    return group.replace("_", "-")


@dataclass(frozen=True)
class Rule:
    """A named pattern rule, compiled when made.

    Args:
        name: the rule's name (`rules.enabled` lists these; spans say `rule:<name>`).
        subtype: the i2b2 2014 TYPE it finds (groups named after subtypes give their own).
        patterns: regular expressions (`regex` syntax).
        score: the score of its spans.
        context: lower-case words that, within `context_chars` before a match, switch it to
            `context_subtype`.
        context_subtype: the subtype after a context word.
        context_chars: how far back context words count.
        validate: a check of the marked text; a match that fails it is no span.
        ignore_case: match letters in any case.
        setting: the setting named when a pattern does not compile (default `rules.patterns.<name>`).

    Raises:
        InputError: a pattern that does not compile, or an unknown subtype.
    """

    name: str
    subtype: str
    patterns: tuple[str, ...]
    score: float = 0.9
    context: tuple[str, ...] = ()
    context_subtype: str | None = None
    context_chars: int = 12
    validate: Callable[[str], bool] | None = None
    ignore_case: bool = False
    setting: str = ""
    compiled: tuple[regex.Pattern[str], ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        for subtype in (self.subtype, self.context_subtype):
            if subtype is not None and subtype not in CATEGORY_OF:
                raise InputError(f"rules.{self.name}: unknown subtype {subtype}; "
                                 f"known: {', '.join(CATEGORY_OF)}")
        flags = regex.MULTILINE | (regex.IGNORECASE if self.ignore_case else 0)
        setting = self.setting or f"rules.patterns.{self.name}"
        compiled = []
        for source in self.patterns:
            try:
                pattern = regex.compile(source, flags)
            except (regex.error, TypeError) as error:
                raise InputError(f"{setting}: not a regular expression ({error})") from None
            unknown = [name for name in pattern.groupindex
                       if name.isupper() and _group_subtype(name) not in CATEGORY_OF]
            if unknown:
                raise InputError(f"{setting}: group(s) {', '.join(unknown)} name no subtype")
            compiled.append(pattern)
        object.__setattr__(self, "compiled", tuple(compiled))

    def _marked(self, pattern: regex.Pattern[str], match: regex.Match[str]) -> Iterable[tuple[int, int, str]]:
        subtyped = [name for name in pattern.groupindex if name.isupper()]
        if subtyped:
            for name in subtyped:
                if match.start(name) >= 0:
                    yield match.start(name), match.end(name), _group_subtype(name)
        else:
            group = 1 if pattern.groups else 0
            yield match.start(group), match.end(group), self.subtype

    def find(self, text: str) -> list[PhiSpan]:
        """Spans this rule finds in `text`."""
        found = []
        for pattern in self.compiled:
            for match in pattern.finditer(text):
                for start, end, subtype in self._marked(pattern, match):
                    if start >= end or (self.validate and not self.validate(text[start:end])):
                        continue
                    if self.context:
                        before = text[max(0, start - self.context_chars):start].lower()
                        if any(word in before for word in self.context):
                            subtype = self.context_subtype or subtype
                    found.append(rule_span(start, end, subtype, self.score, self.name))
        return found


def _fixed_shape_rule(span: PhiSpan, union: int) -> bool:
    """A fixed-shape rule's span that covers at least half of its union."""
    return (span.subtype in FIXED_SHAPE_SUBTYPES and 2 * (span.end - span.start) >= union
            and any(source.startswith("rule:") for source in span.sources))


def merge_spans(spans: Iterable[PhiSpan]) -> list[PhiSpan]:
    """Overlapping spans joined into their union, each union keeping every source.

    The union takes the category and subtype of a fixed-shape rule's span that covers at least half
    of it (the longest), else of its longest member (a model span first on ties), and the highest score.
    """
    ordered = sorted(spans, key=lambda s: (s.start, -s.end))
    merged: list[list[PhiSpan]] = []
    end = -1
    for span in ordered:
        if merged and span.start < end:
            merged[-1].append(span)
            end = max(end, span.end)
        else:
            merged.append([span])
            end = span.end
    result = []
    for group in merged:
        start, end = min(s.start for s in group), max(s.end for s in group)
        lead = max(group, key=lambda s: (_fixed_shape_rule(s, end - start), s.end - s.start,
                                         "model" in s.sources))
        sources = tuple(dict.fromkeys(source for member in group for source in member.sources))
        result.append(PhiSpan(start, end, lead.category, lead.subtype, max(s.score for s in group), sources))
    return result


@dataclass
class ListRule:
    """What a rule over a note's words holds: its name, the word lists and the words never PHI.

    Args:
        name: the rule's name (spans say `rule:<name>`).
        lexicon: the word lists.
        allowed: folded words and phrases never PHI (the clinical and the institution's allow-lists).
        score: the score of its spans.
    """

    name: str
    lexicon: Lexicon
    allowed: frozenset[str] = frozenset()
    score: float = 0.8
