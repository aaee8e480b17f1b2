"""One reader abstraction for every text corpus format the chain consumes.

`read_documents(path)` yields `Document`s (text + where it came from) from plain text
(documents separated by blank lines), JSONL (one object per line, text under a key),
notes CSV/TSV (text in a column, fields may span lines and be huge), PubMed baseline/update
XML (title + abstract per article) and MediaWiki `pages-articles` dumps (wikitext converted to
plain text), optionally compressed (.gz, .bz2, .xz). Bad or unwanted records are counted in a
`SkipReport` by reason and `file:line`, never shown. The tokenizer and data_prep stages both read
through here.
"""

from __future__ import annotations

import bz2
import csv
import glob
import gzip
import json
import lzma
import os
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TextIO

from gatortron_common.logging import InputError, SkipReport, get_logger

if TYPE_CHECKING:
    from mwparserfromhell.nodes import Wikilink
    from mwparserfromhell.wikicode import Wikicode

logger = get_logger(__name__)

TEXT_FORMATS = ("text", "jsonl", "csv", "tsv", "pubmed", "wikipedia")
_COMPRESSED = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
_BY_SUFFIX = {".txt": "text", ".text": "text", ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl",
              ".csv": "csv", ".tsv": "tsv"}
# Undecodable bytes survive decoding as lone surrogates (errors="surrogateescape").
_UNDECODABLE = re.compile("[\udc80-\udcff]")
_BLANK_LINES = re.compile(r"\n(?:[ \t\r\f\v]*\n)+")
_READ_CHARS = 1 << 22
_XML_BLOCK = 1 << 20


@dataclass(frozen=True)
class Document:
    """One document of a corpus: a note, an article, a block of plain text."""

    text: str
    source: str
    line: int  # 1-based line where the record starts


def expand_inputs(patterns: str | Sequence[str]) -> list[Path]:
    """Files named by paths or glob patterns, sorted within each pattern, duplicates removed.

    Raises:
        InputError: a pattern matches nothing, or no pattern was given.
    """
    if isinstance(patterns, str | os.PathLike):
        patterns = [str(patterns)]
    patterns = [str(p) for p in patterns]
    if not patterns:
        raise InputError("no input given: set input=<file|glob> or input=[a,b,...]")
    files: list[Path] = []
    for pattern in patterns:
        matches = sorted(glob.glob(os.path.expanduser(pattern), recursive=True))
        matches = [m for m in matches if os.path.isfile(m)]
        if not matches:
            raise InputError(f"{pattern}: no such file (or the glob matched no files)")
        files.extend(Path(m) for m in matches)
    return list(dict.fromkeys(files))


def detect_format(path: Path) -> str:
    """Format from the file name: .txt / .jsonl / .csv / .tsv, optionally compressed.

    XML is only recognised by the names its publishers use: `pubmed*.xml` (PubMed baseline and
    update files) and `*pages-articles*.xml*` (MediaWiki dumps, also the split
    `...pages-articles1.xml-p1p41242.bz2` form); other XML needs an explicit format.
    """
    suffixes = path.suffixes
    if suffixes and suffixes[-1] in _COMPRESSED:
        suffixes = suffixes[:-1]
    fmt = _BY_SUFFIX.get(suffixes[-1].lower()) if suffixes else None
    if fmt is None:
        fmt = _xml_format_from_name(path)
    if fmt is None:
        raise InputError(f"{path}: cannot tell the format from the name; set format= to one of "
                         f"{', '.join(TEXT_FORMATS)}")
    return fmt


def _xml_format_from_name(path: Path) -> str | None:
    name = path.name.lower()
    if path.suffix in _COMPRESSED:
        name = name[: -len(path.suffix)]
    if name.startswith("pubmed") and name.endswith(".xml"):
        return "pubmed"
    if "pages-articles" in name and ".xml" in name:
        return "wikipedia"
    return None


def open_text(path: Path, newline: str | None = None) -> TextIO:
    """Open a possibly compressed file as UTF-8 text; bad bytes become lone surrogates."""
    opener = _COMPRESSED.get(path.suffix, open)
    return opener(path, "rt", encoding="utf-8", errors="surrogateescape", newline=newline)


def open_binary(path: Path) -> BinaryIO:
    """Open a possibly compressed file as bytes (XML: the parser decodes per its declaration)."""
    opener = _COMPRESSED.get(path.suffix, open)
    return opener(path, "rb")


def estimated_text_bytes(path: Path) -> int:
    """Uncompressed size of `path`, exact for plain files, estimated for compressed ones."""
    size = path.stat().st_size
    if path.suffix == ".gz" and size >= 18:
        with open(path, "rb") as handle:  # gzip stores the input size mod 2**32 in its last 4 bytes
            handle.seek(-4, os.SEEK_END)
            isize = int.from_bytes(handle.read(4), "little")
        return isize if isize >= size else size * 4
    if path.suffix in (".bz2", ".xz"):
        return size * 5  # typical ratio for English-like text
    return size


def read_documents(path: Path, fmt: str = "auto", text_key: str = "text", text_column: str = "NOTE_TEXT",
                   skips: SkipReport | None = None, max_document_chars: int = 64 << 20) -> Iterator[Document]:
    """Yield the documents of one file. Bad records are counted in `skips` (raises when strict).

    Args:
        path: the file.
        fmt: "auto" (from the name) or one of TEXT_FORMATS.
        text_key: JSONL key holding the text.
        text_column: CSV/TSV column holding the text.
        skips: where skipped records are counted; a fresh non-strict report if None.
        max_document_chars: plain text without blank lines is cut into pieces of at most this.
    """
    skips = SkipReport() if skips is None else skips
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt == "text":
        documents = _read_plain_text(path, max_document_chars)
    elif fmt == "jsonl":
        documents = _read_jsonl(path, text_key, skips)
    elif fmt in ("csv", "tsv"):
        documents = _read_delimited(path, "\t" if fmt == "tsv" else ",", text_column, skips)
    elif fmt == "pubmed":
        documents = _read_pubmed(path, skips)
    elif fmt == "wikipedia":
        documents = _read_wikipedia(path, skips)
    else:
        raise InputError(f"{path}: unknown format {fmt!r}; use one of {', '.join(TEXT_FORMATS)}")
    for document in documents:
        if not document.text.strip():
            skips.skip("empty_document", document.source, document.line)
        elif not document.text.isascii() and _UNDECODABLE.search(document.text):  # isascii: C speed
            skips.skip("invalid_utf8", document.source, document.line)
        else:
            yield document


def _read_plain_text(path: Path, max_document_chars: int) -> Iterator[Document]:
    # Large reads + regex over blank lines: ~10x faster than iterating line by line.
    source, buffer, buffer_line, warned = str(path), "", 1, False
    with open_text(path) as handle:
        while True:
            block = handle.read(_READ_CHARS)
            buffer += block
            start = 0
            for separator in _BLANK_LINES.finditer(buffer):
                yield Document(buffer[start:separator.start()], source, buffer_line)
                buffer_line += buffer.count("\n", start, separator.end())
                start = separator.end()
            buffer = buffer[start:]
            if not block:
                break
            while len(buffer) > max_document_chars:
                cut = buffer.rfind("\n", 0, max_document_chars) + 1 or max_document_chars
                if not warned:
                    logger.warning("%s: no blank line within %d characters; splitting documents there",
                                   f"{source}:{buffer_line}", max_document_chars)
                    warned = True
                yield Document(buffer[:cut], source, buffer_line)
                buffer_line += buffer.count("\n", 0, cut)
                buffer = buffer[cut:]
    if buffer.strip():
        yield Document(buffer.rstrip("\n"), source, buffer_line)


def _read_jsonl(path: Path, text_key: str, skips: SkipReport) -> Iterator[Document]:
    source = str(path)
    with open_text(path) as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                skips.skip("malformed_json", source, line_number)
                continue
            text = record.get(text_key) if isinstance(record, dict) else None
            if text is None:
                skips.skip(f"missing_key:{text_key}", source, line_number)
            elif not isinstance(text, str):
                skips.skip(f"not_a_string:{text_key}", source, line_number)
            else:
                yield Document(text, source, line_number)


def _read_delimited(path: Path, delimiter: str, text_column: str, skips: SkipReport) -> Iterator[Document]:
    csv.field_size_limit(sys.maxsize)  # single notes can be tens of MB
    source = str(path)
    with open_text(path, newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            raise InputError(f"{source}: empty file, expected a header row with {text_column}") from None
        if text_column not in header:
            raise InputError(f"{source}:1: no column {text_column!r} in the header; "
                             f"set text_column= to one of {header}")
        column, width, record_start = header.index(text_column), len(header), reader.line_num + 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error:
                skips.skip("csv_parse_error", source, record_start)
                record_start = reader.line_num + 1
                continue
            if len(row) != width:
                if row:  # a blank line is no record
                    skips.skip(f"wrong_field_count:{len(row)}!={width}", source, record_start)
            else:
                yield Document(row[column], source, record_start)
            record_start = reader.line_num + 1


# --- XML sources -------------------------------------------------------------------------------
# Both formats stream with ElementTree's pull parser (what iterparse runs on) and drop each record
# from the tree once read, so memory stays flat on 100k-article files. Document.line is the line
# of the record's start tag: iterparse does not tell lines, so the byte stream is fed in pieces
# cut after each line that holds a record start tag, and events read after a piece are tied to
# that line (see _xml_pieces). Malformed XML ends the file: one `malformed_xml` skip at the
# parser's error line, documents read before it stay.


def _xml_pieces(handle: BinaryIO, start_tag: re.Pattern[bytes]) -> Iterator[tuple[bytes, int]]:
    """The stream in pieces, each ending at the end of a line holding `start_tag` (or at a block end).

    Yields (piece, line of the last `start_tag` fed so far). A record's start event comes out of
    the parser right after the piece holding its start tag, so it gets that tag's line. A match
    inside a comment or CDATA only adds a cut; the real start tag after it still sets the line.
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
            yield block[start:end], tag_line
            line += block.count(b"\n", start, end)
            start = end
        if start < len(block):
            yield block[start:], tag_line
            line += block.count(b"\n", start)


def _xml_records(handle: BinaryIO, record: str) -> Iterator[tuple[ET.Element, int]]:
    """Each complete child of the root element whose local name is `record`, with its start line.

    Raises:
        ET.ParseError: malformed XML (`.position` is (line, column)).
    """
    parser = ET.XMLPullParser(events=("start", "end"))
    # expat >= 2.6 may defer parsing a growing token; flush (Python >= 3.12.3) keeps events per piece.
    flush = getattr(parser, "flush", None)
    start_tag = re.compile(rb"<(?:[\w.-]+:)?" + re.escape(record.encode("ascii")) + rb"[\s/>]")
    suffix = "}" + record  # namespace-agnostic: "{http://www.mediawiki.org/xml/export-0.11/}page"
    root: ET.Element | None = None
    depth, record_line = 0, 0
    for piece, tag_line in _xml_pieces(handle, start_tag):
        parser.feed(piece)
        if flush is not None:
            flush()
        for event, element in parser.read_events():
            if event == "start":
                depth += 1
                if depth == 1:
                    root = element
                elif depth == 2:
                    record_line = tag_line
                continue
            depth -= 1
            if depth == 1 and root is not None:
                if element.tag == record or element.tag.endswith(suffix):
                    yield element, record_line
                root.remove(element)  # done with it (records and e.g. DeleteCitation alike)
    parser.close()  # raises on a truncated document


def _read_xml_records(path: Path, record: str, skips: SkipReport) -> Iterator[tuple[ET.Element, int]]:
    """`_xml_records` of a file; malformed XML becomes one skip at the error line and ends the file."""
    error_line: int | None = None
    with open_binary(path) as handle:
        try:
            yield from _xml_records(handle, record)
        except ET.ParseError as error:
            error_line = error.position[0]
    if error_line is not None:
        # Outside the except block: in strict mode the InputError should not chain the parser's message.
        skips.skip("malformed_xml", str(path), error_line)


# --- PubMed ------------------------------------------------------------------------------------


def _read_pubmed(path: Path, skips: SkipReport) -> Iterator[Document]:
    # Title-only citations (letters, comments, old records) carry too little text for sentence
    # pairs, so they are skipped; DeleteCitation blocks of update files are not articles.
    source = str(path)
    for article, line in _read_xml_records(path, "PubmedArticle", skips):
        text = _pubmed_text(article)
        if text is None:
            skips.skip("no_abstract", source, line, by_design=True)
        else:
            yield Document(text, source, line)


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


def _read_wikipedia(path: Path, skips: SkipReport) -> Iterator[Document]:
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
        yield Document(f"{title}\n{body}" if body else "", source, line)


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
