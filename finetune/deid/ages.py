"""Ages: the one number of an age span ("92 yo", "seventy-two years old") and its value, and a
number written out in words in the style of another.

An age span is an age only when all its other words are age words (`AGE_WORDS`: yo, years, male,
...) and it holds one number, in digits (1 to 3) or in words ("Forty-two", "one hundred and one").
"""

from __future__ import annotations

import regex

from finetune.deid.words import DIGITS, WORD, ascii_digits, fold

_ONES = tuple("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
              "fifteen sixteen seventeen eighteen nineteen".split())
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_NUMBER_VALUES = {word: value for value, word in enumerate(_ONES)} | {
    word: 10 * tens for tens, word in enumerate(_TENS) if word} | {"fourty": 40}
# Words of ages that identify nobody (units, sex, numbers in words): a surrogate may keep them.
AGE_WORDS = frozenset("y o yo yr yrs year years old aged age m f yom yof male female man woman boy girl "
                      "month months mo mos week weeks wk wks day days and hundred".split()
                      ) | frozenset(_NUMBER_VALUES)
_SPACES = regex.compile(r"[\s-]+")

_NUMBER_WORD = "|".join(sorted(_NUMBER_VALUES, key=len, reverse=True)) + "|hundred"
WRITTEN_NUMBER = rf"(?:{_NUMBER_WORD})(?:(?:[\s-]+(?:and\s+)?)(?:{_NUMBER_WORD}))*"
_AGE_NUMBER = regex.compile(rf"(?P<digits>(?<!\p{{N}})\p{{Nd}}{{1,3}}(?!\p{{N}}))"
                            rf"|(?<!\p{{L}})(?P<words>{WRITTEN_NUMBER})(?!\p{{L}})", regex.IGNORECASE)


def _written_value(text: str) -> int | None:
    value = 0
    for word in _SPACES.split(fold(text)):
        if word == "and":
            continue
        if word == "hundred":
            value = max(value, 1) * 100
        elif word in _NUMBER_VALUES:
            value += _NUMBER_VALUES[word]
        else:
            return None
    return value


def written(value: int, like: str) -> str:
    """`value` (< 100) in words, in the separator and case pattern of `like` ("Forty-two")."""
    if value < 20:
        words = _ONES[value]
    else:
        tens, ones = divmod(value, 10)
        joiner = " " if "-" not in like and " " in like.strip() else "-"
        words = _TENS[tens] + (joiner + _ONES[ones] if ones else "")
    if like.isupper():
        return words.upper()
    return words[:1].upper() + words[1:] if like[:1].isupper() else words


def age_parts(text: str) -> tuple[regex.Match[str], int] | None:
    """The one number of an age span and its value, or None when the span is not only an age."""
    numbers = list(_AGE_NUMBER.finditer(text))
    if len(numbers) != 1:
        return None
    match = numbers[0]
    rest = text[:match.start()] + " " + text[match.end():]
    if DIGITS.search(rest) or any(fold(word) not in AGE_WORDS for word in WORD.findall(rest)):
        return None
    if match.group("digits"):
        return match, int(ascii_digits(match.group("digits")))
    value = _written_value(match.group("words"))
    return (match, value) if value is not None else None
