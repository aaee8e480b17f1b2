"""The one document model every benchmark format is read into and written from.

A document is its text plus entities with character offsets into that text (end exclusive).
Its canonical file form is JSONL, one document per line:

    {"id": "101", "text": "...", "entities": [{"start": 16, "end": 26, "type": "DATE"}]}

Offsets, never tokens, are the ground truth: tokenization (ours or the challenge's) can then
never change a span or a score. A record's other keys (`patient`, `note_date`, ...) and its id's
JSON type are kept in `Document.metadata["jsonl"]` and written back in their place.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gatortron_common.atomic import atomic_open
from gatortron_common.logging import InputError, location
from gatortron_common.readers import LineRange, has_surrogates

# Ids are input text; only ones of this shape (T12, P3, E0, 7) are shown in messages.
ID_PATTERN = re.compile(r"[A-Za-z]*\d+")
METADATA_KEY = "jsonl"  # a JSONL record's own layout: {"record": {key: value}} (see `record_layout`)
CANONICAL_KEYS = ("id", "text", "entities", "relations", "metadata")


def safe_id(identifier: object, fallback: str = "?") -> str:
    """An annotation id fit for a message: `identifier` if it has the `T12` / `P3` shape, else `fallback`."""
    return identifier if isinstance(identifier, str) and ID_PATTERN.fullmatch(identifier) else fallback


@dataclass
class Entity:
    """One annotated span.

    Args:
        start: first character (0-based) of the span in `Document.text`.
        end: one past the last character. For a discontinuous span, the first fragment's
            start and the last fragment's end.
        type: the label (`problem`, `PATIENT`, `Drug`, ...).
        category: the coarser group where the format has one (2014 `NAME` for `PATIENT`,
            2012 `EVENT` / `TIMEX3`), else None.
        id: the source's identifier (`T3`, `P0`, `E12`), kept for round trips and error messages.
        fragments: `[(start, end), ...]` for discontinuous spans (brat `10 15;20 25`), else None.
        attributes: any further source attributes (2012 `modality`, `polarity`, `val`; 2014
            `comment`), kept so a writer can put them back.
    """

    start: int
    end: int
    type: str
    category: str | None = None
    id: str | None = None
    fragments: list[tuple[int, int]] | None = None
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def spans(self) -> list[tuple[int, int]]:
        """The character ranges the entity covers (one unless discontinuous)."""
        return list(self.fragments) if self.fragments else [(self.start, self.end)]

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {"start": self.start, "end": self.end, "type": self.type}
        if self.category is not None:
            record["category"] = self.category
        if self.id is not None:
            record["id"] = self.id
        if self.fragments:
            record["fragments"] = [list(span) for span in self.fragments]
        if self.attributes:
            record["attributes"] = dict(self.attributes)
        return record

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> Entity:
        fragments = record.get("fragments")
        return cls(start=_offset(record["start"]), end=_offset(record["end"]), type=str(record["type"]),
                   category=record.get("category"), id=record.get("id"),
                   fragments=[(_offset(s), _offset(e)) for s, e in fragments] if fragments else None,
                   attributes={str(k): str(v) for k, v in (record.get("attributes") or {}).items()})


class RecordError(ValueError):
    """A record field of the wrong kind; the message names the field, never its value."""


def _offset(value: Any) -> int:
    """A character offset: a JSON integer (3.0 or 3.5 would be silently truncated by `int`)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordError("entity offsets must be whole numbers (JSON integers)")
    return value


@dataclass
class Document:
    """A text with its entities, relations and whatever else its source format carries.

    Args:
        id: document identifier (file stem for file-per-document formats).
        text: the exact text the offsets index (never stripped or normalized).
        entities: annotated spans, in source order.
        relations: links between entities by id, e.g. brat `R1 Strength-Drug Arg1:T2 Arg2:T1` as
            `{"id": "R1", "type": "Strength-Drug", "args": {"Arg1": "T2", "Arg2": "T1"}}`.
        metadata: format-specific parts that are not entities but are needed to write the
            document back exactly (2012 TLINK/SECTIME tags, brat notes, attribute lines).
    """

    id: str
    text: str
    entities: list[Entity] = field(default_factory=list)
    relations: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    def check_offsets(self, where: str) -> None:
        """Raise `InputError` naming `where` and the entity id if any span lies outside the text."""
        for index, entity in enumerate(self.entities):
            for start, end in entity.spans:
                if not 0 <= start < end <= len(self.text):
                    name = safe_id(entity.id, f"entity #{index + 1}")
                    raise InputError(f"{where}: {name} has offsets {start}-{end} outside the text "
                                     f"(length {len(self.text)}) or an empty span")

    def to_json(self) -> dict[str, Any]:
        """The canonical record; a JSONL source's other keys and id type come back in their place."""
        metadata = {key: value for key, value in self.metadata.items() if key != METADATA_KEY}
        record: dict[str, Any] = {"id": self.id, "text": self.text,
                                  "entities": [entity.to_json() for entity in self.entities]}
        if self.relations:
            record["relations"] = self.relations
        if metadata:
            record["metadata"] = metadata
        layout = (self.metadata.get(METADATA_KEY) or {}).get("record")
        return merge_record(layout, record) if isinstance(layout, dict) else record

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> Document:
        document = cls(id=str(record["id"]), text=record["text"],
                       entities=[Entity.from_json(e) for e in record.get("entities") or []],
                       relations=list(record.get("relations") or []),
                       metadata=dict(record.get("metadata") or {}))
        layout = record_layout(record)
        if layout is not None:
            document.metadata[METADATA_KEY] = {"record": layout}
        return document


def record_layout(record: dict[str, Any]) -> dict[str, Any] | None:
    """What a JSONL record holds beyond the canonical form: every key in order, the other keys with
    their values, `id` with its JSON value (an int stays an int) and the other canonical keys with
    None (their place). None when the record is canonical already (a string id, no other key)."""
    if isinstance(record["id"], str) and set(record) <= set(CANONICAL_KEYS):
        return None
    return {key: record[key] if key not in CANONICAL_KEYS[1:] else None for key in record}


def merge_record(layout: dict[str, Any], canonical: dict[str, Any]) -> dict[str, Any]:
    """`canonical` written in the source record's key order with its other keys; the id keeps its
    JSON value when the document's id is still that value's text."""
    merged: dict[str, Any] = {}
    for key, value in layout.items():
        if key == "id":
            merged[key] = value if str(value) == canonical["id"] else canonical["id"]
        elif key in CANONICAL_KEYS:
            if key in canonical:
                merged[key] = canonical[key]
        else:
            merged[key] = value
    for key, value in canonical.items():
        merged.setdefault(key, value)  # canonical keys the source did not have, at the end
    return merged


class _DuplicateKey(Exception):
    """A JSON object with a key twice: `json` keeps the last value and drops the others silently."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    record = dict(pairs)
    if len(record) != len(pairs):
        raise _DuplicateKey
    return record


def json_lines(path: str | Path, on_blank: Callable[[int], object] | None = None,
               lines: LineRange | None = None) -> Iterator[tuple[int, str, Any]]:
    """`(line number, "file:line", value)` for each non-blank line of a JSON-lines file.

    Args:
        path: the file.
        on_blank: called with the number of each blank line (which holds no record), to count them.
        lines: only the lines that start in this byte range (a shard's part; read alone).

    Raises:
        InputError: a line that is not UTF-8 or not JSON, an object that holds a key twice (one value
            would be lost), or a \\u escape of half a surrogate pair (it cannot be written back as
            UTF-8); named by `file:line`, never by its content.
    """
    part = lines or LineRange()
    with open(path, "rb") as handle:  # bytes, so a bad byte is named by its line
        handle.seek(part.start)
        position = part.start
        for number, raw in enumerate(handle, start=part.first_line):
            if part.end is not None and position >= part.end:
                return
            position += len(raw)
            where = location(path, number)
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise InputError(f"{where}: not UTF-8 (bad byte at column {error.start + 1})") from None
            if not line.strip():
                if on_blank is not None:
                    on_blank(number)
                continue
            try:
                value = json.loads(line, object_pairs_hook=_unique_keys)
            except json.JSONDecodeError:
                raise InputError(f"{where}: not a JSON record (JSONDecodeError)") from None
            except _DuplicateKey:
                raise InputError(f"{where}: an object holds the same key twice; one of the values would be "
                                 f"lost") from None
            if "\\ud" in line.lower() and has_surrogates(json.dumps(value, ensure_ascii=False)):
                raise InputError(f"{where}: a \\u escape holds half of a surrogate pair, not a character")
            yield number, where, value


def read_jsonl(path: str | Path, lines: LineRange | None = None) -> Iterator[Document]:
    """Documents from a canonical JSONL file (those on `lines` only, if given); bad lines raise
    `InputError` with `file:line`."""
    for _, where, record in json_lines(path, lines=lines):
        try:
            document = Document.from_json(record)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            # The message names the problem (missing key, wrong type), never the text.
            kind = (f"missing key {error}" if isinstance(error, KeyError)
                    else str(error) if isinstance(error, RecordError) else type(error).__name__)
            raise InputError(f"{where}: not a document record ({kind})") from None
        if not isinstance(document.text, str):
            raise InputError(f"{where}: 'text' must be a string")
        document.check_offsets(where)
        yield document


def write_jsonl(documents: Iterable[Document], path: str | Path) -> int:
    """Write documents as canonical JSONL atomically; returns how many were written."""
    count = 0
    with atomic_open(path, "w", encoding="utf-8") as handle:
        for document in documents:
            handle.write(json.dumps(document.to_json(), ensure_ascii=False) + "\n")
            count += 1
    return count
