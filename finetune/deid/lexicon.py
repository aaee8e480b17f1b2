"""The word lists of the rule layer, read once on first use (never at import).

The files live in `finetune/deid/lexicons/` (sources, sizes and licences: its SOURCES.md; rebuilt
by `build_lexicons.py` there): given names and surnames (US Census), US and world cities (GeoNames),
US states, countries, common English words with their Zipf frequency (wordfreq), and two lists
written for this project: clinical vocabulary that is never PHI and professions. Every entry is
folded (`finetune.deid.words.fold`: case- and accent-blind) so "JOSÉ", "José" and NFD "Jose\u0301"
look up alike.
"""

from __future__ import annotations

import functools
import gzip
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from finetune.deid.words import fold
from gatortron_common.logging import InputError

LEXICON_DIR = Path(__file__).with_name("lexicons")
# A listed name is a word first ("Will", "Rose", "Niece": a name only with context) when English uses
# it this much more often than people carry it: Zipf frequency (log10 uses per billion words) minus
# log10 of the name's bearers per 100,000 people. Smith 4.9 - 2.9 = 2.0 and Nguyen 1.1 are names;
# Rose 2.7, Young 3.2, Will 5.5 and the surname Niece 4.4 are words.
NAME_WORD_MARGIN = 2.5
# Languages and nationalities: capitalised, on no name list, never PHI ("Interpreter: Dari")
LANGUAGES = frozenset((
    "english spanish french german italian portuguese russian chinese mandarin cantonese japanese korean "
    "vietnamese arabic hindi urdu bengali punjabi tagalog haitian creole polish greek hebrew farsi persian "
    "dari pashto swahili somali amharic tigrinya oromo turkish ukrainian dutch burmese karen nepali tamil "
    "telugu gujarati marathi khmer lao hmong thai indonesian malay yoruba igbo hausa twi kinyarwanda kirundi "
    "american african european asian hispanic latino latina caucasian native").split())
_SHORT_FORMS = {"saint": "st", "fort": "ft", "mount": "mt"}


def _lines(name: str) -> Iterator[list[str]]:
    """The tab-separated fields of every entry of a list file (`name.txt` or `name.txt.gz`)."""
    for path in (LEXICON_DIR / f"{name}.txt", LEXICON_DIR / f"{name}.txt.gz"):
        if path.exists():
            opener = gzip.open if path.suffix == ".gz" else open
            with opener(path, "rt", encoding="utf-8") as handle:
                for line in handle:
                    line = line.rstrip("\n")
                    if line and not line.startswith("#"):
                        yield line.split("\t")
            return
    raise InputError(f"{LEXICON_DIR / name}.txt: word list missing "
                     "(rebuild: finetune/deid/lexicons/build_lexicons.py)")


def read_list(path: Path) -> list[str]:
    """The entries of a user's word-list file (one word or phrase a line; `#` starts a comment line)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return [line.strip() for line in handle if line.strip() and not line.lstrip().startswith("#")]
    except OSError as error:
        raise InputError(f"{path}: cannot read word list ({error.strerror})") from None
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not UTF-8 text (byte {error.start})") from None


@dataclass(frozen=True)
class Lexicon:
    """The folded word lists (single words and multi-word phrases in the same sets).

    Attributes:
        given: given names -> percent of people carrying it (Census 1990).
        surnames: surnames -> percent of people (Census 2010).
        english: common English words -> Zipf frequency.
        cities: US and world city names.
        states: US state names -> abbreviation.
        state_codes: upper-case state abbreviations.
        countries: country names.
        clinical: clinical vocabulary that is never PHI (drugs, diseases, eponyms, anatomy, units, ...).
        professions: occupations.
        organizations: well-known health systems, insurers, pharmacies, employers, as written -> subtype
            (HOSPITAL or ORGANIZATION).
    """

    given: dict[str, float]
    surnames: dict[str, float]
    english: dict[str, float]
    cities: frozenset[str]
    states: dict[str, str]
    state_codes: frozenset[str]
    countries: frozenset[str]
    clinical: frozenset[str]
    professions: frozenset[str]
    organizations: dict[str, str]

    @functools.cached_property
    def place_words(self) -> frozenset[str]:
        """One-word place names that are not people's names (the name rules leave them to places)."""
        return frozenset(key for key in (*self.cities, *self.states, *self.countries)
                         if " " not in key and key not in self.given and key not in self.surnames)

    @functools.cached_property
    def name_words(self) -> frozenset[str]:
        """Listed names that are not first an English word or clinical vocabulary."""
        words = set()
        for key in {*self.given, *self.surnames} - self.clinical:
            zipf = self.english.get(key)
            bearers = 1000 * max(self.given.get(key, 0.0), self.surnames.get(key, 0.0))  # per 100,000
            if zipf is None or zipf - math.log10(bearers + 0.01) < NAME_WORD_MARGIN:
                words.add(key)
        return frozenset(words)

    @functools.cached_property
    def place_heads(self) -> frozenset[str]:
        """First words of multi-word place names."""
        return frozenset(key.split(" ", 1)[0] for key in (*self.cities, *self.states, *self.countries)
                         if " " in key)

    def is_name_word(self, key: str) -> bool:
        """A folded word on a name list that is not first an English word or clinical vocabulary."""
        return key in self.name_words or ("'" in key and key.replace("'", "") in self.name_words)

    def is_given_name(self, key: str) -> bool:
        """A folded word on the given-name list (O'Neil is listed as oneil)."""
        return key in self.given or ("'" in key and key.replace("'", "") in self.given)

    def is_common_word(self, key: str) -> bool:
        """A folded English word that alone is not a name."""
        return key in self.english and key not in self.name_words


def _frequencies(name: str) -> dict[str, float]:
    table = {}
    for fields in _lines(name):
        table[fold(fields[0])] = float(fields[1]) if len(fields) > 1 and fields[1] else 0.0
    return table


@functools.lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    """The shipped word lists (read on the first call, then shared)."""
    states = {fold(fields[0]): fields[1] for fields in _lines("us_states")}
    # "St. Augustine" is matched word by word: keys without full stops, and the short forms of
    # Saint, Fort and Mount as notes write them
    cities = set()
    for name in ("us_cities", "world_cities"):
        for fields in _lines(name):
            key = fold(fields[0]).replace(".", "")
            cities.add(key)
            head, _, rest = key.partition(" ")
            if rest and head in _SHORT_FORMS:
                cities.add(f"{_SHORT_FORMS[head]} {rest}")
    words = Lexicon(
        given=_frequencies("given_names"), surnames=_frequencies("surnames"),
        english=_frequencies("english_common"), cities=frozenset(cities), states=states,
        state_codes=frozenset(code.upper() for code in states.values()),
        countries=frozenset(fold(fields[0]) for fields in _lines("countries")),
        clinical=frozenset(fold(fields[0]) for fields in _lines("clinical_allow")),
        professions=frozenset(fold(fields[0]) for fields in _lines("professions")),
        organizations={fields[0]: fields[1] for fields in _lines("organizations")})
    # derived sets made now, not inside the first note
    _ = words.name_words, words.place_words, words.place_heads
    return words
