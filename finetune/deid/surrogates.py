"""Surrogates ("hiding in plain sight"): each PHI span of a note replaced by a realistic one of its kind.

`Surrogates.note_replacements(text, spans, scope)` makes one replacement per span of a note, all at
once, because what is safe depends on the whole note:

- Nothing of the original survives: every surrogate passes the guard (`finetune.deid.guard`: no
  word of any PHI span of the note, no digit at its place, no run of its digits); when a few draws
  fail, the span gets the tag (`tag_template`), which is always safe.
- Names are parsed per note (`finetune.deid.names`). A word on the given-name or surname list
  keeps that list's role in every note (one on both lists, Kelly, maps to a name on both), so it
  maps alike in all of a patient's notes; any other word is a surname if it is ever in surname
  position in the note, else a given name if it is in given position, else a surname. Each word
  maps through the key to a list name, the same for the same word in the whole scope (unless that
  name is PHI of the note or taken by another word of it), so every form of one person maps to
  forms of one surrogate person; titles, punctuation and case pattern are kept, an initial becomes
  the initial of its given name's surrogate (always another letter), a hyphenated name is replaced
  part by part.
- Dates move by one offset per scope (`date_offset`: 30 to 1,095 days, either way) in their own
  format (`finetune.deid.dates`); a date that cannot be read or moved gets the tag. Ages
  (`finetune.deid.ages`) of 90 and over become `age_over_89` ("90+"); younger ages move by up to
  five years.
- Phones, IDs, ZIP codes and user names keep their shape with every letter and digit changed;
  e-mail, web and IP addresses use reserved example domains and the TEST-NET blocks; cities,
  states, countries, professions and street or place words come from lists.
- Keyed: every choice is drawn from HMAC-SHA256(secret, scope, ...) of the original, once per
  distinct (scope, word). The same secret reproduces the output; without it the mapping cannot be
  recomputed. `scope` is "patient:<key>" (consistent across a patient's notes) or "note:<id>".

Name, city, state and street lists are the project's synthetic lexicon (invented or very common
names). Nothing here logs or returns note text other than the replacements.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import itertools
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import regex

from finetune.corpora.formats.i2b2_2014 import CATEGORY_OF
from finetune.deid import surrogate_lists as lx
from finetune.deid.ages import age_parts, written
from finetune.deid.dates import shift_date
from finetune.deid.guard import (
    CONTACT_WORDS,
    GENERIC_PLACE,
    ORDINALS,
    digit_runs,
    is_safe,
    name_words,
    span_words,
)
from finetune.deid.names import PARTICLES, NameToken, is_name, parse_name
from finetune.deid.rules import PhiSpan
from finetune.deid.words import TOKEN, WORD, cased, digit_value, fold

_ALNUM = regex.compile(r"[\p{L}\p{N}]")
_ONLY_WORDS = regex.compile(r"[\p{L}\p{M}\s.'’-]+")
_SCHEME = regex.compile(r"(?i)(?:[a-z.+-]*://)?(?:www\.)?")
_IPV4 = regex.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_ASCII_LOWER = "abcdefghijklmnopqrstuvwxyz"
_INITIALS = "ABCDEFGHJKLMNPRSTW"


@functools.lru_cache(maxsize=1 << 12)
def _word_keys(text: str) -> frozenset[str]:
    """Keys of the words of a list entry ("Lake City": lake, city)."""
    return frozenset(fold(word) for word in WORD.findall(text))


@functools.lru_cache(maxsize=16)
def _list_pool(choices: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return tuple((choice, fold(choice)) for choice in choices)


def _clean(names: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """(name, key) for single-word ASCII names (no O'Brien or Min-jun: surrogates stay clean)."""
    return tuple((name, fold(name)) for name in dict.fromkeys(names) if name.isascii() and name.isalpha())


# --- lists ---------------------------------------------------------------------------------------

_GIVEN = _clean(lx.FIRST_NAMES)
_SURNAMES = _clean(lx.LAST_NAMES)
_GIVEN_KEYS = frozenset(key for _, key in _GIVEN)
_SURNAME_KEYS = frozenset(key for _, key in _SURNAMES)
# A listed name keeps its list's role in every note (consistent across a patient's notes whatever
# its position); one on both lists (Kelly, Jordan) maps to a name on both. Others: by position.
_LISTED = ({key: "given" for key in _GIVEN_KEYS - _SURNAME_KEYS}
           | {key: "surname" for key in _SURNAME_KEYS - _GIVEN_KEYS}
           | {key: "either" for key in _GIVEN_KEYS & _SURNAME_KEYS})
_POOLS = {"given": _GIVEN, "surname": _SURNAMES,
          "either": tuple(entry for entry in _GIVEN if entry[1] in _SURNAME_KEYS)}
_CITIES = tuple(dict.fromkeys(city for city, _, _ in lx.CITIES))
_STATE_NAMES = tuple(name for name, _ in lx.US_STATES)
_STATE_CODES = tuple(code for _, code in lx.US_STATES)
_PROFESSIONS = ("teacher", "electrician", "nurse", "engineer", "farmer", "chef", "plumber", "librarian",
                "mechanic", "pilot", "cashier", "lawyer", "painter", "accountant", "carpenter", "baker",
                "welder", "pharmacist", "firefighter", "truck driver", "architect", "dentist", "tailor")
_COUNTRIES = ("Canada", "Mexico", "Ireland", "India", "Brazil", "Jamaica", "Vietnam", "Germany", "Kenya",
              "France", "Italy", "Spain", "Portugal", "Japan", "Peru", "Chile", "Norway", "Sweden", "Egypt",
              "Ghana", "Poland", "Greece", "Turkey", "Cuba", "Haiti", "Nigeria", "Australia")
_PARTICLE_POOL = _clean(PARTICLES)
_PLACE_KEEP = GENERIC_PLACE | ORDINALS
# Pool words that are not generic themselves ("University" would read as a kept head word).
_PLACE_WORDS = tuple(p for p in _clean(lx.STREET_NAMES + lx.LAST_NAMES) if p[1] not in _PLACE_KEEP)
_STREET_WORDS = tuple(p for p in _clean(lx.STREET_NAMES) if p[1] not in _PLACE_KEEP)
_SHAPED = frozenset("USERNAME ZIP ROOM PHONE FAX SSN MEDICALRECORD HEALTHPLAN ACCOUNT LICENSE VEHICLE "
                    "DEVICE BIOID IDNUM".split())
_PLACES = frozenset("HOSPITAL ORGANIZATION DEPARTMENT LOCATION-OTHER OTHER".split())
_TEST_NETS = ("192.0.2", "198.51.100", "203.0.113")  # RFC 5737: documentation only
_DATE_SHIFT = (30, 1095)
_DRAWS = 4  # guard failures before the tag
_CACHE_LIMIT = 1 << 18


# --- keyed draws ---------------------------------------------------------------------------------


class _Stream:
    """Keyed pseudo-random bytes: an HMAC digest, extended by hashing it with a counter."""

    def __init__(self, seed: bytes) -> None:
        self._seed, self._block, self._position, self._blocks = seed, seed, 0, 0

    def byte(self) -> int:
        if self._position == len(self._block):
            self._blocks += 1
            self._block = hashlib.sha256(self._seed + self._blocks.to_bytes(4, "big")).digest()
            self._position = 0
        self._position += 1
        return self._block[self._position - 1]

    def other_digit(self, char: str) -> str:
        """An ASCII digit other than `char`'s value."""
        value = digit_value(char)
        if value is None or not 0 <= value <= 9:
            return str(self.byte() % 10)
        return str((value + 1 + self.byte() % 9) % 10)

    def other_letters(self, word: str) -> str:
        """Each letter of `word` replaced by another ASCII letter of the same case (marks dropped)."""
        out = []
        for char in word:
            if unicodedata.combining(char):
                continue
            base = ord(fold(char)[:1] or "?") - ord("a")
            index = (base + 1 + self.byte() % 25) % 26 if 0 <= base < 26 else self.byte() % 26
            out.append(_ASCII_LOWER[index].upper() if char.isupper() else _ASCII_LOWER[index])
        return "".join(out)


# --- the note ------------------------------------------------------------------------------------


@dataclass
class _Note:
    """What the surrogates of one note must know about all its PHI."""

    scope: str
    offset: int
    words: set[str] = field(default_factory=set)  # keys no surrogate may contain
    runs: set[str] = field(default_factory=set)  # digit runs (4+) no surrogate may contain
    surname: set[str] = field(default_factory=set)  # keys seen in surname position
    given: set[str] = field(default_factory=set)  # keys seen in given position
    given_with: dict[str, list[str]] = field(default_factory=dict)  # surname key -> its given keys
    given_order: list[str] = field(default_factory=list)
    names: dict[int, list[NameToken]] = field(default_factory=dict)  # span index -> parsed name
    chosen: dict[tuple[str, str], str] = field(default_factory=dict)  # (kind, key) -> surrogate
    used: dict[str, tuple[str, str]] = field(default_factory=dict)  # surrogate key -> (kind, key)

    def role(self, key: str) -> str:
        """surname if ever in surname position, else given if in given position or a given name."""
        if key in self.surname:
            return "surname"
        return "given" if key in self.given or key in _GIVEN_KEYS else "surname"


Maker = Callable[["_Note", str, int], "tuple[str, bool] | None"]


class Surrogates:
    """Keyed, consistent, leak-checked surrogates for i2b2 2014 PHI subtypes.

    Args:
        secret: the key of every choice (required; keep it like a password).
        tag_template: what a span becomes when no safe surrogate can be made; `{category}` and
            `{subtype}` are filled in.
        age_over_89: what the number of an age of 90 or over becomes (HIPAA's "90 or older").
    """

    def __init__(self, secret: str, tag_template: str = "[**{category}**]", age_over_89: str = "90+") -> None:
        self._key = secret.encode("utf-8", "surrogatepass")
        self.tag_template = tag_template
        self.age_over_89 = age_over_89
        self.fallbacks: Counter[str] = Counter()  # spans that got the tag, per subtype (counts only)
        self._cache: dict[tuple[str, ...], bytes] = {}
        self._makers: dict[str, Maker] = {
            "DATE": self._date, "AGE": self._age, "CITY": self._city, "STATE": self._state,
            "COUNTRY": self._country, "PROFESSION": self._profession, "STREET": self._street,
            "EMAIL": self._email, "URL": self._url, "IPADDR": self._ip,
        } | {subtype: self._place for subtype in _PLACES} | {subtype: self._shaped for subtype in _SHAPED}

    # --- public ----------------------------------------------------------------------------------

    def note_replacements(self, text: str, spans: Sequence[PhiSpan], scope: str) -> list[str]:
        """One replacement string per span, in order. Never raises: a span that gets no safe
        surrogate gets the tag (counted in `fallbacks`); a span without letters or digits stays.

        Args:
            text: the note.
            spans: sorted, non-overlapping PHI spans (offsets into `text`).
            scope: "patient:<key>" (consistent across a patient's notes) or "note:<id>".
        """
        originals = [text[max(span.start, 0):max(span.end, 0)] for span in spans]
        try:
            note = self._note(originals, spans, scope)
        except Exception:  # noqa: BLE001 - an odd note must never stop a run: its spans get the tag
            return [original if not _ALNUM.search(original) else self._tag(span)
                    for span, original in zip(spans, originals, strict=True)]
        return [self._one(note, index, span, original)
                for index, (span, original) in enumerate(zip(spans, originals, strict=True))]

    def replace(self, original: str, subtype: str, scope: str) -> str:
        """The surrogate of one span alone (its note holding no other PHI).

        Args:
            original: the span text.
            subtype: its i2b2 2014 subtype.
            scope: as in `note_replacements`.
        """
        span = PhiSpan(0, len(original), CATEGORY_OF.get(subtype, subtype), subtype, 1.0, ())
        return self.note_replacements(original, [span], scope)[0]

    def date_offset(self, scope: str) -> int:
        """Days every date of `scope` moves (never 0)."""
        digest = self._digest("date-shift", scope)
        low, high = _DATE_SHIFT
        days = low + int.from_bytes(digest[:4], "big") % (high - low + 1)
        return days if digest[4] & 1 else -days

    # --- per note --------------------------------------------------------------------------------

    def _note(self, originals: list[str], spans: Sequence[PhiSpan], scope: str) -> _Note:
        note = _Note(scope=scope, offset=self.date_offset(scope))
        for index, (span, original) in enumerate(zip(spans, originals, strict=True)):
            category = span.category or CATEGORY_OF.get(span.subtype, "")
            if span.subtype != "DATE":
                note.runs |= digit_runs(original, 4)
            if is_name(span.subtype, category):
                tokens = parse_name(original)
                note.names[index] = tokens
                note.words |= name_words(tokens)
                self._learn_roles(note, tokens)
            else:
                note.words |= span_words(original, span.subtype, category)
        return note

    @staticmethod
    def _learn_roles(note: _Note, tokens: list[NameToken]) -> None:
        words = [t for t in tokens if t.kind in ("word", "particle")]
        given = [t.key for t in words if t.position == "given"]
        for token in words:
            if token.position == "surname":
                note.surname.add(token.key)
                known = note.given_with.setdefault(token.key, [])
                known += [key for key in given if key not in known]
            elif token.position == "given":
                note.given.add(token.key)
                if token.key not in note.given_order:
                    note.given_order.append(token.key)

    def _one(self, note: _Note, index: int, span: PhiSpan, original: str) -> str:
        if not _ALNUM.search(original):
            return original  # nothing to hide: whitespace, punctuation, symbols
        try:
            if index in note.names:
                maker: Maker = functools.partial(self._name, tokens=note.names[index])
            else:
                category = span.category or CATEGORY_OF.get(span.subtype, "")
                default = self._place if category == "LOCATION" else self._shaped
                maker = self._makers.get(span.subtype, default)
            for attempt in range(_DRAWS):
                made = maker(note, original, attempt)
                if made is None:
                    break
                surrogate, checked = made
                if not checked or is_safe(surrogate, original, note.words, note.runs,
                                        positions=span.subtype != "AGE"):
                    return surrogate
        except Exception:  # noqa: BLE001 - one odd span must never stop a run: it gets the tag
            pass
        return self._tag(span)

    def _tag(self, span: PhiSpan) -> str:
        self.fallbacks[span.subtype] += 1
        try:
            return self.tag_template.format(category=span.category, subtype=span.subtype)
        except (KeyError, IndexError, ValueError, AttributeError):
            return f"[**{span.category}**]"

    # --- keyed draws -----------------------------------------------------------------------------

    def _digest(self, *parts: str) -> bytes:
        found = self._cache.get(parts)
        if found is None:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()  # bounded memory on long runs; entries are cheap to recompute
            message = "\x1f".join(parts).encode("utf-8", "surrogatepass")
            found = self._cache[parts] = hmac.digest(self._key, message, "sha256")
        return found

    def _stream(self, *parts: str) -> _Stream:
        return _Stream(self._digest(*parts))

    def _pick(self, note: _Note, kind: str, key: str, pool: Sequence[tuple[str, str]],
              accept: Callable[[str], bool] = lambda _: True) -> str | None:
        """The surrogate of word `key` from `pool` in this scope: the first keyed candidate whose words
        are not PHI of the note and that no other word of the note has taken (None: none fits)."""
        chosen = note.chosen.get((kind, key))
        if chosen is not None:
            return chosen
        digest = self._digest(kind, note.scope, key)
        starts = [int.from_bytes(digest[i:i + 4], "big") % len(pool) for i in range(0, 32, 4)]
        # Eight keyed candidates, then the whole pool in order from the first.
        order = itertools.chain(starts, ((starts[0] + step) % len(pool) for step in range(1, len(pool))))
        for position in order:
            name, name_key = pool[position]
            owner = note.used.get(name_key)
            if owner not in (None, (kind, key)) or not accept(name_key) or name_key == key:
                continue
            if not _word_keys(name).isdisjoint(note.words):
                continue
            note.chosen[(kind, key)] = name
            note.used[name_key] = (kind, key)
            return name
        return None

    def _digits(self, note: _Note, run: str, attempt: int) -> str:
        """Each digit of `run` replaced by one of the nine others (keyed: the same run, the same result)."""
        stream = self._stream("digits", note.scope, run, str(attempt))
        return "".join(stream.other_digit(char) for char in run)

    # --- makers: each returns (surrogate, needs the guard) or None for the tag ---------------------

    def _name(self, note: _Note, original: str, attempt: int,
              tokens: list[NameToken]) -> tuple[str, bool] | None:
        surnames = [t.key for t in tokens if t.kind == "word" and note.role(t.key) == "surname"]
        out = []
        for token in tokens:
            if token.kind in ("title", "suffix", "other"):
                out.append(token.text)
            elif token.kind == "num":
                out.append(self._digits(note, token.text, attempt))
            elif token.kind == "initial":
                out.append(self._initial(note, token, surnames))
            elif token.kind == "particle":
                particle = self._pick(note, "particle", token.key, _PARTICLE_POOL)
                if particle is None:
                    return None
                out.append(cased(particle, token.text))
            else:
                word = self._name_word(note, token.key)
                if word is None:
                    return None
                out.append(cased(word, token.text) + self._possessive(token.text))
        return "".join(out), True

    @staticmethod
    def _possessive(text: str) -> str:
        return text[-2:] if len(text) > 2 and fold(text[-2:]) in ("'s", "’s") else ""

    def _name_word(self, note: _Note, key: str) -> str | None:
        if len(key) > 2 and key[-2:] in ("'s", "’s"):
            key = key[:-2]
        role = _LISTED.get(key) or note.role(key)
        pool = _POOLS[role]
        # Another first letter, so that an initial of the same name changes too.
        return self._pick(note, role, key, pool, accept=lambda name_key: name_key[:1] != key[:1])

    def _initial(self, note: _Note, token: NameToken, surnames: list[str]) -> str:
        """An initial: the first letter of its given name's surrogate when the note spells it out."""
        letter = token.key[:1]
        spelled = [g for s in surnames for g in note.given_with.get(s, []) if g[:1] == letter]
        spelled += [g for g in note.given_order if g[:1] == letter]
        for given in spelled:
            word = self._name_word(note, given)
            if word is not None:
                return cased(word[0], token.text)
        digest = self._digest("initial", note.scope, letter)
        choices = [c for c in _INITIALS if c.lower() != letter]
        return cased(choices[digest[0] % len(choices)], token.text)

    def _shaped(self, note: _Note, original: str, attempt: int) -> tuple[str, bool]:
        """Shape kept (punctuation, letter case, digit places), every letter and digit changed;
        label words ("ext", "MRN") kept."""
        stream = self._stream("shape", note.scope, original, str(attempt))
        out = []
        for match in TOKEN.finditer(original):
            piece = match.group()
            if match.lastgroup == "word":
                out.append(piece if fold(piece) in CONTACT_WORDS else stream.other_letters(piece))
            elif match.lastgroup == "num":
                out.append("".join(stream.other_digit(char) for char in piece))
            else:
                out.append(piece)
        return "".join(out), True

    def _words_from(self, note: _Note, original: str, attempt: int, kind: str,
                    pool: Sequence[tuple[str, str]]) -> tuple[str, bool] | None:
        """Generic place words kept, every other word from `pool` (a letter for a letter: "3B"),
        digits changed; when nothing changed (all generic), a pool word goes in front."""
        out, changed = [], False
        stream = None
        for match in TOKEN.finditer(original):
            piece = match.group()
            if match.lastgroup == "word" and len(fold(piece)) == 1:
                stream = stream or self._stream("letters", note.scope, original, str(attempt))
                out.append(stream.other_letters(piece))
                changed = True
            elif match.lastgroup == "word" and fold(piece) not in _PLACE_KEEP:
                word = self._pick(note, kind, fold(piece), pool)
                if word is None:
                    return None
                out.append(cased(word, piece))
                changed = True
            elif match.lastgroup == "num":
                out.append(self._digits(note, piece, attempt))
                changed = True
            else:
                out.append(piece)
        if not changed:
            word = self._pick(note, kind, "\x1e" + fold(original), pool)
            if word is None:
                return None
            out.insert(0, word + " ")
        return "".join(out), True

    def _place(self, note: _Note, original: str, attempt: int) -> tuple[str, bool] | None:
        return self._words_from(note, original, attempt, "place", _PLACE_WORDS)

    def _street(self, note: _Note, original: str, attempt: int) -> tuple[str, bool] | None:
        return self._words_from(note, original, attempt, "street", _STREET_WORDS)

    def _from_list(self, note: _Note, original: str, attempt: int, kind: str,
                   choices: Sequence[str]) -> tuple[str, bool] | None:
        """A whole-span choice from `choices` when the span is only words, else word by word."""
        if not _ONLY_WORDS.fullmatch(original):
            return self._place(note, original, attempt)
        new = self._pick(note, kind, fold(original.strip()), _list_pool(tuple(choices)))
        return None if new is None else (cased(new, original.strip()), True)

    def _city(self, note: _Note, original: str, attempt: int) -> tuple[str, bool] | None:
        return self._from_list(note, original, attempt, "city", _CITIES)

    def _country(self, note: _Note, original: str, attempt: int) -> tuple[str, bool] | None:
        return self._from_list(note, original, attempt, "country", _COUNTRIES)

    def _profession(self, note: _Note, original: str, attempt: int) -> tuple[str, bool] | None:
        return self._from_list(note, original, attempt, "profession", _PROFESSIONS)

    def _state(self, note: _Note, original: str, attempt: int) -> tuple[str, bool] | None:
        letters = [char for char in original if char.isalpha()]
        code = len(letters) <= 3
        return self._from_list(note, original, attempt, "state-code" if code else "state",
                               _STATE_CODES if code else _STATE_NAMES)

    def _email(self, note: _Note, original: str, attempt: int) -> tuple[str, bool]:
        local, at, _ = original.partition("@")
        if not at:
            return self._shaped(note, original, attempt)
        return f"{self._shaped(note, local, attempt)[0]}@example.org", True

    def _url(self, note: _Note, original: str, attempt: int) -> tuple[str, bool]:
        scheme = _SCHEME.match(original).group()
        rest = original[len(scheme):]
        if "://" in scheme and fold(scheme.split("://")[0]) not in ("http", "https"):
            scheme = "https://" + scheme.split("://", 1)[1]  # an odd or cut scheme: a plain one
        path = rest.split("/", 1)[1] if "/" in rest else ""
        new_path = self._shaped(note, path, attempt)[0] if path else ""
        return f"{scheme}example.com" + (f"/{new_path}" if new_path else ""), True

    def _ip(self, note: _Note, original: str, attempt: int) -> tuple[str, bool]:
        if not _IPV4.fullmatch(original):
            return self._shaped(note, original, attempt)
        digest = self._digest("ip", note.scope, original, str(attempt))
        runs = digit_runs(original) | note.runs
        candidates = (f"{net}.{1 + digest[(i + j) % 32] % 254}" for i in range(8) for j, net in
                      enumerate(_TEST_NETS))
        # The first of the reserved blocks and host numbers that repeats no run of the original.
        first = next((c for c in candidates if not any(run in c for run in runs)), None)
        return first or f"{_TEST_NETS[digest[0] % 3]}.{1 + digest[1] % 254}", True

    def _date(self, note: _Note, original: str, attempt: int) -> tuple[str, bool] | None:
        shifted = shift_date(original, note.offset)
        return None if shifted is None else (shifted, False)

    def _age(self, note: _Note, original: str, attempt: int) -> tuple[str, bool] | None:
        found = age_parts(original)
        if found is None:
            return None
        match, age = found
        head, tail = original[:match.start()], original[match.end():]
        if age >= 90:
            return head + self.age_over_89 + tail, False
        last = age % 10
        choices = [a for a in range(max(0, age - 5), min(89, age + 5) + 1)
                   if a % 10 != last and (age < 10 or str(age) not in str(a))]
        digest = self._digest("age", note.scope, str(age), str(attempt))
        new = choices[int.from_bytes(digest[:4], "big") % len(choices)]
        number = match.group()
        if match.group("words"):
            text = written(new, number)
        else:
            text = f"{new:0{len(number)}d}" if number.startswith("0") else str(new)
        return head + text + tail, True
