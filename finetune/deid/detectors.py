"""The registry of rules and how a note's PHI is put together from rules and a model.

Every detector is a named rule (`RULE_NAMES`), switched on in `rules.enabled`; its spans say
`rule:<name>` in the span file. `RuleSet.find` runs them on a note, adds the model's spans (cut
down to what could be PHI: `model_filter`), drops what an allow-list says is never PHI (the
clinical vocabulary: "Lasix", "Bell's palsy"; an institution's own words), joins overlaps
(`merge_spans`: a fixed-shape rule's subtype wins), and finally marks every other occurrence of a
name word found anywhere in the note — or, given a patient's memory, in any of that patient's notes
read so far (`rule:names`).

Institutions add their own rules (`custom`: name -> subtype and patterns), deny-lists (words and
phrases always PHI of a subtype: staff and hospital names) and allow-lists, inline or from files.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import regex

from finetune.corpora.formats.i2b2_2014 import CATEGORY_OF
from finetune.deid.context_rules import (
    MILITARY_RULE,
    UNIT_RULE,
    AffiliationRule,
    BesidePlacesRule,
    FieldRule,
)
from finetune.deid.lexicon import Lexicon, lexicon, read_list
from finetune.deid.model_filter import ModelSpanFilter
from finetune.deid.name_rules import NameRule, name_keys, propagate
from finetune.deid.note_words import Word, note_words
from finetune.deid.place_rules import (
    DEPARTMENT_RULE,
    LANDMARK_RULE,
    STREET_RULE,
    InstitutionRule,
    OrganizationRule,
    PlaceRule,
    ProfessionRule,
    address_rule,
)
from finetune.deid.rules import PhiSpan, Rule, merge_spans
from finetune.deid.shape_rules import SHAPE_RULES
from finetune.deid.words import fold
from gatortron_common.logging import InputError

WORD_RULE_NAMES = ("names", "places", "institutions", "organizations", "professions", "fields",
                   "affiliations")
# Rules that read the spans the others found (a unit after a hospital, a letterhead above a street)
SPAN_RULE_NAMES = ("beside_places",)
_PLACE_RULES = (STREET_RULE, DEPARTMENT_RULE, LANDMARK_RULE, UNIT_RULE, MILITARY_RULE)
RULE_NAMES: tuple[str, ...] = (*(rule.name for rule in (*SHAPE_RULES, *_PLACE_RULES)), "address",
                               *WORD_RULE_NAMES, *SPAN_RULE_NAMES)
# Categories whose spans an allow-list can veto: words, not shapes ("Lasix" is no name; "5-10 mg" is
# kept out by the shape rules' own unit checks).
_WORD_CATEGORIES = frozenset(("NAME", "LOCATION", "PROFESSION", "OTHER"))
_CONTEXT_SCORE = 0.9  # a name after a title or label: the allow-list does not veto it ("Dr. Bell")


class WordRule(Protocol):
    """A rule that reads the note's words (names, places, institutions, professions)."""

    name: str

    def find(self, text: str, words: Sequence[Word]) -> list[PhiSpan]: ...


class SpanRule(Protocol):
    """A rule that reads the note's words and the spans the other rules found."""

    name: str

    def find(self, text: str, words: Sequence[Word], spans: Sequence[PhiSpan]) -> list[PhiSpan]: ...


@dataclass
class RuleSet:
    """The rules of a run, built by `build_rules`.

    Attributes:
        text_rules: pattern rules (shapes, custom and deny-list rules).
        word_rules: rules over the note's words.
        span_rules: rules over the note's words and the other rules' spans.
        allowed: folded words and phrases that are never PHI.
        lexicon: the word lists (None when no rule needs them).
        propagate: mark every occurrence of a found name word.
        model_filter: cuts the model's spans down to what could be PHI (None: the model's spans as they are).
    """

    text_rules: list[Rule] = field(default_factory=list)
    word_rules: list[WordRule] = field(default_factory=list)
    span_rules: list[SpanRule] = field(default_factory=list)
    allowed: frozenset[str] = frozenset()
    lexicon: Lexicon | None = None
    propagate: bool = False
    model_filter: ModelSpanFilter | None = None

    @functools.cached_property
    def _phrase_heads(self) -> frozenset[str]:
        """First words of the allowed phrases (only these start a phrase look-up)."""
        return frozenset(phrase.split(" ", 1)[0] for phrase in self.allowed if " " in phrase)

    def __len__(self) -> int:
        return len(self.text_rules) + len(self.word_rules) + len(self.span_rules)

    def _allowed_words(self, words: Sequence[Word]) -> set[int]:
        """Indices of words that are, or are inside, an allowed word or phrase."""
        keys = [word.key for word in words]  # "bell" of "Bell's"
        written = [fold(word.text).replace("’", "'") for word in words]  # "bell's"
        inside: set[int] = set()
        heads = self._phrase_heads
        for index, key in enumerate(keys):
            if key in self.allowed or written[index] in self.allowed:
                inside.add(index)
            if key not in heads and written[index] not in heads:
                continue
            for length in (2, 3, 4):
                if index + length <= len(keys):
                    joined = " ".join(keys[index:index + length])
                    raw = " ".join(written[index:index + length])
                    if joined in self.allowed or raw in self.allowed:
                        inside.update(range(index, index + length))
        return inside

    def _vetoed(self, span: PhiSpan, words: Sequence[Word], starts: list[int], inside: set[int]) -> bool:
        """A word span every word of which is allowed (a context name is kept: "Dr. Bell")."""
        if span.category not in _WORD_CATEGORIES or not inside:
            return False
        if "model" not in span.sources and span.score >= _CONTEXT_SCORE:
            return False
        first = bisect.bisect_left(starts, span.start)
        members = [i for i in range(first, len(words)) if words[i].start < span.end]
        return bool(members) and all(i in inside for i in members)

    def find(self, text: str, model: Iterable[PhiSpan] = (),
             memory: dict[str, str] | None = None) -> list[PhiSpan]:
        """The PHI spans of a note: rules, the model's spans, allow-lists, unions, names propagated.

        Args:
            text: the note.
            model: the model's spans (already thresholded).
            memory: name words found in earlier notes of the same patient (updated in place).
        """
        spans = [span for rule in self.text_rules for span in rule.find(text)]
        words: list[Word] = []
        if self.word_rules or self.span_rules or self.allowed or self.propagate:
            words = note_words(text)
            for rule in self.word_rules:
                spans.extend(rule.find(text, words))
            found = list(spans)
            for span_rule in self.span_rules:
                spans.extend(span_rule.find(text, words, found))
        model = list(model)
        if model and self.model_filter is not None:
            model = self.model_filter.filter(text, model)
        spans.extend(model)
        if self.allowed and words:
            inside = self._allowed_words(words)
            starts = [word.start for word in words]
            spans = [span for span in spans if not self._vetoed(span, words, starts, inside)]
        if self.propagate and self.lexicon is not None and words:
            keys = name_keys(text, words, spans, self.lexicon, self.allowed)
            if memory is not None:
                for key, subtype in memory.items():
                    keys.setdefault(key, subtype)
                memory.update(keys)
            spans.extend(propagate(words, keys, self.lexicon, "names"))
        return merge_spans(spans)


def _phrase_rule(name: str, subtype: str, phrases: Iterable[str]) -> Rule:
    """A rule for listed words and phrases, in any case and either Unicode normal form."""
    variants = {unicodedata.normalize(form, phrase.strip()) for phrase in phrases if phrase.strip()
                for form in ("NFC", "NFD")}
    pattern = "|".join(regex.escape(v) for v in sorted(variants, key=len, reverse=True))
    return Rule(name, subtype, (rf"(?<![\p{{L}}\p{{M}}\p{{N}}])(?:{pattern})(?![\p{{L}}\p{{M}}\p{{N}}])",),
                score=0.95, ignore_case=True)


def _check_subtype(setting: str, subtype: str) -> None:
    if subtype not in CATEGORY_OF:
        raise InputError(f"{setting}: unknown subtype {subtype}; known: {', '.join(CATEGORY_OF)}")


def _custom_rule(name: str, spec: Mapping[str, Any]) -> Rule:
    unknown = sorted(set(spec) - {"subtype", "patterns", "score", "ignore_case"})
    if unknown or "subtype" not in spec or not spec.get("patterns"):
        raise InputError(f"rules.custom.{name}: needs subtype and patterns (and may set score, ignore_case)"
                         + (f"; unknown key(s) {', '.join(unknown)}" if unknown else ""))
    _check_subtype(f"rules.custom.{name}.subtype", spec["subtype"])
    return Rule(name, spec["subtype"], tuple(spec["patterns"]), score=float(spec.get("score", 0.9)),
                ignore_case=bool(spec.get("ignore_case", False)), setting=f"rules.custom.{name}.patterns")


def build_rules(enabled: Sequence[str] | None = None, patterns: Mapping[str, Iterable[str]] | None = None,
                scores: Mapping[str, float] | None = None, *,
                custom: Mapping[str, Mapping[str, Any]] | None = None,
                deny: Mapping[str, Iterable[str]] | None = None, deny_files: Mapping[str, str] | None = None,
                allow: Iterable[str] = (), allow_files: Iterable[str] = (),
                clinical_allow: bool = True, filter_model: bool = True) -> RuleSet:
    """The rules to run.

    Args:
        enabled: rule names to run (None: all of `RULE_NAMES`).
        patterns: replacement patterns by rule name (e.g. an institution's MRN shape).
        scores: replacement scores by rule name.
        custom: an institution's own rules: name -> {subtype, patterns, score, ignore_case}.
        deny: subtype -> words or phrases that are always PHI of that subtype (staff, hospitals).
        deny_files: subtype -> a file of such words or phrases, one a line.
        allow: words or phrases never PHI (an institution's own vocabulary).
        allow_files: files of such words or phrases.
        clinical_allow: use the shipped clinical allow-list (drugs, diseases, eponyms, anatomy, units).
        filter_model: cut a model's spans down to what could be PHI (`finetune.deid.model_filter`).

    Raises:
        InputError: an unknown rule name or subtype, a pattern that does not compile, a missing list.
    """
    names = list(RULE_NAMES if enabled is None else enabled)
    patterns, scores, custom = dict(patterns or {}), dict(scores or {}), dict(custom or {})
    text_rule_names = set(RULE_NAMES) - set(WORD_RULE_NAMES) - set(SPAN_RULE_NAMES) - {"address"}
    for setting, given, known in (("rules.enabled", names, RULE_NAMES),
                                  ("rules.patterns", patterns, text_rule_names),
                                  ("rules.scores", scores, RULE_NAMES)):
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise InputError(f"{setting}: unknown rule(s) {', '.join(unknown)}; "
                             f"known: {', '.join(sorted(known))}")
    clash = sorted(set(custom) & set(RULE_NAMES))
    if clash:
        raise InputError(f"rules.custom: {', '.join(clash)} already name shipped rules; choose other names")
    needs_lexicon = bool(set(names) & {*WORD_RULE_NAMES, *SPAN_RULE_NAMES, "address"}) or clinical_allow \
        or filter_model
    words = lexicon() if needs_lexicon else None
    allowed = set(words.clinical) if (words is not None and clinical_allow) else set()
    allowed.update(fold(phrase.strip()) for phrase in allow if phrase.strip())
    for path in allow_files:
        allowed.update(fold(phrase) for phrase in read_list(Path(path)))
    allowed_words = frozenset(allowed)
    shipped = {rule.name: rule for rule in (*SHAPE_RULES, *_PLACE_RULES)}
    ruleset = RuleSet(allowed=allowed_words, lexicon=words, propagate="names" in names,
                      model_filter=ModelSpanFilter(words, allowed_words) if filter_model and words else None)
    for name in names:
        if name in shipped:
            rule = shipped[name]
            if name in patterns or name in scores:  # compiled again when made
                rule = dataclasses.replace(rule, patterns=tuple(patterns.get(name, rule.patterns)),
                                           score=scores.get(name, rule.score))
            ruleset.text_rules.append(rule)
        elif name == "address":
            ruleset.text_rules.append(address_rule(words))
        elif name in SPAN_RULE_NAMES:
            ruleset.span_rules.append(BesidePlacesRule(name, words, allowed_words,
                                                       **({"score": scores[name]} if name in scores else {})))
        else:
            ruleset.word_rules.append(_word_rule(name, words, allowed_words, scores.get(name)))
    ruleset.text_rules.extend(_custom_rule(name, spec) for name, spec in custom.items())
    lists: dict[str, set[str]] = {}
    for subtype, phrases in dict(deny or {}).items():
        _check_subtype(f"rules.deny.{subtype}", subtype)
        lists.setdefault(subtype, set()).update(phrases)
    for subtype, path in dict(deny_files or {}).items():
        _check_subtype(f"rules.deny_files.{subtype}", subtype)
        lists.setdefault(subtype, set()).update(read_list(Path(path)))
    ruleset.text_rules.extend(_phrase_rule("deny", subtype, phrases)
                              for subtype, phrases in lists.items() if phrases)
    return ruleset


def _word_rule(name: str, words: Lexicon, allowed: frozenset[str], score: float | None) -> WordRule:
    places = words.place_words
    if name == "names":
        return NameRule(name, words, allowed, places=places,
                        **({"score": score} if score is not None else {}))
    if name == "places":
        return PlaceRule(name, words, allowed, **({"score": score} if score is not None else {}))
    if name == "institutions":
        return InstitutionRule(name, words, allowed, **({"score": score} if score is not None else {}))
    if name == "organizations":
        return OrganizationRule(name, words, **({"score": score} if score is not None else {}))
    if name == "fields":
        return FieldRule(name, words, allowed, **({"score": score} if score is not None else {}))
    if name == "affiliations":
        return AffiliationRule(name, words, allowed, **({"score": score} if score is not None else {}))
    return ProfessionRule(name, words, **({"score": score} if score is not None else {}))


def find_rule_spans(text: str, rules: RuleSet) -> list[PhiSpan]:
    """The spans the rules alone find in `text`, in text order, overlaps joined."""
    return rules.find(text)
