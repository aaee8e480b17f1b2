"""PubMed baseline/update XML and MediaWiki `pages-articles` dumps as `TextRecord`s.

Both formats stream with ElementTree's pull parser (what iterparse runs on) and drop each record
from the tree once read, so memory stays flat on 100k-article files. TextRecord.line is the line
of the record's start tag: iterparse does not tell lines, so the byte stream is fed in pieces
cut after each line that holds a record start tag, and events read after a piece are tied to
that line (see _xml_pieces). Malformed XML is one `malformed_xml` skip at the parser's error
line; reading resumes at the next record start tag after it.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from gatortron_common.logging import SkipReport
from gatortron_common.readers import TextRecord, open_binary

if TYPE_CHECKING:
    from mwparserfromhell.nodes import Wikilink
    from mwparserfromhell.wikicode import Wikicode

_XML_BLOCK = 1 << 20


def _xml_pieces(handle: BinaryIO, start_tag: re.Pattern[bytes]) -> Iterator[tuple[bytes, int, int]]:
    """The stream in pieces, each ending at the end of a line holding `start_tag` (or at a block end).

    Yields (piece, line of its first byte, line of the last `start_tag` fed so far). A record's
    start event comes out of the parser right after the piece holding its start tag, so it gets
    that tag's line. A match inside a comment or CDATA only adds a cut; the real start tag after
    it still sets the line.
    """
    line, tag_line = 1, 1  # line of the next piece's first byte; line of the last start tag
    while block := handle.read(_XML_BLOCK):
        if not block.endswith(b"\n"):
            block += handle.readline(_XML_BLOCK)  # whole lines, but bounded on one-line files
        start = 0
        for found in start_tag.finditer(block):
            if found.start() < start:
                continue  # another record on a line already fed: same line
            tag_line = line + block.count(b"\n", start, found.start())
            end = block.find(b"\n", found.end()) + 1 or len(block)
            yield block[start:end], line, tag_line
            line += block.count(b"\n", start, end)
            start = end
        if start < len(block):
            yield block[start:], line, tag_line
            line += block.count(b"\n", start)


class _RecordParser:
    """A pull parser that hands out each complete child of the root whose local name is `record`.

    Args:
        record: the record's local name.
        root_tag: for a parser resumed after malformed XML, the root's tag (as ElementTree writes
            it, "{namespace}name" or "name"): its start tag is fed first, standing in for the
            file's own, so the records that follow parse as before.
        first_line: the file's line where this parser's input starts (error lines are made absolute).
    """

    def __init__(self, record: str, root_tag: str | None = None, first_line: int = 1) -> None:
        self.parser = ET.XMLPullParser(events=("start", "end"))
        # expat >= 2.6 may defer parsing a growing token; flush (Python >= 3.12.3) keeps events per piece.
        self.flush = getattr(self.parser, "flush", None)
        self.record, self.suffix = record, "}" + record  # namespace-agnostic, e.g. "{...export-0.11/}page"
        self.root: ET.Element | None = None
        self.depth, self.record_line, self.first_line = 0, 0, first_line
        if root_tag is not None:
            namespace, local = root_tag[1:].split("}", 1) if root_tag.startswith("{") else ("", root_tag)
            declaration = f' xmlns="{namespace}"' if namespace else ""
            list(self.feed(f"<{local}{declaration}>".encode(), first_line))  # no newline: lines stay

    def feed(self, piece: bytes, tag_line: int) -> Iterator[tuple[ET.Element, int]]:
        """The records completed by `piece`. Raises ET.ParseError after the records before the error."""
        self.parser.feed(piece)
        if self.flush is not None:
            self.flush()
        yield from self._records(tag_line)

    def close(self) -> Iterator[tuple[ET.Element, int]]:
        self.parser.close()  # raises on a truncated document
        yield from self._records(self.record_line)

    def error_line(self, error: ET.ParseError) -> int:
        return self.first_line + error.position[0] - 1

    def _records(self, tag_line: int) -> Iterator[tuple[ET.Element, int]]:
        for event, element in self.parser.read_events():
            if event == "start":
                self.depth += 1
                if self.depth == 1:
                    self.root = element
                elif self.depth == 2:
                    self.record_line = tag_line
                continue
            self.depth -= 1
            if self.depth == 1 and self.root is not None:
                if element.tag == self.record or element.tag.endswith(self.suffix):
                    yield element, self.record_line
                self.root.remove(element)  # done with it (records and e.g. DeleteCitation alike)


def _read_xml_records(path: Path, record: str, skips: SkipReport) -> Iterator[tuple[ET.Element, int]]:
    """Each complete `record` child of the root of a file, with its start line. Malformed XML is
    one `malformed_xml` skip at the parser's error line; reading resumes at the first record start
    tag on a later line (a fresh parser, the root's start tag fed first), so one broken article
    does not cost the rest of the file."""
    start_tag = re.compile(rb"<(?:[\w.-]+:)?" + re.escape(record.encode("ascii")) + rb"[\s/>]")
    parser = _RecordParser(record)
    root_tag: str | None = None
    broken = False  # after an error: looking for the next record start tag
    resumed_at = -1  # file offset of the last resume point: each resume moves forward
    offset = 0  # file offset of the current piece
    with open_binary(path) as handle:
        for piece, first_line, tag_line in _xml_pieces(handle, start_tag):
            start = 0  # where in the piece to feed from
            while True:
                if broken:
                    found = _next_start(piece, start, resumed_at - offset, start_tag)
                    if found is None:
                        break
                    parser = _RecordParser(record, root_tag, first_line + piece.count(b"\n", 0, found))
                    start, resumed_at, broken = found, offset + found, False
                error_line = None
                try:
                    yield from parser.feed(piece[start:], tag_line)
                except ET.ParseError as error:
                    error_line = parser.error_line(error)
                if error_line is None:
                    break
                # Outside the except block: under strict, the InputError chains no parser message.
                skips.skip("malformed_xml", str(path), error_line)
                root_tag = root_tag or (parser.root.tag if parser.root is not None else None)
                if root_tag is None:
                    return  # broken before the root element: nothing to resume in
                broken, start = True, _after_line(piece, error_line - first_line + 1)
            offset += len(piece)
    if broken:
        return
    error_line = None
    try:
        yield from parser.close()
    except ET.ParseError as error:
        error_line = parser.error_line(error)
    if error_line is not None:
        skips.skip("malformed_xml", str(path), error_line)


def _after_line(piece: bytes, lines: int) -> int:
    """Offset in `piece` after its first `lines` lines (0 for none, the end when it has fewer)."""
    cut = 0
    for _ in range(lines):
        cut = piece.find(b"\n", cut) + 1
        if cut == 0:
            return len(piece)
    return cut


def _next_start(piece: bytes, start: int, after: int, start_tag: re.Pattern[bytes]) -> int | None:
    """Offset of the first record start tag in `piece` at or after `start` and beyond `after`."""
    found = start_tag.search(piece, max(start, after + 1))
    return found.start() if found else None


# --- PubMed ------------------------------------------------------------------------------------


def read_pubmed(path: Path, skips: SkipReport) -> Iterator[TextRecord]:
    # Title-only citations (letters, comments, old records) carry too little text for sentence
    # pairs, so they are skipped; DeleteCitation blocks of update files are not articles.
    source = str(path)
    for article, line in _read_xml_records(path, "PubmedArticle", skips):
        text = _pubmed_text(article)
        if text is None:
            skips.skip("no_abstract", source, line, by_design=True)
        else:
            yield TextRecord(text, source, line)


def _pubmed_text(article: ET.Element) -> str | None:
    """ArticleTitle, then one line per AbstractText ("LABEL: text" when labelled); None without abstract."""
    citation = article.find("MedlineCitation/Article")
    if citation is None:
        return None
    paragraphs = []
    for part in citation.iterfind("Abstract/AbstractText"):
        text = _element_text(part)
        if text:
            label = " ".join((part.get("Label") or "").split())
            paragraphs.append(f"{label}: {text}" if label else text)
    if not paragraphs:
        return None
    title = _element_text(citation.find("ArticleTitle"))
    return "\n".join([title, *paragraphs] if title else paragraphs)


def _element_text(element: ET.Element | None) -> str:
    # itertext keeps the text of inline markup (<i>, <sup>, MathML) and the text after it.
    return " ".join("".join(element.itertext()).split()) if element is not None else ""


# --- Wikipedia ---------------------------------------------------------------------------------

# Template names (lower case) that mark disambiguation and set index pages; any "... disambiguation"
# template (e.g. "hospital disambiguation") counts too.
_DISAMBIGUATION_TEMPLATES = frozenset({
    "disambiguation", "disambig", "disamb", "dab", "dis", "hndis", "geodis", "numberdis", "set index",
    "set index article", "sia", "surname", "given name",
})
_DROPPED_LINK_NAMESPACES = frozenset({"file", "image", "category"})
# Tags whose content is no running text: citations, reference lists, tables, galleries.
_DROPPED_TAGS = frozenset({"ref", "references", "table", "gallery", "imagemap", "timeline", "math"})
_BEHAVIOR_SWITCH = re.compile(r"__[A-Z]+__")  # __NOTOC__ etc.: the parser leaves them as text
_BOLD_ITALIC = re.compile(r"'{2,}")  # ''italic'', '''bold''': left as text by skip_style_tags


def read_wikipedia(path: Path, skips: SkipReport) -> Iterator[TextRecord]:
    import mwparserfromhell  # only this format needs it

    source = str(path)
    for page, line in _read_xml_records(path, "page", skips):
        ns = page.tag[: -len("page")]  # "{...export-0.11/}" or ""
        if (page.findtext(f"{ns}ns") or "0").strip() != "0":
            skips.skip("not_article_namespace", source, line, by_design=True)
            continue
        revisions = page.findall(f"{ns}revision")  # pages-articles has one; history dumps many
        wikitext = (revisions[-1].findtext(f"{ns}text") if revisions else None) or ""
        if page.find(f"{ns}redirect") is not None or wikitext.lstrip()[:9].upper() == "#REDIRECT":
            skips.skip("redirect", source, line, by_design=True)
            continue
        # Style parsing is a third of parse time and backtracks badly on unbalanced quotes; the
        # quote runs are removed from the plain text instead.
        code = mwparserfromhell.parse(wikitext, skip_style_tags=True)
        if _is_disambiguation(code):
            skips.skip("disambiguation", source, line, by_design=True)
            continue
        body = _wikicode_to_text(code)
        title = " ".join((page.findtext(f"{ns}title") or "").split())
        # An empty body yields an empty document so the generic check counts it as empty_document.
        yield TextRecord(f"{title}\n{body}" if body else "", source, line)


def _template_name(name: object) -> str:
    name = " ".join(str(name).replace("_", " ").split()).lower()
    return name.removeprefix("template:").strip()


def _is_disambiguation(code: Wikicode) -> bool:
    # Top level only: the marker template sits there, a mention inside another template does not count.
    for template in code.ifilter_templates(recursive=False):
        name = _template_name(template.name)
        if name in _DISAMBIGUATION_TEMPLATES or name.endswith(" disambiguation"):
            return True
    return False


def _wikicode_to_text(code: Wikicode) -> str:
    """Plain text: link display text kept, headings and list items on their own lines, no markup."""
    _drop_nodes(code)
    text = code.strip_code(normalize=True, collapse=True)
    text = _BOLD_ITALIC.sub("", _BEHAVIOR_SWITCH.sub(" ", text))
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _drop_nodes(code: Wikicode) -> None:
    """Remove citations, tables and File:/Category: links, which strip_code would keep.

    strip_code drops templates and comments and keeps link display text, but it keeps the text of
    <ref> and table cells and renders [[File:x|thumb|caption]] / [[Category:X]] as text. This walks
    what strip_code would render (tag contents, link text, headings, external link titles) and
    deletes those nodes from their parent in one pass (Wikicode.remove searches the tree per node).
    """
    from mwparserfromhell.nodes import ExternalLink, Heading, Tag, Wikilink

    kept = []
    for node in code.nodes:
        if isinstance(node, Tag):
            if str(node.tag).strip().lower() in _DROPPED_TAGS:
                continue
            if node.contents is not None:
                _drop_nodes(node.contents)
        elif isinstance(node, Wikilink):
            if _link_namespace(node) in _DROPPED_LINK_NAMESPACES:
                continue
            if node.text is not None:
                _drop_nodes(node.text)
        elif isinstance(node, Heading):
            _drop_nodes(node.title)
        elif isinstance(node, ExternalLink) and node.title is not None:
            _drop_nodes(node.title)
        kept.append(node)
    if len(kept) != len(code.nodes):
        code.nodes = kept


def _link_namespace(link: Wikilink) -> str:
    title = str(link.title)
    return title.partition(":")[0].strip().lower() if ":" in title else ""
