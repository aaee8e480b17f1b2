"""A synthetic PubMed/MEDLINE baseline file (pubmedYYnNNNN.xml.gz) with the quirks real ones have.

Readers of the real baseline must handle: structured abstracts (several labelled AbstractText
elements), articles with no Abstract at all, inline markup inside text (<i>, <sup>, <sub>),
escaped characters (&amp; &lt; &gt;), non-ASCII (β, ±, °C, µ) and trailing DeleteCitation blocks.
All titles, authors, journals and PMIDs are invented.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

from gatortron_common.logging import get_logger
from synthetic import lexicon as lx
from synthetic.output import open_text_output
from synthetic.text import Dice, Prose, WordStream

log = get_logger(__name__)

_STREAM_PUBMED = 1
_DOCTYPE = ('<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN" '
            '"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">')
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Ready-made XML *source* fragments (already escaped, some with inline markup) spliced into text.
_FRAGMENTS = (
    "<i>Escherichia coli</i>", "<i>Staphylococcus aureus</i>", "<i>in vitro</i>", "<i>in vivo</i>",
    "CD4<sup>+</sup> T cells", "Ca<sup>2+</sup>", "HbA<sub>1c</sub>", "PaCO<sub>2</sub>",
    "10<sup>\u22126</sup>", "\u03c7<sup>2</sup> test", "(p &lt; 0.001)", "(P &lt; .05)",
    "patients aged &gt;65 years", "IL-6 &amp; TNF-\u03b1", "\u03b2-blocker", "mean \u00b1 SD",
    "37 \u00b0C", "\u226518 years", "95% CI 1.21\u20133.40", "12 \u00b5g/mL", "Sj\u00f6gren syndrome",
    "research &amp; development", "Na<sup>+</sup>/K<sup>+</sup>-ATPase", "T<sub>max</sub>",
    "\u03b1-synuclein", "Cr\u00e8me", "na\u00efve", "&quot;real-world&quot;",
)
_OPENERS = (
    "We investigated", "This study aimed to evaluate", "In this retrospective cohort,",
    "We conducted a randomized trial of", "These findings suggest", "Our results indicate",
    "Compared with controls,", "Patients with", "The association between", "We report",
    "To our knowledge,", "In multivariable analysis,", "Further studies of",
)
_STRUCTURED = (
    (("BACKGROUND", "BACKGROUND"), ("METHODS", "METHODS"), ("RESULTS", "RESULTS"),
     ("CONCLUSIONS", "CONCLUSIONS")),
    (("OBJECTIVE", "OBJECTIVE"), ("DESIGN", "METHODS"), ("SETTING", "METHODS"),
     ("PARTICIPANTS", "METHODS"), ("RESULTS", "RESULTS"), ("CONCLUSION", "CONCLUSIONS")),
    (("PURPOSE", "OBJECTIVE"), ("METHODS", "METHODS"), ("RESULTS", "RESULTS"),
     ("CONCLUSIONS", "CONCLUSIONS")),
    (("INTRODUCTION", "BACKGROUND"), ("MATERIALS AND METHODS", "METHODS"), ("RESULTS", "RESULTS"),
     ("DISCUSSION", "CONCLUSIONS")),
)
_JOURNAL_WORDS = ("Journal", "Annals", "Archives", "Reviews", "Reports", "Advances")
_FIELDS = ("Clinical Medicine", "Cardiology", "Nephrology", "Internal Medicine", "Oncology",
           "Pulmonary and Critical Care", "Medical Informatics", "Gastroenterology", "Neurology")
# Real MeSH check tags (descriptor UI, name); topical headings are invented from pseudo-terms.
_CHECK_TAGS = (("D006801", "Humans"), ("D008297", "Male"), ("D005260", "Female"), ("D000368", "Aged"),
               ("D008875", "Middle Aged"), ("D000328", "Adult"), ("D012189", "Retrospective Studies"),
               ("D016896", "Treatment Outcome"), ("D012307", "Risk Factors"))
_QUALIFIERS = ("drug therapy", "diagnosis", "epidemiology", "therapy", "complications", "pathology",
               "etiology", "mortality", "physiopathology", "diagnostic imaging")


class _ArticleMaker:
    def __init__(self, seed: int) -> None:
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.rng = np.random.default_rng([seed, _STREAM_PUBMED])
        self.dice = Dice(self.rng)
        self.words = WordStream(self.rng, term_fraction=0.25)
        self.prose = Prose(self.dice, self.words, _OPENERS, opener_rate=0.3, min_words=8, max_words=24)

    def text(self, n_sentences: int) -> str:
        """Escaped XML text: sentences with occasional markup/non-ASCII fragments and statistics."""
        d = self.dice
        out = []
        for _ in range(n_sentences):
            tokens = self.prose.sentence_words()
            if d.chance(0.35):
                tokens.insert(d.below(len(tokens) - 1) + 1, d.choice(_FRAGMENTS))
            if d.chance(0.2):
                tokens[-1] = tokens[-1][:-1]
                tokens.append(f"(OR {d.uniform(0.3, 4.5):.2f}; 95% CI {d.uniform(0.1, 0.9):.2f}\u2013"
                              f"{d.uniform(1.1, 6.0):.2f}; P = .{d.between(1, 49):03d}).")
            # Generated words are plain letters; escaping them is a no-op kept for safety.
            out.append(" ".join(t if t in _FRAGMENTS else escape(t) for t in tokens))
        return " ".join(out)

    def title(self) -> str:
        d = self.dice
        terms = self.words.terms(d.between(1, 3))
        head = d.choice(("Association of", "Effect of", "Outcomes of", "Risk of", "A randomized trial of",
                         "Role of", "Prevalence of", "Machine learning prediction of"))
        mid = d.choice(lx.CONDITIONS)
        title = f"{head} {' '.join(terms)} in patients with {escape(mid)}"
        if d.chance(0.2):
            title += f": {d.choice(_FRAGMENTS)}"
        if d.chance(0.15):
            title += f" - a {d.choice(('cohort', 'case-control', 'cross-sectional'))} study"
        return title + "."

    def abstract(self, indent: str) -> list[str]:
        d = self.dice
        u = d.random()
        if u < 0.10:
            return []  # ~10% of citations (letters, comments, old records) have no abstract
        lines = [f"{indent}<Abstract>"]
        if u < 0.45:
            for label, category in d.choice(_STRUCTURED):
                lines.append(f'{indent}  <AbstractText Label="{label}" NlmCategory="{category}">'
                             f"{self.text(d.between(1, 4))}</AbstractText>")
        else:
            lines.append(f"{indent}  <AbstractText>{self.text(d.between(3, 10))}</AbstractText>")
        if d.chance(0.2):
            lines.append(f"{indent}  <CopyrightInformation>\u00a9 {d.between(2000, 2025)} The Authors. "
                         f"Published by Elsevier Inc. &amp; the Society.</CopyrightInformation>")
        lines.append(f"{indent}</Abstract>")
        return lines

    def authors(self, indent: str) -> list[str]:
        d = self.dice
        lines = [f'{indent}<AuthorList CompleteYN="Y">']
        for _ in range(d.between(1, 8)):
            first, last = d.choice(lx.FIRST_NAMES), d.choice(lx.LAST_NAMES)
            city, state, _zip = d.choice(lx.CITIES)
            lines += [
                f'{indent}  <Author ValidYN="Y">',
                f"{indent}    <LastName>{escape(last)}</LastName>",
                f"{indent}    <ForeName>{escape(first)}</ForeName>",
                f"{indent}    <Initials>{first[0]}</Initials>",
                f"{indent}    <AffiliationInfo>",
                f"{indent}      <Affiliation>Department of {d.choice(_FIELDS)}, University of "
                f"{city}, {city}, {state}, USA.</Affiliation>",
                f"{indent}    </AffiliationInfo>",
                f"{indent}  </Author>",
            ]
        if d.chance(0.1):
            lines.append(f'{indent}  <Author ValidYN="Y"><CollectiveName>{d.choice(_FIELDS)} '
                         f"Outcomes Study Group</CollectiveName></Author>")
        lines.append(f"{indent}</AuthorList>")
        return lines

    def mesh(self, indent: str) -> list[str]:
        d = self.dice
        lines = [f"{indent}<MeshHeadingList>"]
        for ui, name in d.sample(_CHECK_TAGS, d.between(1, 4)):
            lines.append(f'{indent}  <MeshHeading><DescriptorName UI="{ui}" MajorTopicYN="N">{name}'
                         f"</DescriptorName></MeshHeading>")
        for term in self.words.terms(d.between(1, 4)):
            ui = f"D{d.between(0, 99999):06d}"
            lines.append(f"{indent}  <MeshHeading>")
            major = "Y" if d.chance(0.4) else "N"
            lines.append(f'{indent}    <DescriptorName UI="{ui}" MajorTopicYN="{major}">'
                         f"{escape(term.capitalize())}</DescriptorName>")
            if d.chance(0.5):
                lines.append(f'{indent}    <QualifierName UI="Q{d.between(0, 999999):06d}" MajorTopicYN="N">'
                             f"{d.choice(_QUALIFIERS)}</QualifierName>")
            lines.append(f"{indent}  </MeshHeading>")
        lines.append(f"{indent}</MeshHeadingList>")
        return lines

    def article(self, pmid: int) -> str:
        d = self.dice
        year = d.between(1995, 2025)
        month = d.between(1, 12)
        volume, issue, start = d.between(1, 120), d.between(1, 12), d.between(1, 2400)
        field = d.choice(_FIELDS)
        journal = f"{d.choice(_JOURNAL_WORDS)} of {field}"
        iso = " ".join(w[:4] + "." if len(w) > 4 else w for w in journal.split() if w not in ("of", "and"))
        issn = f"{d.between(1000, 9999)}-{d.between(100, 999)}{d.choice('0123456789X')}"
        doi = f"10.{d.between(1000, 9999)}/j.{field.split()[0].lower()}.{year}.{d.between(1, 99999):05d}"
        a = "      "
        lines = [
            "  <PubmedArticle>",
            '    <MedlineCitation Status="MEDLINE" Owner="NLM">',
            f'      <PMID Version="1">{pmid}</PMID>',
            f"      <DateCompleted><Year>{year}</Year><Month>{month:02d}</Month>"
            f"<Day>{d.between(1, 28):02d}</Day></DateCompleted>",
            f"      <DateRevised><Year>{min(year + d.between(1, 5), 2025)}</Year>"
            f"<Month>{d.between(1, 12):02d}</Month><Day>{d.between(1, 28):02d}</Day></DateRevised>",
            '      <Article PubModel="Print">',
            "        <Journal>",
            f'          <ISSN IssnType="Print">{issn}</ISSN>',
            '          <JournalIssue CitedMedium="Print">',
            f"            <Volume>{volume}</Volume>",
            f"            <Issue>{issue}</Issue>",
            f"            <PubDate><Year>{year}</Year><Month>{_MONTHS[month - 1]}</Month></PubDate>",
            "          </JournalIssue>",
            f"          <Title>{journal}</Title>",
            f"          <ISOAbbreviation>{iso}</ISOAbbreviation>",
            "        </Journal>",
            f"        <ArticleTitle>{self.title()}</ArticleTitle>",
            f"        <Pagination><StartPage>{start}</StartPage><EndPage>{start + d.between(3, 14)}</EndPage>"
            "</Pagination>",
            f'        <ELocationID EIdType="doi" ValidYN="Y">{doi}</ELocationID>',
            *self.abstract(a + "  "),
            *self.authors(a + "  "),
            "        <Language>eng</Language>",
            '        <PublicationTypeList><PublicationType UI="D016428">Journal Article</PublicationType>'
            "</PublicationTypeList>",
            "      </Article>",
            f"      <MedlineJournalInfo><Country>United States</Country><MedlineTA>{iso}</MedlineTA>"
            f"<NlmUniqueID>{d.between(1000000, 9999999)}</NlmUniqueID><ISSNLinking>{issn}</ISSNLinking>"
            "</MedlineJournalInfo>",
            "      <CitationSubset>IM</CitationSubset>",
            *self.mesh(a),
            "    </MedlineCitation>",
            "    <PubmedData>",
            "      <History>",
            f'        <PubMedPubDate PubStatus="pubmed"><Year>{year}</Year><Month>{month}</Month>'
            f"<Day>{d.between(1, 28)}</Day></PubMedPubDate>",
            "      </History>",
            "      <PublicationStatus>ppublish</PublicationStatus>",
            "      <ArticleIdList>",
            f'        <ArticleId IdType="pubmed">{pmid}</ArticleId>',
            f'        <ArticleId IdType="doi">{doi}</ArticleId>',
            "      </ArticleIdList>",
            "    </PubmedData>",
            "  </PubmedArticle>",
        ]
        return "\n".join(lines) + "\n"


def write_pubmed_baseline(path: str | Path, seed: int, n_articles: int, n_deleted: int = 0) -> int:
    """Write a gzip PubMed baseline-style XML file with `n_articles` citations; returns that count.

    `n_deleted` > 0 appends a DeleteCitation block (as update files have) listing that many PMIDs
    that are not in the file. The path should end in `.xml.gz`; gzip is written with mtime=0 so
    the same (seed, n_articles) gives byte-identical files.
    """
    maker = _ArticleMaker(seed)
    pmid = 10_000_000 + maker.dice.below(20_000_000)
    with open_text_output(path) as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        out.write(_DOCTYPE + "\n")
        out.write("<PubmedArticleSet>\n")
        for _ in range(n_articles):
            out.write(maker.article(pmid))
            pmid += maker.dice.between(1, 3)
        if n_deleted > 0:
            out.write("  <DeleteCitation>\n")
            for _ in range(n_deleted):
                out.write(f'    <PMID Version="1">{maker.dice.between(1_000_000, 9_999_999)}</PMID>\n')
            out.write("  </DeleteCitation>\n")
        out.write("</PubmedArticleSet>\n")
    log.info("wrote %d PubMed citations to %s", n_articles, path)
    return n_articles
