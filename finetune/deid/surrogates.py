"""Surrogates ("hiding in plain sight"): each PHI span replaced by a realistic one of the same kind.

- Shape is kept: a name keeps its form ("Last, First", initials "J.", capitalization); a phone,
  ID or ZIP keeps its punctuation and which characters are digits or letters; a date keeps its
  format (2067-05-03, 05/03/2067, May 3, 2067, ...).
- Consistent: the same original gives the same surrogate within a scope: the note, or the patient
  when a patient key is given. Names map word by word ("Smith" alone and in "John Smith" get the
  same surname). All dates of a scope move by one offset (30 to 1,095 days, either way), so
  intervals stay true; ages above 89 become 90, as HIPAA asks.
- Keyed: every choice is drawn from HMAC-SHA256(secret, scope, kind, original). The same secret
  reproduces the output; without it the mapping cannot be recomputed. A surrogate never equals
  its original.

Name, city, state and street lists are the project's synthetic lexicon (invented or very common
names); e-mail, web and IP addresses use reserved example domains and the TEST-NET-1 block.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import hmac
import random
import re
from collections.abc import Callable

from synthetic import lexicon as lx

_WORD = re.compile(r"[A-Za-z]+|[^A-Za-z]+")
_MONTHS = tuple(calendar.month_name)[1:]
_ABBREVIATED = tuple(calendar.month_abbr)[1:]
_MONTHS_LOWER = {name.lower() for name in _MONTHS}
_MONTH_NUMBER = {name.lower(): i + 1 for i, name in enumerate(_MONTHS)} | {
    name.lower(): i + 1 for i, name in enumerate(_ABBREVIATED)} | {"sept": 9}
_KEEP_WORDS = {"hospital", "medical", "center", "clinic", "memorial", "university", "health", "regional",
               "community", "general", "church", "bank", "library", "school", "unit", "department", "of",
               "the", "and", "&", "st", "saint", "associates", "care", "house", "home"}
_PROFESSIONS = ("teacher", "electrician", "nurse", "engineer", "farmer", "chef", "plumber", "librarian",
                "mechanic", "pilot", "cashier", "lawyer", "painter", "accountant")
_DATE_SHIFT = (30, 1095)


def _shape(text: str, rng: random.Random) -> str:
    """Each digit, upper-case and lower-case letter replaced by a random one of its kind."""
    out = []
    for char in text:
        if char.isdigit():
            out.append(str(rng.randrange(10)))
        elif char.isalpha():
            letter = chr(ord("a") + rng.randrange(26))
            out.append(letter.upper() if char.isupper() else letter)
        else:
            out.append(char)
    return "".join(out)


def _cased(word: str, like: str) -> str:
    if like.isupper() and len(like) > 1:
        return word.upper()
    if like.islower():
        return word.lower()
    return word[:1].upper() + word[1:].lower()


class Surrogates:
    """Keyed, consistent surrogates for i2b2 2014 PHI subtypes.

    Args:
        secret: the key of every choice (required; keep it like a password).
    """

    def __init__(self, secret: str) -> None:
        self._key = secret.encode("utf-8")
        self._makers: dict[str, Callable[[str, str], str]] = {
            "PATIENT": self._name, "DOCTOR": self._name, "USERNAME": self._shaped, "DATE": self._date,
            "AGE": self._age, "CITY": self._city, "STATE": self._state, "STREET": self._street,
            "PROFESSION": self._profession, "EMAIL": self._email, "URL": self._url, "IPADDR": self._ip,
            "HOSPITAL": self._place, "ORGANIZATION": self._place, "DEPARTMENT": self._place,
            "LOCATION-OTHER": self._place, "COUNTRY": self._place, "OTHER": self._place,
        }

    def _rng(self, *parts: str) -> random.Random:
        digest = hmac.new(self._key, "\x1f".join(parts).encode("utf-8"), hashlib.sha256).digest()
        return random.Random(int.from_bytes(digest[:16], "big"))

    def replace(self, original: str, subtype: str, scope: str) -> str:
        """The surrogate of `original` (a PHI span of `subtype`) within `scope` (note or patient)."""
        maker = self._makers.get(subtype, self._shaped)
        for attempt in range(20):
            surrogate = maker(original, f"{scope}\x1e{attempt}" if attempt else scope)
            if surrogate != original:
                return surrogate
        return _shape(original, self._rng("fallback", scope, original)) or "*"

    def date_offset(self, scope: str) -> int:
        """Days every date of `scope` moves (never 0)."""
        rng = self._rng("date-shift", scope.split("\x1e")[0])
        return rng.choice((-1, 1)) * rng.randint(*_DATE_SHIFT)

    # --- kinds -----------------------------------------------------------------------------------

    def _shaped(self, original: str, scope: str) -> str:
        return _shape(original, self._rng("shape", scope, original))

    def _word(self, word: str, scope: str, choices: tuple[str, ...], kind: str) -> str:
        return _cased(self._rng(kind, scope, word.lower()).choice(choices), word)

    def _name(self, original: str, scope: str) -> str:
        # "Last, First": the part before the comma is a surname; a lone word too; otherwise the
        # last word is the surname and the others given names. Initials stay initials.
        words = _WORD.findall(original)
        alphabetic = [i for i, piece in enumerate(words) if piece.isalpha()]
        comma = next((i for i, piece in enumerate(words) if "," in piece), None)
        out = []
        for index, piece in enumerate(words):
            if not piece.isalpha():
                out.append(piece)
            elif len(piece) == 1:
                out.append(self._rng("initial", scope, piece.lower()).choice("ABCDEFGHIJKLMNOPRSTW"))
            else:
                surname = (index < comma) if comma is not None else index == alphabetic[-1]
                names = lx.LAST_NAMES if surname else lx.FIRST_NAMES
                out.append(self._word(piece, scope, names, "surname" if surname else "given"))
        return "".join(out)

    def _date(self, original: str, scope: str) -> str:
        shifted = shift_date(original, self.date_offset(scope))
        return shifted if shifted is not None else self._shaped(original, scope)

    def _age(self, original: str, scope: str) -> str:
        digits = re.search(r"\d+", original)
        if not digits:
            return self._shaped(original, scope)
        age = int(digits.group())
        new = 90 if age > 89 else min(89, max(1, age + self._rng("age", scope).choice((-2, -1, 1, 2))))
        return original[:digits.start()] + str(new) + original[digits.end():]

    def _city(self, original: str, scope: str) -> str:
        city = self._rng("city", scope, original.lower()).choice(lx.CITIES)[0]
        return _cased(city, original) if original.isupper() or original.islower() else city

    def _state(self, original: str, scope: str) -> str:
        name, code = self._rng("state", scope, original.lower()).choice(lx.US_STATES)
        return code if len(original) <= 3 else _cased(name, original) if original.isupper() else name

    def _street(self, original: str, scope: str) -> str:
        rng = self._rng("street", scope, original.lower())
        out = []
        for piece in _WORD.findall(original):
            if piece.isalpha() and piece.lower().rstrip(".") not in {s.lower() for s in lx.STREET_SUFFIXES}:
                out.append(_cased(rng.choice(lx.STREET_NAMES), piece))
            else:
                out.append(_shape(piece, rng) if any(c.isdigit() for c in piece) else piece)
        return "".join(out)

    def _place(self, original: str, scope: str) -> str:
        out = []
        for piece in _WORD.findall(original):
            keep = not piece.isalpha() or piece.lower() in _KEEP_WORDS
            out.append(piece if keep else self._word(piece, scope, lx.LAST_NAMES, "place"))
        return "".join(out)

    def _profession(self, original: str, scope: str) -> str:
        return _cased(self._rng("profession", scope, original.lower()).choice(_PROFESSIONS), original)

    def _email(self, original: str, scope: str) -> str:
        local, _, _ = original.partition("@")
        return f"{_shape(local, self._rng('email', scope, original.lower()))}@example.org"

    def _url(self, original: str, scope: str) -> str:
        rng = self._rng("url", scope, original.lower())
        scheme = re.match(r"(?i)(https?://)?(www\.)?", original).group()
        return f"{scheme}example.com/{_shape(original[len(scheme):].split('/', 1)[-1], rng)}".rstrip("/")

    def _ip(self, original: str, scope: str) -> str:
        return f"192.0.2.{self._rng('ip', scope, original).randint(1, 254)}"


# --- dates ---------------------------------------------------------------------------------------

_NUMERIC = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$|^(\d{1,2})/(\d{1,2})(?:/(\d{2}|\d{4}))?$")
_WORDS = re.compile(r"^(?:(\d{1,2})\s+)?([A-Za-z]+)\.?(\s+)(?:(\d{1,2})(,?\s+))?(\d{4})$")


def shift_date(text: str, days: int) -> str | None:
    """`text` moved by `days` in its own format, or None when it is no date format we know.

    Known: yyyy-mm-dd, m/d/yyyy, m/d/yy, m/d (zero padding kept), "May 3, 2067", "3 May 2067",
    "May 2067" (month names full or abbreviated, case kept).
    """
    match = _NUMERIC.match(text)
    if match:
        if match.group(1):
            year, month, day = (int(match.group(i)) for i in (1, 2, 3))
            parts = (match.group(2), match.group(3))
        else:
            month, day = int(match.group(4)), int(match.group(5))
            year_text = match.group(6)
            year = 2000 if year_text is None else int(year_text) + (2000 if len(year_text) == 2 else 0)
            parts = (match.group(4), match.group(5))
        try:
            moved = dt.date(year, month, day) + dt.timedelta(days=days)
        except ValueError:
            return None
        month_text = f"{moved.month:0{len(parts[0])}d}"
        day_text = f"{moved.day:0{len(parts[1])}d}"
        if match.group(1):
            return f"{moved.year:04d}-{month_text}-{day_text}"
        if year_text is None:
            return f"{month_text}/{day_text}"
        year_out = f"{moved.year % 100:02d}" if len(year_text) == 2 else f"{moved.year:04d}"
        return f"{month_text}/{day_text}/{year_out}"
    match = _WORDS.match(text)
    if not match or match.group(2).lower() not in _MONTH_NUMBER:
        return None
    first_day, name, gap, day, separator, year = match.groups()
    if first_day and day:
        return None
    try:
        moved = dt.date(int(year), _MONTH_NUMBER[name.lower()], int(first_day or day or 15))
    except ValueError:
        return None
    moved += dt.timedelta(days=days)
    month_name = (_MONTHS if name.lower() in _MONTHS_LOWER else _ABBREVIATED)[moved.month - 1]
    month_name = _cased(month_name, name)
    if "." in text:
        month_name += "."
    if first_day:
        return f"{moved.day} {month_name}{gap}{moved.year}"
    if day:
        return f"{month_name}{gap}{moved.day}{separator}{moved.year}"
    return f"{month_name}{gap}{moved.year}"
