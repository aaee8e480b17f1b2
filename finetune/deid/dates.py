"""Dates: reading a date written in a PHI span and moving it by a number of days in its own format.

Formats: ISO dates and datetimes (yyyy-mm-dd, yyyy/mm/dd, with a time), m/d/y and m-d-y, d.m.y, m/d,
"March 4th, 2019", "4 March 2019", "04Mar2019", "4-Mar-19", "March 2019", "March 4", a lone year
(1850 to 2150), with or without a weekday prefix (only with a full date: the weekday is recomputed).
Month and weekday names keep their spelling (full or abbreviated) and case; padding and two-digit
years are kept. Missing parts are anchored (`ParsedDate`): a lone year at mid-year, so it may stay
the same when moved. A date that cannot be read or moved gives None (the caller's tag).
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

import regex

from finetune.deid.words import cased, fold

_MONTH_NAMES = tuple(calendar.month_name)[1:]
_MONTH_ABBR = tuple(calendar.month_abbr)[1:]
_WEEKDAY_NAMES = tuple(calendar.day_name)
_WEEKDAY_ABBR = tuple(calendar.day_abbr)
# Words of dates that identify nobody (month and weekday names, "of", "am"): a surrogate may keep them.
DATE_WORDS = frozenset({fold(name) for name in _MONTH_NAMES + _MONTH_ABBR + _WEEKDAY_NAMES + _WEEKDAY_ABBR}
                       | {"sept", "tues", "thur", "thurs", "of", "the", "on", "at", "am", "pm"})

_MON = (r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
        r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_WD = (r"(?:(?P<wd>mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:r(?:s(?:day)?)?)?|fri(?:day)?|"
       r"sat(?:urday)?|sun(?:day)?)\.?,?\s+)?")
_TIME = (r"(?P<time>(?:[T ]|\s+(?:at\s+)?)\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:\s?[ap]\.?m\.?)?"
         r"(?:\s?(?:Z|UTC|[+-]\d{2}(?::?\d{2})?))?)?")
_YEAR_SEP = r"(?:,\s*|\s+|-|/)'?"
_DATE_FORMATS = tuple(regex.compile(pattern, regex.IGNORECASE | regex.V0) for pattern in (
    rf"{_WD}(?P<y>\d{{4}})(?P<s>[-/.])(?P<m>\d{{1,2}})(?P=s)(?P<d>\d{{1,2}}){_TIME}",  # ISO, yyyy/mm/dd
    rf"{_WD}(?P<m>\d{{1,2}})(?P<s>[/-])(?P<d>\d{{1,2}})(?P=s)(?P<y>\d{{4}}|\d{{2}}){_TIME}",  # m/d/y
    rf"{_WD}(?P<d>\d{{1,2}})\.(?P<m>\d{{1,2}})\.(?P<y>\d{{4}}|\d{{2}}){_TIME}",  # d.m.y
    r"(?P<m>\d{1,2})/(?P<d>\d{1,2})",  # m/d
    rf"{_WD}{_MON}\.?(?:\s*|-)(?P<d>\d{{1,2}})(?P<ord>st|nd|rd|th)?(?:{_YEAR_SEP}(?P<y>\d{{4}}|\d{{2}}))?{_TIME}",
    rf"{_WD}{_MON}\.?,?(?:\s+|-)'?(?P<y>\d{{4}})",  # March 2019
    rf"{_WD}(?P<d>\d{{1,2}})(?P<ord>st|nd|rd|th)?(?:\s+of\s+|[\s/-]*){_MON}\.?"
    rf"(?:(?:,\s*|[\s/-]*)'?(?P<y>\d{{4}}|\d{{2}}))?{_TIME}",  # 4 March 2019, 04Mar2019, 4-Mar-19
    r"(?P<y>\d{4})",  # a lone year
))
_MONTH_OF = {fold(name): i + 1 for i, name in enumerate(_MONTH_NAMES)} | {
    fold(name): i + 1 for i, name in enumerate(_MONTH_ABBR)} | {"sept": 9}
_FULL_MONTHS = frozenset(fold(name) for name in _MONTH_NAMES)
_LONE_YEARS = (1850, 2150)
_EDGES = " \t\r\n,;:()[]{}\"'"


@dataclass(frozen=True)
class ParsedDate:
    """A date read from text: which parts it has, and the date itself (missing parts anchored).

    Args:
        date: the date (year 2001 when none is written, 2000 for Feb 29; day 15 for "March 2019";
            July 2 for a lone year).
        has_year: a year is written.
        has_month: a month is written.
        has_day: a day is written.
    """

    date: dt.date
    has_year: bool
    has_month: bool
    has_day: bool


def _year_of(text: str) -> int:
    return int(text) + 2000 if len(text) == 2 else int(text)


def _date_match(text: str) -> tuple[regex.Match[str], ParsedDate] | None:
    for pattern in _DATE_FORMATS:
        match = pattern.fullmatch(text)
        if match is None:
            continue
        groups = match.groupdict()
        year = groups.get("y")
        month = groups.get("m") or groups.get("mon")
        day = groups.get("d")
        if month is None and year is not None:
            value = int(year)
            if len(year) != 4 or not _LONE_YEARS[0] <= value <= _LONE_YEARS[1]:
                return None
            return match, ParsedDate(dt.date(value, 7, 2), True, False, False)
        month_number = int(month) if month.isdigit() else _MONTH_OF.get(fold(month))
        try:
            # No year written: a common year, unless the day is Feb 29.
            default_year = 2000 if (month_number, day and int(day)) == (2, 29) else 2001
            anchor = dt.date(_year_of(year) if year else default_year, month_number or 0,
                             int(day) if day else 15)
        except (ValueError, TypeError, OverflowError):
            return None
        if groups.get("wd") and not (year and day):
            return None  # a weekday cannot be recomputed without the full date
        return match, ParsedDate(anchor, year is not None, True, day is not None)
    return None


def parse_date(text: str) -> ParsedDate | None:
    """The date written in `text` (one of the known formats, surrounding punctuation allowed), or None."""
    found = _date_match(text.strip(_EDGES))
    return found[1] if found else None


def shift_date(text: str, days: int) -> str | None:
    """`text` moved by `days` in its own format, or None when it is no date we can read or move.

    Args:
        text: a date (see the module docstring for the formats; surrounding punctuation is kept).
        days: how far to move it.
    """
    core = text.strip(_EDGES)
    if not core:
        return None
    found = _date_match(core)
    if found is None:
        return None
    match, parsed = found
    try:
        moved = parsed.date + dt.timedelta(days=days)
    except OverflowError:
        return None
    groups = match.groupdict()
    year = groups.get("y")
    numeric = [groups[name] for name in ("m", "d") if groups.get(name)]
    iso = year is not None and len(year) == 4 and groups.get("m") is not None and (
        match.start("y") < match.start("m"))
    padded = iso or any(value.startswith("0") for value in numeric)
    new = {
        "y": None if year is None else f"{moved.year % 100:02d}" if len(year) == 2 else f"{moved.year:04d}",
        "m": _number(moved.month, groups.get("m"), padded),
        "d": _number(moved.day, groups.get("d"), padded),
        "ord": _ordinal(moved.day, groups.get("ord")),
        "mon": _month_name(moved.month, groups.get("mon")),
        "wd": _weekday_name(moved, groups.get("wd")),
    }
    pieces, position = [], 0
    for name in sorted((n for n, v in new.items() if v is not None and groups.get(n)), key=match.start):
        pieces += [core[position:match.start(name)], new[name]]
        position = match.end(name)
    pieces.append(core[position:])
    start = text.find(core)
    return text[:start] + "".join(pieces) + text[start + len(core):]


def _number(value: int, like: str | None, padded: bool) -> str | None:
    if like is None:
        return None
    return f"{value:02d}" if len(like) == 2 and (like.startswith("0") or padded) else str(value)


def _ordinal(day: int, like: str | None) -> str | None:
    if like is None:
        return None
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return suffix.upper() if like.isupper() else suffix


def _month_name(month: int, like: str | None) -> str | None:
    if like is None:
        return None
    full = fold(like) in _FULL_MONTHS  # "May" counts as full: "May 3" -> "June 3"
    return cased((_MONTH_NAMES if full else _MONTH_ABBR)[month - 1], like)


def _weekday_name(day: dt.date, like: str | None) -> str | None:
    if like is None:
        return None
    names = _WEEKDAY_NAMES if len(like) > 4 else _WEEKDAY_ABBR
    return cased(names[day.weekday()], like)
