"""The i2b2 stand-off XML shape shared by the 2012 and 2014 corpora, read tolerantly, written exactly.

    <?xml version="1.0" encoding="UTF-8" ?>
    <ROOT>
    <TEXT><![CDATA[...text the offsets index...]]></TEXT>
    <TAGS>
    <NAME id="P0" start="16" end="26" text="..." TYPE="DATE" comment="" />
    </TAGS>
    </ROOT>

A well-formed file is read with a real XML parser (expat): single-quoted attributes, TEXT escaped
without CDATA, `<TAGS/>`, `/>` inside a value are all fine. The TEXT is the element's content after
unescaping, with every character kept as stored (expat's line-end and attribute-whitespace
normalization is undone from the source bytes: offsets count every character, `\r` included);
whitespace around a CDATA section is not part of it (the offsets index the CDATA text).

Several files of the real 2012 release are not well-formed XML (a raw `&` or `"` inside an
attribute value). Only such files go to the tolerant reader: the TEXT is the CDATA content taken
verbatim and the tags are read with patterns that accept those mistakes. Each repair is reported
with file, line and tag id.

What is not the default shape (XML declaration, root layout, ` />` versus `/>`, the space between
tags, whether `>` and `'` are escaped) is kept as a small `layout` dict, so a document written back
is byte-identical to its source.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import Any
from xml.parsers import expat

from finetune.corpora.document import Entity, safe_id
from finetune.corpora.formats.common import compare_span_text
from finetune.corpora.formats.report import ADJUST, REPAIR, SKIP, FormatReport
from gatortron_common.logging import InputError, location

_CDATA_OPEN = re.compile(r"<TEXT>\s*<!\[CDATA\[")
_AFTER_TEXT = re.compile(r"\]\]>\s*</TEXT>\s*<TAGS>")
_TAGS_CLOSE = "</TAGS>"
_TAG = re.compile(r"<([A-Za-z_][\w.-]*)(\s.*?)?(\s*)/>", re.S)
_NAME = r"[A-Za-z_][\w:.-]*"
# A value runs to the first `"` that is followed by another attribute or the end of the tag, so
# a raw quote inside a value (a real-release mistake) stays in the value.
_ATTRIBUTE = re.compile(rf'\s+({_NAME})="(.*?)"(?=\s+{_NAME}="|\s*$)', re.S)
_NESTED_TAG = re.compile(rf"<{_NAME}\s+{_NAME}=")
_VALUE_PART = re.compile(r'&(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);|[&"<]')
_NAMED = {"&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&apos;": "'"}
# An attribute of a well-formed tag (the parser has checked it), with its value as stored.
_WELL_FORMED_ATTRIBUTE = re.compile(rf"\s+({_NAME})\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_REFERENCE = re.compile(r"&(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);")


@dataclass
class Tag:
    """One stand-off tag: its name, attributes in source order and where it was."""

    name: str
    attributes: dict[str, str]
    line: int

    def where(self, path: object) -> str:
        """`file:line (tag P3)` for notes and errors."""
        return f"{location(path, self.line)} (tag {safe_id(self.attributes.get('id'))})"


@dataclass
class StandoffXml:
    """A parsed file: the exact text, the tags, and the layout keys that differ from the default."""

    text: str
    tags: list[Tag]
    layout: dict[str, object] = field(default_factory=dict)


def default_layout(root: str) -> dict[str, object]:
    """The shape the i2b2 releases use (and the writer produces unless told otherwise)."""
    return {"head": f'<?xml version="1.0" encoding="UTF-8" ?>\n<{root}>\n<TEXT><![CDATA[',
            "middle": "]]></TEXT>\n<TAGS>", "tail": f"</TAGS>\n</{root}>\n", "close": " />",
            "sep": "\n", "escape_gt": True, "escape_apos": False}


def _line_of(offset: int, line_starts: list[int]) -> int:
    return bisect.bisect_right(line_starts, offset)


def _decode(value: str, tag_where: str, report: FormatReport, used: set[str]) -> str:
    """Attribute value with references resolved; raw `&`, `"`, `<` kept as characters (repairs)."""
    parts: list[str] = []
    position = 0
    for match in _VALUE_PART.finditer(value):
        parts.append(value[position:match.start()])
        token = match.group()
        if token in _NAMED:
            parts.append(_NAMED[token])
            used.add(token)
        elif token.startswith("&#"):
            number = int(token[3:-1], 16) if token[2] in "xX" else int(token[2:-1])
            try:
                parts.append(chr(number))
            except (ValueError, OverflowError):
                raise InputError(f"{tag_where}: character reference out of range") from None
        else:
            parts.append(token)
            reason = {"&": "raw '&' in an attribute value", '"': "unescaped '\"' in an attribute value",
                      "<": "raw '<' in an attribute value"}[token]
            report.note(REPAIR, f"{reason} read as the character", tag_where)
        position = match.end()
    parts.append(value[position:])
    if ">" in value:
        used.add(">")
    return "".join(parts)


def parse(raw: str, path: object, root: str, report: FormatReport) -> StandoffXml:
    """Read an i2b2 stand-off XML file's text and tags: with the XML parser when the file is
    well-formed, else with the tolerant reader (its repairs noted in `report`).

    Args:
        raw: the file's content, exactly as stored.
        path: the file, for messages.
        root: the expected root element (`deIdi2b2`, `ClinicalNarrativeTemporalAnnotation`).
        report: repairs of malformed attribute values are noted here.

    Raises:
        InputError: the file lacks the TEXT or TAGS structure, or a tag cannot be read.
    """
    events = _xml_events(raw)
    if events is None:
        return parse_tolerant(raw, path, root, report)
    parsed = _from_events(events, raw.encode("utf-8"), path, root)
    # The tolerant reader also learns the layout (declaration, spacing, escapes) that makes a
    # written-back file byte-identical; use it where it reads this file the same way.
    try:
        tolerant = parse_tolerant(raw, path, root, FormatReport())
    except InputError:
        return parsed
    if tolerant.text == parsed.text and [(t.name, t.attributes) for t in tolerant.tags] == \
            [(t.name, t.attributes) for t in parsed.tags]:
        parsed.layout = tolerant.layout
    return parsed


def _xml_events(raw: str) -> list[tuple[Any, ...]] | None:
    """The parser's events `(kind, byte offset, line, payload)`; None when `raw` is not well-formed."""
    parser = expat.ParserCreate(encoding="UTF-8")  # `raw` is already decoded text; the bytes are UTF-8
    parser.ordered_attributes = True
    parser.buffer_text = False  # one event per piece, so each maps back to its source bytes
    events: list[tuple[Any, ...]] = []

    def add(kind: str, payload: Any = None) -> None:
        events.append((kind, parser.CurrentByteIndex, parser.CurrentLineNumber, payload))

    parser.StartElementHandler = lambda name, attributes: add("start", (name, attributes))
    parser.EndElementHandler = lambda name: add("end", name)
    parser.CharacterDataHandler = lambda data: add("chars", data)
    parser.StartCdataSectionHandler = lambda: add("cdata")
    parser.EndCdataSectionHandler = lambda: add("cdata_end")
    parser.CommentHandler = lambda _: add("other")
    parser.ProcessingInstructionHandler = lambda *_: add("other")
    try:
        parser.Parse(raw.encode("utf-8"), True)
    except expat.ExpatError:
        return None
    return events


def _exact(parsed: str, stored: str) -> str:
    """The characters as stored when they differ from the parser's only by its line-end
    normalization; else (a reference such as `&amp;`) the parser's."""
    return stored if stored.replace("\r\n", "\n").replace("\r", "\n") == parsed else parsed


def _exact_attributes(parsed: list[str], stored_tag: str) -> dict[str, str]:
    """Attribute values as stored (the parser turns tabs and line breaks in them into spaces)."""
    values = dict(zip(parsed[::2], parsed[1::2], strict=True))
    for found in _WELL_FORMED_ATTRIBUTE.finditer(stored_tag):
        key, stored = found.group(1), found.group(2) if found.group(2) is not None else found.group(3)
        if key not in values or re.search(r"&(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);)", stored):
            continue  # an entity of a DTD: the parser's value stands
        value = _REFERENCE.sub(lambda m: _NAMED.get(m.group()) or _char(m.group()), stored)
        if re.sub(r"\r\n|[\r\n\t]", " ", value) == re.sub(r"[\r\n\t]", " ", values[key]) or \
                value == values[key]:
            values[key] = value
    return values


def _char(reference: str) -> str:
    return chr(int(reference[3:-1], 16) if reference[2] in "xX" else int(reference[2:-1]))


def _from_events(events: list[tuple[Any, ...]], data: bytes, path: object, root: str) -> StandoffXml:
    """Text and tags of a well-formed file from its parser events (see `parse`)."""
    def stored(index: int) -> str:
        end = events[index + 1][1] if index + 1 < len(events) else len(data)
        return data[events[index][1]:end].decode("utf-8")

    depth, section, in_cdata = 0, None, False
    pieces: list[tuple[bool, str]] = []  # (inside CDATA, text) of TEXT's content
    tags: list[Tag] = []
    seen: set[str] = set()
    for index, (kind, _, line, payload) in enumerate(events):
        if kind == "start":
            name, attributes = payload
            depth += 1
            if depth == 1 and name != root:
                raise InputError(f"{path}: the root element is not <{root}>")
            if depth == 2 and name in ("TEXT", "TAGS") and name not in seen:
                section = name
                seen.add(name)
            elif depth == 3 and section == "TAGS":
                values = _exact_attributes(attributes, stored(index))
                tags.append(Tag(name=name, attributes=values, line=line))
            elif depth >= 3 and section in ("TEXT", "TAGS"):
                raise InputError(f"{location(path, line)}: unexpected element inside <{section}> (expected "
                                 f"{'text only' if section == 'TEXT' else 'empty tags'})")
        elif kind == "end":
            depth -= 1
            if depth == 1:
                section = None
        elif kind in ("cdata", "cdata_end"):
            in_cdata = kind == "cdata"
        elif kind == "chars" and section == "TEXT" and depth == 2:
            pieces.append((in_cdata, _exact(payload, stored(index))))
        elif kind == "chars" and section == "TAGS" and payload.strip():
            raise InputError(f"{location(path, line)}: text inside <TAGS> (expected tags only)")
    for name in ("TEXT", "TAGS"):
        if name not in seen:
            raise InputError(f"{path}: no <{name}> element (not an i2b2 stand-off XML file?)")
    return StandoffXml(text=_text_of(pieces), tags=tags)


def _text_of(pieces: list[tuple[bool, str]]) -> str:
    """TEXT's content; with CDATA, the whitespace outside its sections (markup layout) left out."""
    if any(in_cdata for in_cdata, _ in pieces):
        pieces = [(in_cdata, text) for in_cdata, text in pieces if in_cdata or text.strip()]
    return "".join(text for _, text in pieces)


def parse_tolerant(raw: str, path: object, root: str, report: FormatReport) -> StandoffXml:
    """Read an i2b2 stand-off XML file's text and tags without an XML parser (not well-formed files).

    Args:
        raw: the file's content, exactly as stored.
        path: the file, for messages.
        root: the expected root element (`deIdi2b2`, `ClinicalNarrativeTemporalAnnotation`).
        report: repairs of malformed attribute values are noted here.

    Raises:
        InputError: the file lacks the TEXT/CDATA or TAGS structure, or a tag cannot be read.
    """
    opened = _CDATA_OPEN.search(raw)
    if opened is None:
        raise InputError(f"{path}: no <TEXT><![CDATA[ section (not an i2b2 stand-off XML file?)")
    head = raw[:opened.end()]
    if not re.search(rf"<{re.escape(root)}\s*>", head):
        raise InputError(f"{path}: root element <{root}> not found before <TEXT>")
    text_end = raw.find("]]>", opened.end())
    if text_end < 0:
        raise InputError(f"{path}: the CDATA section of <TEXT> is never closed")
    text = raw[opened.end():text_end]
    after = _AFTER_TEXT.match(raw, text_end)
    if after is None:
        raise InputError(f"{path}: expected ]]></TEXT> followed by <TAGS>")
    region_start = after.end()
    region_end = raw.find(_TAGS_CLOSE, region_start)
    if region_end < 0:
        raise InputError(f"{path}: <TAGS> is never closed")
    line_starts = [0] + [m.end() for m in re.finditer("\n", raw)]

    tags: list[Tag] = []
    gaps: list[str] = []
    closes: set[str] = set()
    escapes: set[str] = set()
    position = region_start
    while True:
        match = _TAG.search(raw, position, region_end)
        gap_end = match.start() if match else region_end
        gap = raw[position:gap_end]
        if gap.strip():
            line = _line_of(position + len(gap) - len(gap.lstrip()), line_starts)
            raise InputError(f"{location(path, line)}: cannot read a tag here (unclosed or broken markup)")
        gaps.append(gap)
        if match is None:
            break
        line = _line_of(match.start(), line_starts)
        tags.append(_read_tag(match, path, line, report, escapes))
        closes.add(match.group(3) + "/>")
        position = match.end()

    layout: dict[str, object] = {"head": head, "middle": raw[text_end:region_start],
                                 "tail": raw[region_end:]}
    if len(closes) == 1:
        layout["close"] = closes.pop()
    if len(set(gaps)) == 1:
        layout["sep"] = gaps[0]
    if "&gt;" in escapes or ">" in escapes:
        layout["escape_gt"] = "&gt;" in escapes
    if "&apos;" in escapes:
        layout["escape_apos"] = True
    defaults = default_layout(root)
    return StandoffXml(text=text, tags=tags,
                       layout={k: v for k, v in layout.items() if defaults.get(k) != v})


def _read_tag(match: re.Match[str], path: object, line: int, report: FormatReport,
              escapes: set[str]) -> Tag:
    name, body = match.group(1), match.group(2) or ""
    identifier = re.search(r'\bid="([^"]*)"', body)
    where = f"{location(path, line)} (tag {safe_id(identifier.group(1) if identifier else None)})"
    attributes: dict[str, str] = {}
    position = 0
    while position < len(body.rstrip()):
        found = _ATTRIBUTE.match(body, position)
        if found is None:
            raise InputError(f"{where}: cannot read the attributes of <{name}>")
        key, value = found.group(1), found.group(2)
        if _NESTED_TAG.search(value):
            raise InputError(f"{where}: <{name}> is not closed before the next tag")
        if key in attributes:
            raise InputError(f"{where}: attribute {key} occurs twice")
        attributes[key] = _decode(value, where, report, escapes)
        position = found.end()
    return Tag(name=name, attributes=attributes, line=line)


def escape(value: str, layout: dict[str, object]) -> str:
    """An attribute value escaped the way the layout says."""
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
    if layout["escape_gt"]:
        value = value.replace(">", "&gt;")
    if layout["escape_apos"]:
        value = value.replace("'", "&apos;")
    return value


def render(root: str, text: str, tags: list[tuple[str, list[tuple[str, str]]]],
           layout: dict[str, object] | None, where: str) -> str:
    """The file for `text` and `tags` ((name, [(attribute, value), ...]) in order).

    Args:
        root: root element name.
        text: written verbatim inside the CDATA section.
        tags: the tags to write, values unescaped.
        layout: keys differing from `default_layout(root)` (as `parse` returns them).
        where: the document, for the error message.

    Raises:
        InputError: the text contains `]]>`, which cannot be inside a CDATA section.
    """
    if "]]>" in text:
        raise InputError(f"{where}: the text contains ']]>', which a CDATA section cannot hold")
    shape = default_layout(root) | (layout or {})
    sep = str(shape["sep"])
    lines = [f"<{name}" + "".join(f' {key}="{escape(value, shape)}"' for key, value in attributes)
             + str(shape["close"]) for name, attributes in tags]
    return (f"{shape['head']}{text}{shape['middle']}{sep}" + "".join(line + sep for line in lines)
            + str(shape["tail"]))


def tag_span(tag: Tag, text: str, path: object, report: FormatReport) -> tuple[int, int] | None:
    """The checked character span of an entity tag; None (a noted skip) for an empty span.

    The tag's `text` attribute, where present, is compared with the slice (see
    `compare_span_text`). Offsets past the text raise `InputError` naming file, line and tag id.
    """
    where = tag.where(path)
    try:
        start, end = int(tag.attributes["start"]), int(tag.attributes["end"])
    except KeyError as error:
        raise InputError(f"{where}: <{tag.name}> has no {error.args[0]} attribute") from None
    except ValueError:
        raise InputError(f"{where}: <{tag.name}> start/end are not integers") from None
    if not (0 <= start <= len(text) and 0 <= end <= len(text)):
        raise InputError(f"{where}: offsets {start}-{end} are past the text (length {len(text)})")
    if start >= end:
        report.note(SKIP, "empty or reversed span left out", where)
        return None
    if "text" in tag.attributes:
        compare_span_text(tag.attributes["text"], text[start:end], where, report)
    return start, end


def tag_entity(tag: Tag, entity_type: str, text: str, path: object, report: FormatReport,
               own: tuple[str, ...]) -> Entity | None:
    """The entity an EVENT / TIMEX3 / PHI tag marks (category = tag name), its other attributes
    kept for write-back; None (a noted skip) for an empty span. See `tag_span` for the checks.

    Args:
        own: attributes the entity itself holds (id, offsets, text, type), not kept again.
    """
    span = tag_span(tag, text, path, report)
    if span is None:
        return None
    attributes = {key: value for key, value in tag.attributes.items() if key not in own}
    return Entity(start=span[0], end=span[1], type=entity_type, category=tag.name,
                  id=tag.attributes.get("id"), attributes=attributes)


def span_attributes(entity_id: str, entity: Entity, text: str, where: str,
                    report: FormatReport) -> list[tuple[str, str]]:
    """The leading `id start end text` attributes of a written entity tag (text from the slice).

    A discontinuous entity becomes one span from its first start to its last end (noted).
    """
    if entity.fragments and len(entity.fragments) > 1:
        report.note(ADJUST, "discontinuous span written as one span", where)
    return [("id", entity_id), ("start", str(entity.start)), ("end", str(entity.end)),
            ("text", text[entity.start:entity.end])]


def ordered_attributes(canonical: list[tuple[str, str | None]], extra: dict[str, str],
                       own: tuple[str, ...]) -> list[tuple[str, str]]:
    """Attributes after `id start end text`: the `canonical` keys in order, then the rest of `extra`.

    Args:
        canonical: (key, default) pairs; a value in `extra` wins over the default, and a key
            with neither is left out.
        extra: the entity's other attributes, in source order.
        own: keys written from the entity itself, never from `extra`.
    """
    extra = {key: value for key, value in extra.items() if key not in own}
    pairs: list[tuple[str, str]] = []
    for key, default in canonical:
        value = extra.pop(key, default)
        if value is not None:
            pairs.append((key, value))
    pairs.extend(extra.items())
    return pairs
