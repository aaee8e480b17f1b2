"""PubMed baseline XML and MediaWiki dumps through the shared reader: text, skips, lines, no PHI."""

from __future__ import annotations

import bz2
import gzip
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from gatortron_common.logging import InputError, SkipReport
from gatortron_common.readers import TEXT_FORMATS, TextRecord, detect_format, read_documents
from synthetic.corpora.pubmed import write_pubmed_baseline
from synthetic.corpora.wikipedia import write_wikipedia_dump

SECRET = "Jane Secretname MRN 4417"  # stands for PHI: must never appear in an error or a skip report
MW = "{http://www.mediawiki.org/xml/export-0.11/}"


def read(path: Path, skips: SkipReport | None = None, **kwargs) -> list[TextRecord]:
    return list(read_documents(path, skips=SkipReport() if skips is None else skips, **kwargs))


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line of the `occurrence`-th line that contains `needle`."""
    hits = [i for i, line in enumerate(text.split("\n"), start=1) if needle in line]
    return hits[occurrence - 1]


def squash(element: ET.Element) -> str:
    return " ".join("".join(element.itertext()).split())


# --- format detection --------------------------------------------------------------------------


@pytest.mark.parametrize("name, fmt", [
    ("pubmed26n0001.xml.gz", "pubmed"), ("pubmed26n1400.xml", "pubmed"),
    ("enwiki-20260101-pages-articles1.xml.bz2", "wikipedia"),
    ("enwiki-20260101-pages-articles1.xml-p1p41242.bz2", "wikipedia"),  # real split dump names
    ("simplewiki-pages-articles.xml", "wikipedia"), ("pubmed_notes.txt", "text"), ("notes.jsonl.gz", "jsonl"),
])
def test_detect_format_knows_the_xml_sources_by_name(name: str, fmt: str) -> None:
    assert detect_format(Path(name)) == fmt
    assert fmt in TEXT_FORMATS


@pytest.mark.parametrize("name", ["export.xml", "export.xml.gz", "medline_pubmed.xml"])
def test_other_xml_needs_an_explicit_format(name: str) -> None:
    with pytest.raises(InputError, match="cannot tell the format"):
        detect_format(Path(name))


# --- PubMed ------------------------------------------------------------------------------------

_ARTICLE_WITH_MARKUP = """\
  <PubmedArticle>
    <MedlineCitation Status="MEDLINE" Owner="NLM">
      <PMID Version="1">101</PMID>
      <Article PubModel="Print">
        <ArticleTitle>Effect of <i>in vivo</i> dosing on Ca<sup>2+</sup>
          flux.</ArticleTitle>
        <Abstract>
          <AbstractText Label="BACKGROUND" NlmCategory="BACKGROUND">Mice   were given
            10<sup>6</sup> cells (p &lt; 0.05).</AbstractText>
          <AbstractText Label="RESULTS" NlmCategory="RESULTS">HbA<sub>1c</sub> fell by
            <b>2</b>%.</AbstractText>
          <CopyrightInformation>Copyright 2020 The Authors.</CopyrightInformation>
        </Abstract>
      </Article>
    </MedlineCitation>
    <PubmedData><ArticleIdList><ArticleId IdType="pubmed">101</ArticleId></ArticleIdList></PubmedData>
  </PubmedArticle>
"""
_ARTICLE_TITLE_ONLY = """\
  <PubmedArticle>
    <MedlineCitation Status="MEDLINE" Owner="NLM">
      <PMID Version="1">102</PMID>
      <Article PubModel="Print"><ArticleTitle>A letter about nothing.</ArticleTitle></Article>
    </MedlineCitation>
  </PubmedArticle>
"""
_ARTICLE_PLAIN = """\
  <PubmedArticle>
    <MedlineCitation Status="MEDLINE" Owner="NLM">
      <PMID Version="1">103</PMID>
      <Article PubModel="Print">
        <ArticleTitle>Plain abstracts.</ArticleTitle>
        <Abstract><AbstractText>One paragraph, &amp; <i>E. coli</i> in it.</AbstractText></Abstract>
      </Article>
    </MedlineCitation>
  </PubmedArticle>
"""
_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
         '<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN" '
         '"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n<PubmedArticleSet>\n')
_TAIL = "</PubmedArticleSet>\n"
_DELETE = '  <DeleteCitation>\n    <PMID Version="1">5</PMID>\n  </DeleteCitation>\n'


def test_pubmed_hand_written_file_exact_text_and_lines(tmp_path: Path) -> None:
    xml = _HEAD + _ARTICLE_WITH_MARKUP + _ARTICLE_TITLE_ONLY + _ARTICLE_PLAIN + _DELETE + _TAIL
    path = tmp_path / "pubmed26n0001.xml.gz"
    path.write_bytes(gzip.compress(xml.encode("utf-8")))
    skips = SkipReport()
    docs = read(path, skips)
    assert [d.text for d in docs] == [
        "Effect of in vivo dosing on Ca2+ flux.\n"
        "BACKGROUND: Mice were given 106 cells (p < 0.05).\n"
        "RESULTS: HbA1c fell by 2%.",
        "Plain abstracts.\nOne paragraph, & E. coli in it.",
    ]
    # line = the line of the article's start tag
    assert [d.line for d in docs] == [line_of(xml, "<PubmedArticle>", 1), line_of(xml, "<PubmedArticle>", 3)]
    assert {d.source for d in docs} == {str(path)}
    assert skips.counts == {"no_abstract": 1}
    assert skips.examples == {"no_abstract": [f"{path}:{line_of(xml, '<PubmedArticle>', 2)}"]}


def test_pubmed_synthetic_baseline(tmp_path: Path) -> None:
    path = tmp_path / "pubmed26n0001.xml.gz"
    write_pubmed_baseline(path, seed=0, n_articles=80, n_deleted=3)
    raw = gzip.decompress(path.read_bytes()).decode("utf-8")
    articles = ET.fromstring(raw.encode("utf-8")).findall("PubmedArticle")
    expected = []  # (title, [abstract paragraphs]) of articles with an abstract, read independently
    for article in articles:
        parts = article.findall("MedlineCitation/Article/Abstract/AbstractText")
        if parts:
            paragraphs = [(f"{p.get('Label')}: " if p.get("Label") else "") + squash(p) for p in parts]
            expected.append((squash(article.find("MedlineCitation/Article/ArticleTitle")), paragraphs))
    assert 0 < len(expected) < len(articles)  # the generator makes some title-only citations

    skips = SkipReport()
    docs = read(path, skips)
    assert len(docs) == len(expected)
    assert skips.counts == {"no_abstract": len(articles) - len(expected)}
    assert [d.text.split("\n") for d in docs] == [[title, *paragraphs] for title, paragraphs in expected]
    structured = [d for d in docs if d.text.split("\n")[1].startswith("BACKGROUND: ")]
    assert structured, "seed 0 has BACKGROUND/METHODS/RESULTS/CONCLUSIONS abstracts"
    labels = [line.split(":")[0] for line in structured[0].text.split("\n")[1:]]
    assert labels == ["BACKGROUND", "METHODS", "RESULTS", "CONCLUSIONS"]
    lines = raw.split("\n")
    assert all(lines[d.line - 1].strip() == "<PubmedArticle>" for d in docs)
    joined = "\n".join(d.text for d in docs)
    assert "<i>" not in joined and "&lt;" not in joined and "&amp;" not in joined and "  " not in joined
    assert "Copyright" not in joined and "Published by" not in joined  # CopyrightInformation is not abstract


def test_pubmed_malformed_article_is_one_skip_and_reading_resumes(tmp_path: Path) -> None:
    broken = _ARTICLE_PLAIN.replace("One paragraph, &amp;", f"One paragraph & {SECRET}")  # bare "&"
    articles = [_ARTICLE_WITH_MARKUP, broken, _ARTICLE_PLAIN, _ARTICLE_TITLE_ONLY, _ARTICLE_WITH_MARKUP]
    xml = _HEAD + "".join(articles) + _TAIL
    path = tmp_path / "pubmed26n0002.xml"
    path.write_text(xml, encoding="utf-8")
    skips = SkipReport()
    docs = read(path, skips)
    # The articles after the broken one are read, at their own lines (they were all lost before).
    markup_title = "Effect of in vivo dosing on Ca2+ flux."
    assert [d.text.split("\n")[0] for d in docs] == [markup_title, "Plain abstracts.", markup_title]
    assert [d.line for d in docs] == [line_of(xml, "<PubmedArticle>", n) for n in (1, 3, 5)]
    assert skips.counts == {"malformed_xml": 1, "no_abstract": 1}
    assert skips.examples["malformed_xml"] == [f"{path}:{line_of(xml, SECRET)}"]
    assert SECRET not in json.dumps(skips.as_dict())

    with pytest.raises(InputError) as error:
        read(path, SkipReport(strict=True))
    message = str(error.value)
    assert f"{path}:{line_of(xml, SECRET)}" in message and "malformed_xml" in message
    assert SECRET not in message


def test_wikipedia_reading_resumes_after_a_broken_page(tmp_path: Path) -> None:
    xml = _tiny_dump()
    first_page = xml.index("  <page>")
    broken = xml[:first_page] + "  <page><title>Broken & page</title></page>\n" + xml[first_page:]
    path = tmp_path / "enwiki-20260101-pages-articles1.xml"
    path.write_text(broken, encoding="utf-8")
    skips = SkipReport()
    docs = read(path, skips)
    assert [d.text.split("\n")[0] for d in docs] == ["Fooitis"]
    assert docs[0].line == line_of(broken, "<page>", 2)
    assert skips.counts["malformed_xml"] == 1 and skips.counts["redirect"] == 2


def test_pubmed_truncated_file_is_one_skip(tmp_path: Path) -> None:
    xml = _HEAD + _ARTICLE_PLAIN + _ARTICLE_WITH_MARKUP
    cut = xml.index("<AbstractText Label=\"RESULTS\"")  # the file ends inside the second article
    path = tmp_path / "pubmed26n0003.xml.gz"
    path.write_bytes(gzip.compress(xml[:cut].encode("utf-8")))
    skips = SkipReport()
    docs = read(path, skips)
    assert [d.text for d in docs] == ["Plain abstracts.\nOne paragraph, & E. coli in it."]
    assert skips.counts == {"malformed_xml": 1}
    assert skips.examples["malformed_xml"] == [f"{path}:{xml[:cut].count(chr(10)) + 1}"]


# --- Wikipedia ---------------------------------------------------------------------------------

_WIKI_ARTICLE = f"""{{{{Short description|Disease}}}}
{{{{Infobox medical condition
| name  = Fooitis
| field = [[Cardiology]]
}}}}
'''Fooitis''' (also ''foo disease'') is a [[Inflammation|swelling]] of the [[foo]].<ref name="a">
{{{{cite journal |title=Old paper}}}}</ref> It is rare.<ref>{SECRET} wrote a citation.</ref><ref name="a"/>

== Signs and symptoms ==
[[File:Fooitis.jpg|thumb|A [[foo]] caption]]
* Pain in the [[foo]]
* Fever &amp; chills
# Fatigue

{{| class="wikitable"
|+ Stages
! Stage !! Text
|-
| I || tablecell
|}}
<!-- hidden comment -->
=== Treatment ===
Rest.   Fluids. See [https://example.org the guideline].
__NOTOC__
[[Category:Rare diseases]]
[[Image:Other.png]]
"""


def _page(title: str, ns: int, text: str, redirect: str | None = None) -> str:
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    redirect_tag = f'    <redirect title="{redirect}" />\n' if redirect else ""
    return (f"  <page>\n    <title>{title}</title>\n    <ns>{ns}</ns>\n    <id>1</id>\n{redirect_tag}"
            f"    <revision>\n      <id>2</id>\n      <model>wikitext</model>\n"
            f'      <text bytes="{len(text)}" xml:space="preserve">{escaped}</text>\n'
            "    </revision>\n  </page>\n")


def _tiny_dump() -> str:
    # export-0.10: the reader must not depend on the namespace version
    return ('<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10" xml:lang="en">\n'
            "  <siteinfo>\n    <sitename>Wikipedia</sitename>\n  </siteinfo>\n"
            + _page("Fooitis", 0, _WIKI_ARTICLE)
            + _page("Foo disease", 0, "#REDIRECT [[Fooitis]]\n\n{{R from alternative name}}\n",
                    redirect="Fooitis")
            + _page("Foo illness", 0, "#redirect [[Fooitis]]\n")  # no <redirect> element, lower case
            + _page("Foo", 0, "'''Foo''' may refer to:\n* [[Fooitis]], a disease\n\n{{Disambiguation|med}}\n")
            + _page("Smith", 0, "'''Smith''' is a surname.\n* [[John Smith]]\n{{hndis}}\n")
            + _page("Category:Rare diseases", 14, "Articles about rare diseases.\n")
            + _page("Stubitis", 0, "{{Medical stub}}\n[[Category:Stubs]]\n")
            + "</mediawiki>\n")


def test_wikipedia_hand_written_dump_exact_text_and_skips(tmp_path: Path) -> None:
    xml = _tiny_dump()
    path = tmp_path / "enwiki-20260101-pages-articles1.xml.bz2"
    path.write_bytes(bz2.compress(xml.encode("utf-8")))
    skips = SkipReport()
    docs = read(path, skips)
    assert [d.text for d in docs] == [
        "Fooitis\n"
        "Fooitis (also foo disease) is a swelling of the foo. It is rare.\n"
        "Signs and symptoms\n"
        "Pain in the foo\n"
        "Fever & chills\n"
        "Fatigue\n"
        "Treatment\n"
        "Rest. Fluids. See the guideline."
    ]
    page_lines = [line_of(xml, "<page>", i) for i in range(1, 8)]
    assert docs[0].line == page_lines[0]
    assert skips.counts == {"redirect": 2, "disambiguation": 2, "not_article_namespace": 1,
                            "empty_document": 1}
    assert skips.examples == {
        "redirect": [f"{path}:{page_lines[1]}", f"{path}:{page_lines[2]}"],
        "disambiguation": [f"{path}:{page_lines[3]}", f"{path}:{page_lines[4]}"],
        "not_article_namespace": [f"{path}:{page_lines[5]}"],
        "empty_document": [f"{path}:{page_lines[6]}"],
    }
    assert SECRET not in json.dumps(skips.as_dict())  # the <ref> text is dropped, and never reported
    plain = tmp_path / "dump.xml"  # any name works with an explicit format
    plain.write_text(xml.replace("export-0.10/", "export-0.11/"), encoding="utf-8")
    assert [d.text for d in read(plain, fmt="wikipedia")] == [d.text for d in docs]


def test_wikipedia_synthetic_dump(tmp_path: Path) -> None:
    path = tmp_path / "enwiki-20260101-pages-articles1.xml.bz2"
    write_wikipedia_dump(path, seed=0, n_pages=120)
    raw = bz2.decompress(path.read_bytes()).decode("utf-8")
    pages = ET.fromstring(raw.encode("utf-8")).findall(f"{MW}page")
    kinds: dict[str, list[ET.Element]] = {"redirect": [], "not_article_namespace": [], "disambiguation": [],
                                          "article": []}
    for page in pages:  # classified independently of the reader
        text = page.findtext(f"{MW}revision/{MW}text") or ""
        if page.findtext(f"{MW}ns") != "0":
            kinds["not_article_namespace"].append(page)
        elif page.find(f"{MW}redirect") is not None:
            kinds["redirect"].append(page)
        elif text.rstrip().endswith("{{disambiguation}}"):
            kinds["disambiguation"].append(page)
        else:
            kinds["article"].append(page)
    assert all(kinds.values()), {k: len(v) for k, v in kinds.items()}

    skips = SkipReport()
    docs = read(path, skips)
    assert skips.counts == {k: len(v) for k, v in kinds.items() if k != "article"}
    assert [d.text.split("\n")[0] for d in docs] == [p.findtext(f"{MW}title") for p in kinds["article"]]
    lines = raw.split("\n")
    assert all(lines[d.line - 1].strip() == "<page>" for d in docs)

    joined = "\n".join(d.text for d in docs)
    for markup in ("[[", "]]", "{{", "}}", "'''", "''", "<ref", "</ref", "|}", "{|", "|-", "<!--", "thumb|",
                   "Category:", "File:", "&lt;", "&amp;", "&quot;", "\n* ", "\n== ", "cite journal", "  "):
        assert markup not in joined, markup
    aliased = 0
    for doc, page in zip(docs, kinds["article"], strict=True):
        wikitext = page.findtext(f"{MW}revision/{MW}text") or ""
        body = doc.text.split("\n")
        for heading in (line.strip("= ") for line in wikitext.split("\n") if line.startswith("==")):
            assert heading in body, heading  # headings kept, each on its own line
        # The lead links "rare disease", sometimes as [[Other topic|rare disease]]: the alias is shown.
        assert " is a rare disease of the " in body[1]
        link = wikitext[wikitext.index("is a [[") + len("is a [["):]
        target, bar, _ = link[: link.index("]]")].partition("|")
        if bar:
            aliased += 1
            assert f"is a {target}" not in doc.text
    assert aliased


def test_strict_does_not_turn_filtered_pages_into_errors(tmp_path: Path) -> None:
    path = tmp_path / "enwiki-20260101-pages-articles1.xml.bz2"
    write_wikipedia_dump(path, seed=3, n_pages=60)
    skips = SkipReport(strict=True)
    documents = list(read_documents(path, skips=skips))
    assert documents and skips.counts["redirect"] > 0
    assert {"redirect", "disambiguation"} <= set(skips.as_dict()["by_design"])
