"""A synthetic MediaWiki `pages-articles` export (enwiki-YYYYMMDD-pages-articlesN.xml.bz2).

Medical-topic articles written in real wikitext markup (bold/italic, links with aliases,
infoboxes, <ref> citations and named re-uses, headings, lists, tables, files, categories and HTML
comments), plus the page kinds a text extractor must skip or treat specially: redirects,
disambiguation pages and pages outside the article namespace. All content is invented.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

from gatortron_common.logging import get_logger
from synthetic import lexicon as lx
from synthetic.output import open_text_output
from synthetic.text import Dice, Prose, WordStream

log = get_logger(__name__)

_STREAM_WIKI = 2
_XML_ENTITIES = {'"': "&quot;"}  # MediaWiki escapes double quotes in <text> too
_NAMESPACES = ((-2, "Media"), (-1, "Special"), (0, ""), (1, "Talk"), (2, "User"), (3, "User talk"),
               (4, "Wikipedia"), (5, "Wikipedia talk"), (6, "File"), (7, "File talk"), (8, "MediaWiki"),
               (9, "MediaWiki talk"), (10, "Template"), (11, "Template talk"), (12, "Help"),
               (13, "Help talk"), (14, "Category"), (15, "Category talk"), (100, "Portal"),
               (101, "Portal talk"), (828, "Module"), (829, "Module talk"))
_HEADER = """<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" \
xsi:schemaLocation="http://www.mediawiki.org/xml/export-0.11/ http://www.mediawiki.org/xml/export-0.11.xsd" \
version="0.11" xml:lang="en">
  <siteinfo>
    <sitename>Wikipedia</sitename>
    <dbname>enwiki</dbname>
    <base>https://en.wikipedia.org/wiki/Main_Page</base>
    <generator>MediaWiki 1.46.0-wmf.7</generator>
    <case>first-letter</case>
    <namespaces>
{namespaces}
    </namespaces>
  </siteinfo>
"""
_FIELDS = ("Cardiology", "Nephrology", "Pulmonology", "Gastroenterology", "Neurology", "Dermatology",
           "Oncology", "Endocrinology", "Rheumatology", "Hematology", "Infectious disease")
_SECTIONS = ("Signs and symptoms", "Causes", "Pathophysiology", "Diagnosis", "Treatment", "Prognosis",
             "Epidemiology", "History", "Research", "Society and culture")
_SUBSECTIONS = ("Complications", "Classification", "Genetics", "Medications", "Surgery", "Screening",
                "Differential diagnosis", "Children", "Other animals")
_COMMENTS = ("Please do not add unsourced claims", "See WP:MEDRS before editing",
             "Infobox image removed pending licence check", "TODO: expand")
_UNLINKABLE = frozenset(lx.FUNCTION_WORDS)
_EDIT_COMMENTS = ("Added citation", "/* Treatment */ copyedit", "ce", "Reverted edits by vandal",
                  "/* Epidemiology */ update figures per newer review", "link fix", "Rescuing 1 source",
                  "Bot: fixing [[WP:CITE|citation]] formatting")


def _sha1_base36(text: str) -> str:
    """MediaWiki's revision sha1: SHA-1 of the UTF-8 text written in base 36, 31 digits."""
    value = int(hashlib.sha1(text.encode("utf-8")).hexdigest(), 16)
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = []
    while value:
        value, rem = divmod(value, 36)
        out.append(digits[rem])
    return "".join(reversed(out)).rjust(31, "0")


@dataclass
class _Page:
    title: str
    ns: int
    text: str
    redirect: str | None = None


class _WikiMaker:
    def __init__(self, seed: int) -> None:
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.rng = np.random.default_rng([seed, _STREAM_WIKI])
        self.dice = Dice(self.rng)
        self.words = WordStream(self.rng, term_fraction=0.25)
        self.prose = Prose(self.dice, self.words, ("It is", "The condition", "Treatment of", "In 1987,",
                                                    "According to", "Symptoms include", "Most cases"),
                           opener_rate=0.3, min_words=6, max_words=22)
        self.titles: list[str] = []
        self._taken: set[str] = set()
        self._cited: set[str] = set()  # ref names already defined in the current article

    # --- names ---------------------------------------------------------------------------------

    def _unique(self, title: str) -> str:
        base, n = title, 2
        while title in self._taken:
            title = f"{base} ({n})" if n > 2 else f"{base} (disorder)"
            n += 1
        self._taken.add(title)
        return title

    def topic(self) -> str:
        d = self.dice
        term = self.words.terms(1)[0]
        term = term[:1].upper() + term[1:]
        shape = d.below(5)
        if shape == 0:
            return f"{term} syndrome"
        if shape == 1:
            return f"{d.choice(lx.LAST_NAMES)}'s {term.lower()}"
        if shape == 2:
            qualifier = d.choice(("Acute", "Chronic", "Hereditary", "Idiopathic", "Congenital"))
            return f"{qualifier} {term.lower()}"
        return term

    # --- wikitext pieces -----------------------------------------------------------------------

    def link(self, text: str) -> str:
        d = self.dice
        if d.chance(0.25):
            return f"[[{self.topic()}|{text}]]"
        return f"[[{text}]]"

    def sentence(self) -> str:
        d = self.dice
        tokens = self.prose.sentence_words()
        for i, tok in enumerate(tokens):
            # Editors link content words, not "the"/"of"; and never a token carrying punctuation.
            if not tok[-1].isalpha() or tok in _UNLINKABLE:
                continue
            u = d.random()
            if u < 0.07:
                tokens[i] = self.link(tok)
            elif u < 0.09:
                tokens[i] = f"''{tok}''"
            elif u < 0.10:
                tokens[i] = f"'''{tok}'''"
        if d.chance(0.03):
            tokens.insert(1, d.choice(("&", "<", "> 40%", "5 < 7", "β-cells", "±2 SD", "37 °C")))
        return " ".join(tokens)

    def paragraph(self, n: int, refs: list[str]) -> str:
        """`n` sentences; some cite one of `refs`, in full the first time, as <ref name=".."/> after."""
        d = self.dice
        out = []
        for _ in range(n):
            s = self.sentence()
            if refs and d.chance(0.25):
                name = d.choice(refs)
                s += f'<ref name="{name}"/>' if name in self._cited else self.citation(name)
            out.append(s)
        return " ".join(out)

    def citation(self, name: str) -> str:
        d = self.dice
        self._cited.add(name)
        year = d.between(1980, 2025)
        title = " ".join(self.words.take(d.between(4, 10))).capitalize()
        start = d.between(1, 900)
        pages = f"{start}\u2013{start + d.between(2, 20)}"
        return (f'<ref name="{name}">{{{{cite journal |last1={d.choice(lx.LAST_NAMES)} '
                f"|first1={d.choice(lx.FIRST_NAMES)} |title={title} |journal=Journal of {d.choice(_FIELDS)} "
                f"|volume={d.between(1, 99)} |issue={d.between(1, 12)} |pages={pages} "
                f"|year={year} |doi=10.{d.between(1000, 9999)}/{d.between(10000, 99999)} "
                f"|pmid={d.between(1_000_000, 39_999_999)}}}}}</ref>")

    def infobox(self, title: str) -> str:
        d = self.dice
        rows = [
            ("name", title), ("image", f"{title} micrograph.jpg"),
            ("caption", " ".join(self.words.take(d.between(3, 8))).capitalize()),
            ("field", f"[[{d.choice(_FIELDS)}]]"),
            ("symptoms", ", ".join(f"[[{s}]]" for s in d.sample(lx.SYMPTOMS, 3))),
            ("complications", ", ".join(self.link(t) for t in self.words.terms(2))),
            ("onset", f"Age {d.between(1, 50)}\u2013{d.between(51, 90)}"),
            ("causes", self.link(self.words.terms(1)[0])),
            ("treatment", ", ".join(f"[[{drug.name.split()[0]}]]" for drug in d.sample(lx.DRUGS, 2))),
            ("frequency", f"1 in {d.between(2, 500) * 1000:,}"),
        ]
        body = "\n".join(f"| {key:<13} = {value}" for key, value in rows)
        return "{{Infobox medical condition\n" + body + "\n}}"

    def table(self, title: str) -> str:
        d = self.dice
        lines = ['{| class="wikitable"', f"|+ Classification of {title}",
                 "! Stage !! Description !! Frequency"]
        for stage in ("I", "II", "III", "IV")[: d.between(2, 4)]:
            desc = " ".join(self.words.take(d.between(3, 7)))
            lines += ["|-", f"| {stage} || {desc} || {d.between(1, 60)}%"]
        lines.append("|}")
        return "\n".join(lines)

    def article(self, title: str) -> str:
        d = self.dice
        refs = [f"{d.choice(lx.LAST_NAMES).lower()}{d.between(1990, 2025)}" for _ in range(d.between(1, 5))]
        refs = list(dict.fromkeys(refs))
        self._cited.clear()
        alias = self.topic()
        parts = ["{{Short description|Medical condition}}"]
        if d.chance(0.8):
            parts.append(self.infobox(title))
        lead = (f"'''{title}''' (also known as '''{alias}''' or ''{alias.lower()}'') is a "
                f"{self.link('rare disease')} of the {self.link(self.words.terms(1)[0])}. "
                f"{self.paragraph(d.between(1, 4), [])}{self.citation(refs[0])}")
        parts.append(lead)
        for section in d.sample(_SECTIONS, d.between(2, 6)):
            parts.append(f"== {section} ==")
            if d.chance(0.2):
                parts.append(f"[[File:{title} {section.lower()}.jpg|thumb|{self.sentence()}]]")
            parts.append(self.paragraph(d.between(2, 7), refs))
            if d.chance(0.4):
                parts.append("\n".join(f"* {self.sentence()}" for _ in range(d.between(2, 6))))
            if d.chance(0.3):
                parts.append(f"=== {d.choice(_SUBSECTIONS)} ===")
                cite = self.citation(f"{refs[-1]}b{d.below(1000)}")
                parts.append(self.paragraph(d.between(1, 4), refs) + cite)
            if d.chance(0.2):
                parts.append(self.table(title))
            if d.chance(0.1):
                parts.append(f"<!-- {d.choice(_COMMENTS)} -->")
        parts.append("== See also ==\n" + "\n".join(f"* [[{self.topic()}]]" for _ in range(d.between(1, 3))))
        parts.append("== References ==\n{{Reflist}}")
        if d.chance(0.5):
            parts.append(f"== External links ==\n* [https://example.org/{d.below(99999)} {title} overview]")
        parts.append("\n".join(f"[[Category:{c}]]" for c in (
            d.choice(("Rare diseases", "Syndromes", "Diseases and disorders", "Genetic disorders")),
            f"{d.choice(_FIELDS)} conditions")))
        return "\n\n".join(parts) + "\n"

    def disambiguation(self, base: str) -> str:
        d = self.dice
        items = [f"* [[{base} ({kind})]], {' '.join(self.words.take(d.between(3, 8)))}"
                 for kind in d.sample(("disease", "syndrome", "gene", "protein", "journal", "surgeon",
                                       "band", "village"), d.between(2, 5))]
        return (f"'''{base}''' may refer to:\n\n" + "\n".join(items)
                + "\n\n== See also ==\n* [[" + self.topic() + "]]\n\n{{disambiguation}}\n")

    def other_namespace(self) -> _Page:
        d = self.dice
        kind = d.below(3)
        if kind == 0:
            name = f"{d.choice(_FIELDS)} conditions"
            text = (f"{{{{Commons category|{name}}}}}\nArticles about {name.lower()}. "
                    f"{self.paragraph(1, [])}\n\n[[Category:Diseases and disorders]]\n")
            return _Page(self._unique(f"Category:{name}"), 14, text)
        if kind == 1:
            name = f"WikiProject Medicine/{self.topic()}"
            text = f"{{{{WikiProject banner}}}}\n== Scope ==\n{self.paragraph(d.between(2, 5), [])}\n"
            return _Page(self._unique(f"Wikipedia:{name}"), 4, text)
        name = f"{self.topic()} navbox"
        text = ("{{Navbox\n| name = " + name + "\n| title = " + self.topic() + "\n| list1 = "
                + " \u2022 ".join(f"[[{self.topic()}]]" for _ in range(4)) + "\n}}<noinclude>\n"
                "[[Category:Medicine navigational boxes]]\n</noinclude>")
        return _Page(self._unique(f"Template:{name}"), 10, text)

    def page(self) -> _Page:
        d = self.dice
        u = d.random()
        if u < 0.10 and self.titles:
            target = d.choice(self.titles)
            title = self._unique(self.topic())
            text = (f"#REDIRECT [[{target}]]\n\n"
                    "{{Redirect category shell|\n{{R from alternative name}}\n}}\n")
            return _Page(title, 0, text, redirect=target)
        if u < 0.15:
            base = self.topic()
            title = self._unique(f"{base} (disambiguation)" if d.chance(0.5) else base)
            return _Page(title, 0, self.disambiguation(base))
        if u < 0.19:
            return self.other_namespace()
        title = self._unique(self.topic())
        self.titles.append(title)
        return _Page(title, 0, self.article(title))


def write_wikipedia_dump(path: str | Path, seed: int, n_pages: int) -> int:
    """Write a bz2 MediaWiki export with `n_pages` pages; returns the number of pages written.

    About 10% are redirects, 5% disambiguation pages and 4% non-article namespaces (4, 10, 14);
    the rest are articles. Deterministic for the same (seed, n_pages).
    """
    maker = _WikiMaker(seed)
    d = maker.dice
    namespaces = "\n".join(
        f'      <namespace key="{key}" case="first-letter" />' if not name
        else f'      <namespace key="{key}" case="first-letter">{name}</namespace>'
        for key, name in _NAMESPACES
    )
    page_id = d.between(1000, 50_000)
    rev_id = 1_200_000_000 + d.below(50_000_000)
    with open_text_output(path) as out:
        out.write(_HEADER.format(namespaces=namespaces))
        for _ in range(n_pages):
            page = maker.page()
            page_id += d.between(1, 40)
            rev_id += d.between(1, 5000)
            text = page.text
            lines = ["  <page>", f"    <title>{escape(page.title)}</title>", f"    <ns>{page.ns}</ns>",
                     f"    <id>{page_id}</id>"]
            if page.redirect is not None:
                lines.append(f'    <redirect title="{escape(page.redirect, _XML_ENTITIES)}" />')
            lines += ["    <revision>", f"      <id>{rev_id}</id>"]
            if d.chance(0.9):  # a page's first revision has no parent
                lines.append(f"      <parentid>{rev_id - d.between(1, 900_000)}</parentid>")
            day = f"{d.between(2004, 2025)}-{d.between(1, 12):02d}-{d.between(1, 28):02d}"
            clock = f"{d.between(0, 23):02d}:{d.between(0, 59):02d}:{d.between(0, 59):02d}"
            lines.append(f"      <timestamp>{day}T{clock}Z</timestamp>")
            if d.chance(0.85):
                user = f"{d.choice(lx.FIRST_NAMES)}{d.choice(('MD', 'Bot', '_wiki', str(d.between(1, 999))))}"
                lines.append(f"      <contributor>\n        <username>{user}</username>\n"
                             f"        <id>{d.between(1, 48_000_000)}</id>\n      </contributor>")
            else:  # anonymous edit; documentation-only (TEST-NET) addresses
                lines.append(f"      <contributor>\n        <ip>192.0.2.{d.between(1, 254)}</ip>\n"
                             "      </contributor>")
            if d.chance(0.3):
                lines.append("      <minor />")
            comment = (f"Redirected page to [[{page.redirect}]]" if page.redirect is not None
                       else d.choice(_EDIT_COMMENTS))
            lines += [
                f"      <comment>{escape(comment)}</comment>",
                "      <model>wikitext</model>",
                "      <format>text/x-wiki</format>",
                f'      <text bytes="{len(text.encode("utf-8"))}" xml:space="preserve">'
                f"{escape(text, _XML_ENTITIES)}</text>",
                f"      <sha1>{_sha1_base36(text)}</sha1>",
                "    </revision>",
                "  </page>",
            ]
            out.write("\n".join(lines) + "\n")
        out.write("</mediawiki>\n")
    log.info("wrote %d wiki pages to %s", n_pages, path)
    return n_pages
