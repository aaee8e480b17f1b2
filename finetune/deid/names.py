"""Name parsing: the pieces of a name span and the position of each name word.

"John Smith", "Smith, John", "Smith J", "J. Smith", "Dr. Smith", "van der Berg", ALL CAPS: a span
becomes titles, suffixes (MD, Jr), name words, initials, particles, numbers and punctuation, and
each name word gets its position (surname or given; "" for a lone word, decided per note by
`finetune.deid.surrogates`). A hyphenated name ("O'Brien-Nguyen") is one group.
"""

from __future__ import annotations

from dataclasses import dataclass

import regex

from finetune.deid.words import NAME_WORD, TOKEN, fold

_NAME_TOKEN = regex.compile(
    r"(?P<suffix>(?<=[\s,])(?i:m\.d|ph\.d|d\.o|r\.n|n\.p|p\.a(?:\.-c)?|d\.d\.s|d\.m\.d|m\.p\.h|l\.p\.n)\.?"
    rf"(?!\p{{L}}))|(?P<word>{NAME_WORD})|(?P<num>\p{{N}}+)|(?P<other>[^\p{{L}}\p{{N}}]+)")
_HYPHENS = frozenset("-‐‑–")
PARTICLES = ("van", "von", "de", "del", "della", "da", "di", "du", "la", "le", "der", "den", "dos", "das",
             "bin", "ibn", "al", "el", "ter", "ten")
TITLES = frozenset("dr mr mrs ms miss mx prof rev fr med herr frau mme mlle sra srta dott".split())
SUFFIXES = frozenset("md phd jr sr ii iii iv dds dmd pharmd lpn rn np crna aprn cnm facs facp mph".split())
_COMMA_SUFFIXES = frozenset(("do", "pa"))  # names too ("Nguyen Do"): suffixes only after a comma
# Labels inside contact and ID spans ("ext. 204", "MRN 55-20-9987"); kept in names too.
LABELS = frozenset("ext extn extension tel fax phone pager mrn acct www http https com org net edu gov "
                   "html htm mailto example".split())
_NAME_CATEGORY = "NAME"


def is_name(subtype: str, category: str) -> bool:
    """Whether a span of this subtype and category is a person's name (a user name is not)."""
    return subtype != "USERNAME" and (category == _NAME_CATEGORY or subtype in ("PATIENT", "DOCTOR"))


@dataclass
class NameToken:
    """One piece of a name span.

    Args:
        kind: title, suffix, word, initial, particle, num or other.
        text: the original text of the piece.
        key: `fold(text)` for words, initials and particles.
        position: surname, given or "" (a lone word: decided per note).
    """

    kind: str
    text: str
    key: str = ""
    position: str = ""


def parse_name(text: str) -> list[NameToken]:
    """The pieces of a name span, with each name word's position ("Smith, John", "J. Smith", ...).

    Args:
        text: the span text (any string).
    """
    tokens: list[NameToken] = []
    named = 0  # name words so far
    after_comma = False
    for match in _NAME_TOKEN.finditer(text):
        piece, kind = match.group(), match.lastgroup
        if kind == "suffix" and not named:  # "M.D." before any name: letters like any others
            tokens += [NameToken("initial" if len(p) == 1 else "word", p, fold(p)) if p[:1].isalpha()
                       else NameToken("other", p) for p in (m.group() for m in TOKEN.finditer(piece))]
            named += 1
        elif kind == "suffix":
            tokens.append(NameToken("suffix", piece))
        elif kind == "word":
            key = fold(piece)
            if key in TITLES or key in LABELS:  # "Dr. Smith", "Orchard Dr", "ext. 204": kept
                tokens.append(NameToken("title", piece, key))
            elif named and (key in SUFFIXES or (after_comma and key in _COMMA_SUFFIXES)):
                tokens.append(NameToken("suffix", piece, key))
            else:
                letters = sum(char.isalpha() for char in piece)
                tokens.append(NameToken("initial" if letters == 1 else "word", piece, key))
                named += 1
        else:
            tokens.append(NameToken(kind or "other", piece))
            after_comma = after_comma or ("," in piece and named > 0)
    _positions(tokens)
    return tokens


def _groups(tokens: list[NameToken]) -> list[list[NameToken]]:
    """Name words, hyphen-joined ones in one group ("O'Brien-Nguyen" is one surname)."""
    groups: list[list[NameToken]] = []
    joined = False
    for token in tokens:
        if token.kind in ("word", "initial"):
            if joined and groups:
                groups[-1].append(token)
            else:
                groups.append([token])
            joined = False
        else:
            joined = token.kind == "other" and token.text in _HYPHENS and bool(groups)
    return groups


def _positions(tokens: list[NameToken]) -> None:
    """Set surname/given positions: "Last, First", "Last F", "F. Last", "First (Middle) Last"."""
    groups = _groups(tokens)
    full = [group for group in groups if any(t.kind == "word" for t in group)]
    if not full:
        return
    comma = _comma_split(tokens)
    positions: list[str]
    if comma is not None:
        before = 0
        positions = []
        for group in groups:
            positions.append("surname" if before < comma else "given")
            before += len(group)
    elif len(groups) == 1:
        positions = ["surname" if any(t.kind == "title" for t in tokens) else ""]
    elif groups[0] in full and all(group not in full for group in groups[1:]):
        positions = ["surname"] + ["given"] * (len(groups) - 1)  # "Smith J"
    else:
        last = full[-1]
        surname = False
        positions = []
        for group in groups:
            particle = (group is not groups[0] and group is not last and len(group) == 1
                        and group[0].key in PARTICLES)
            if particle:
                group[0].kind, surname = "particle", True
            positions.append("surname" if surname or group is last else "given")
    for group, position in zip(groups, positions, strict=True):
        for token in group:
            token.position = position


def _comma_split(tokens: list[NameToken]) -> int | None:
    """How many name words come before a comma that splits "Last, First" (None: no such comma)."""
    seen = 0
    for index, token in enumerate(tokens):
        if token.kind in ("word", "initial"):
            seen += 1
        elif token.kind == "other" and "," in token.text and seen:
            if any(t.kind in ("word", "initial") for t in tokens[index + 1:]):
                return seen
            return None
    return None
