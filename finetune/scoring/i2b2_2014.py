"""The official i2b2/UTHealth 2014 de-identification evaluator's views, reimplemented.

The numbers are those of `evaluate.py phi SYSTEM/ GOLD/` from kotfic/i2b2_evaluation_scripts
(the challenge's script, master branch: classes.py `PHITrackEvaluation`, tags.py `PHITag`); the
semantics below were read from that script and checked against it on hand-built files. Our own
`strict` / `relaxed` views (finetune.scoring.entities) are separate and defined differently.

What is compared. A PHI tag is (tag name = category, e.g. NAME; TYPE = subtype, e.g. PATIENT;
start; end). Only the tag names the script parses count: PHI, NAME, PROFESSION, LOCATION, AGE,
DATE, CONTACT, ID, OTHER (others are left out and reported). Documents are scored when both sides
have them (the script silently skips the rest; we report them). Per document, gold and system
tags each form a SET, so duplicates count once: TP = |gold & system|, FP = |system - gold|,
FN = |gold - system|.

Keys (what makes two tags equal):

- Strict: (tag name, start, end, TYPE), tag name and TYPE compared case-insensitively.
- Relaxed: as Strict, but the end offsets may differ by up to 2 characters (|end_g - end_s| <= 2;
  the start must be equal). Because this equality is not transitive, the script's sets behave as
  follows, and so do we: while a side's set is built (tags in file order) a tag equal to one
  already kept is dropped; a tag is FP / FN when no tag of the other side equals it; TP counts
  the tags of the smaller set (the system's when both have the same size) that have an equal tag
  on the other side. (Only when one tag equals two tags of the other side, whose ends then differ
  by 3 or 4, can TP + FN differ from the gold count; the script does the same.)
- Token: each tag's text `text[start:end]` is split into runs of `[a-zA-Z0-9]+`, each run one
  token keyed (tag name, TYPE, token start, token end), case-sensitive; a tag without any such
  character gives one empty token at `start + len(text[start:end])`.
- Binary: Strict and Token with the key reduced to (start, end), i.e. type ignored (a generic
  `<PHI>` tag keeps its full key, as in the script). There is no Binary Relaxed.
- HIPAA: only tags whose (tag name, TYPE) match the script's HIPAA list, both prefix matches
  (`re.match`): NAME/PATIENT; LOCATION/CITY, STREET, ZIP, ORGANIZATION; all DATE; CONTACT/PHONE,
  FAX, EMAIL; ID/SSN, MEDICALRECORD, HEALTHPLAN, ACCOUNT, LICENSE, VEHICLE, DEVICE, BIOID; all AGE.
  ID/IDNUM is NOT in it: the script's pattern is "IDNUM " (trailing space), which never matches.
  The filter applies to both sides before the sets are formed.

Views reported, with the script's own output labels (typos included, to make comparison easy):
token "Token", strict "Strict", relaxed "Relaxed", hipaa_token "HIPPA Token", hipaa_strict
"HIPAA Strict", hipaa_relaxed "HIPAA Relaxed", binary_token "Binary Token", binary_strict
"Binary Strict", binary_hipaa_token "Binary HIPPA Token", binary_hipaa_strict "Binary HIPAA
Strict". Per category (tag name, as the script's tag-name evaluations: only tags of that name on
both sides) token "<NAME> Token", strict "<NAME> Strict", hipaa_token "<NAME> HIPPA Token",
hipaa_strict "<NAME> Binary HIPAA Strict" (despite its label a strict, typed view), plus our
relaxed / hipaa_relaxed. Per subtype (TYPE), which the script has no view for, the same six views
with only tags of that TYPE on both sides: equal to running the script on files holding only that
TYPE.

Averages (finetune.scoring.metrics): micro = summed counts (the script's "Micro (Primary)"),
macro = mean per-document P and R over all scored documents (0 where undefined) and F1 of those
means, with population SDs ("Macro (SD)").
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from finetune.corpora.document import Document
from finetune.scoring.metrics import Counts, summarize
from gatortron_common.logging import SkipReport

TAG_NAMES = ("PHI", "NAME", "PROFESSION", "LOCATION", "AGE", "DATE", "CONTACT", "ID", "OTHER")
CATEGORIES = TAG_NAMES[1:]  # the script's tag-name evaluations leave out the generic PHI tag
RELAXED_END_DISTANCE = 2

# (tag name prefix, TYPE prefixes); "" matches every TYPE. "IDNUM " keeps the script's trailing space.
HIPAA_PREFIXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("NAME", ("PATIENT",)),
    ("LOCATION", ("CITY", "STREET", "ZIP", "ORGANIZATION")),
    ("DATE", ("",)),
    ("CONTACT", ("PHONE", "FAX", "EMAIL")),
    ("ID", ("SSN", "MEDICALRECORD", "HEALTHPLAN", "ACCOUNT", "LICENSE", "VEHICLE", "DEVICE", "BIOID",
            "IDNUM ")),
    ("AGE", ("",)),
)
_TOKEN = re.compile(r"[a-zA-Z0-9]+")


@dataclass(frozen=True)
class PhiTag:
    """One PHI tag as the official script sees it.

    Args:
        name: the tag name (category), e.g. NAME.
        subtype: the TYPE attribute, e.g. PATIENT.
        start: first character.
        end: one past the last character.
        tokens: (start, end) of each `[a-zA-Z0-9]+` run of the tag's text (see the module docstring).
    """

    name: str
    subtype: str
    start: int
    end: int
    tokens: tuple[tuple[int, int], ...]


def official_token_spans(text: str, start: int, end: int) -> tuple[tuple[int, int], ...]:
    """The official Token view's tokens of `text[start:end]`, as absolute (start, end) offsets."""
    piece = text[start:end]
    found = tuple((start + match.start(), start + match.end()) for match in _TOKEN.finditer(piece))
    return found or ((start + len(piece), start + len(piece)),)


def is_hipaa(name: str, subtype: str) -> bool:
    """Whether the official script counts a (tag name, TYPE) as HIPAA PHI (prefix matches)."""
    return any(name.startswith(prefix) and any(subtype.startswith(kind) for kind in kinds)
               for prefix, kinds in HIPAA_PREFIXES)


def phi_tags(document: Document, side: str, skips: SkipReport | None = None) -> list[PhiTag]:
    """The document's entities as official PHI tags, in source order.

    Args:
        document: a document read from i2b2 2014 XML (category = tag name, type = TYPE).
        side: "gold" or "pred", for the skip report.
        skips: counts entities whose tag name the official script does not read (left out).
    """
    tags = []
    for entity in document.entities:
        if entity.category not in TAG_NAMES:
            if skips is not None:
                skips.skip(f"{side} tag name not scored by the official script", f"document {document.id}",
                           by_design=True)
            continue
        tags.append(PhiTag(entity.category, entity.type, entity.start, entity.end,
                           official_token_spans(document.text, entity.start, entity.end)))
    return tags


def _strict_key(tag: PhiTag) -> Hashable:
    return (tag.name.upper(), tag.start, tag.end, tag.subtype.upper())


def _binary_key(tag: PhiTag) -> Hashable:
    # The script narrows the key of every tag class but the generic PHI one.
    return (tag.start, tag.end) if tag.name != "PHI" else _strict_key(tag)


def _token_keys(tag: PhiTag) -> Iterable[Hashable]:
    return ((tag.name, tag.subtype, start, end) for start, end in tag.tokens)


def _binary_token_keys(tag: PhiTag) -> Iterable[Hashable]:
    return iter(tag.tokens)


def set_counts(gold: Iterable[Hashable], pred: Iterable[Hashable]) -> Counts:
    """TP/FP/FN of two key sets (duplicates count once)."""
    gold_set, pred_set = set(gold), set(pred)
    return Counts(tp=len(gold_set & pred_set), fp=len(pred_set - gold_set), fn=len(gold_set - pred_set))


def _fuzzy_set(tags: Iterable[tuple[Hashable, int]], distance: int) -> list[tuple[Hashable, int]]:
    """Tags kept by a set whose equality is 'same group, ends within distance' (file order)."""
    kept: dict[Hashable, list[int]] = defaultdict(list)
    items = []
    for group, end in tags:
        ends = kept[group]
        if not any(abs(end - other) <= distance for other in ends):
            ends.append(end)
            items.append((group, end))
    return items


def fuzzy_end_counts(gold: Iterable[tuple[Hashable, int]], pred: Iterable[tuple[Hashable, int]],
                     distance: int = RELAXED_END_DISTANCE) -> Counts:
    """TP/FP/FN when two tags are equal if their groups match and their ends differ by <= distance.

    Args:
        gold: (group, end) per gold tag in file order; the group is everything but the end.
        pred: the same for the system tags.
        distance: how far the ends may be apart.
    """
    gold_items, pred_items = _fuzzy_set(gold, distance), _fuzzy_set(pred, distance)
    gold_ends: dict[Hashable, list[int]] = defaultdict(list)
    pred_ends: dict[Hashable, list[int]] = defaultdict(list)
    for group, end in gold_items:
        gold_ends[group].append(end)
    for group, end in pred_items:
        pred_ends[group].append(end)

    def matched(item: tuple[Hashable, int], other: dict[Hashable, list[int]]) -> bool:
        group, end = item
        return any(abs(end - candidate) <= distance for candidate in other.get(group, ()))

    # Python's set intersection walks the smaller set (the system's on a tie) and keeps its members.
    if len(pred_items) > len(gold_items):
        tp = sum(matched(item, pred_ends) for item in gold_items)
    else:
        tp = sum(matched(item, gold_ends) for item in pred_items)
    return Counts(tp=tp, fp=sum(not matched(item, gold_ends) for item in pred_items),
                  fn=sum(not matched(item, pred_ends) for item in gold_items))


def _relaxed_item(tag: PhiTag) -> tuple[Hashable, int]:
    return (tag.name.upper(), tag.start, tag.subtype.upper()), tag.end


def _count(kind: str, gold: Sequence[PhiTag], pred: Sequence[PhiTag]) -> Counts:
    if kind == "strict":
        return set_counts(map(_strict_key, gold), map(_strict_key, pred))
    if kind == "relaxed":
        return fuzzy_end_counts(map(_relaxed_item, gold), map(_relaxed_item, pred))
    if kind == "token":
        return set_counts((k for tag in gold for k in _token_keys(tag)),
                          (k for tag in pred for k in _token_keys(tag)))
    if kind == "binary_strict":
        return set_counts(map(_binary_key, gold), map(_binary_key, pred))
    if kind == "binary_token":
        return set_counts((k for tag in gold for k in _binary_token_keys(tag)),
                          (k for tag in pred for k in _binary_token_keys(tag)))
    raise ValueError(f"unknown view kind {kind!r}")


@dataclass(frozen=True)
class View:
    """One official-style view: which tags it keeps and how it compares them.

    Args:
        key: the JSON key (`hipaa_token`).
        kind: strict, relaxed, token, binary_strict or binary_token.
        keep: the tag filter, applied to both sides.
        label: the official script's output label, None where the script has no such view.
    """

    key: str
    kind: str
    keep: Callable[[PhiTag], bool]
    label: str | None


def _everything(tag: PhiTag) -> bool:
    return True


def _hipaa(tag: PhiTag) -> bool:
    return is_hipaa(tag.name, tag.subtype)


def overall_views() -> list[View]:
    """The ten views of the official report, in its order."""
    return [View("token", "token", _everything, "Token"),
            View("strict", "strict", _everything, "Strict"),
            View("relaxed", "relaxed", _everything, "Relaxed"),
            View("hipaa_token", "token", _hipaa, "HIPPA Token"),
            View("hipaa_strict", "strict", _hipaa, "HIPAA Strict"),
            View("hipaa_relaxed", "relaxed", _hipaa, "HIPAA Relaxed"),
            View("binary_token", "binary_token", _everything, "Binary Token"),
            View("binary_strict", "binary_strict", _everything, "Binary Strict"),
            View("binary_hipaa_token", "binary_token", _hipaa, "Binary HIPPA Token"),
            View("binary_hipaa_strict", "binary_strict", _hipaa, "Binary HIPAA Strict")]


def _restricted_views(keep: Callable[[PhiTag], bool], labels: dict[str, str]) -> list[View]:
    """The six typed views over the tags `keep` selects; `labels` gives the official ones."""
    def both(tag: PhiTag) -> bool:
        return keep(tag) and _hipaa(tag)

    return [View("token", "token", keep, labels.get("token")),
            View("strict", "strict", keep, labels.get("strict")),
            View("relaxed", "relaxed", keep, labels.get("relaxed")),
            View("hipaa_token", "token", both, labels.get("hipaa_token")),
            View("hipaa_strict", "strict", both, labels.get("hipaa_strict")),
            View("hipaa_relaxed", "relaxed", both, labels.get("hipaa_relaxed"))]


def category_views(category: str) -> list[View]:
    """The script's tag-name evaluations for one category, plus relaxed / hipaa_relaxed."""
    labels = {"token": f"{category} Token", "strict": f"{category} Strict",
              "hipaa_token": f"{category} HIPPA Token", "hipaa_strict": f"{category} Binary HIPAA Strict"}
    return _restricted_views(lambda tag: tag.name == category, labels)


def subtype_views(subtype: str) -> list[View]:
    """The same six views restricted to one TYPE (no official labels)."""
    return _restricted_views(lambda tag: tag.subtype == subtype, {})


def score_view(view: View, documents: Sequence[tuple[list[PhiTag], list[PhiTag]]]) -> dict[str, Any]:
    """Micro and macro scores of one view over (gold tags, system tags) per document."""
    per_document = [_count(view.kind, [t for t in gold if view.keep(t)], [t for t in pred if view.keep(t)])
                    for gold, pred in documents]
    result = summarize(per_document)
    result["label"] = view.label
    return result


def score_i2b2_2014(pairs: Iterable[tuple[Document, Document]],
                    skips: SkipReport | None = None) -> dict[str, Any]:
    """Every official view, per category and per subtype, over documents present on both sides.

    Args:
        pairs: (gold, system) documents with the same text.
        skips: counts entities left out (tag names the official script does not read).

    Returns:
        `{"documents": n, "views": {key: score}, "by_category": {NAME: {key: score}},
        "by_subtype": {PATIENT: {key: score}}}`, each score with `micro`, `macro` and `label`.
    """
    documents = [(phi_tags(gold, "gold", skips), phi_tags(pred, "pred", skips)) for gold, pred in pairs]
    subtypes = sorted({tag.subtype for gold, pred in documents for tag in (*gold, *pred)})
    return {
        "documents": len(documents),
        "views": {view.key: score_view(view, documents) for view in overall_views()},
        "by_category": {category: {view.key: score_view(view, documents) for view in category_views(category)}
                        for category in CATEGORIES},
        "by_subtype": {subtype: {view.key: score_view(view, documents) for view in subtype_views(subtype)}
                       for subtype in subtypes},
    }
