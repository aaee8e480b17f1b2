"""brat standoff (n2c2 2018 track 2): a directory of `<id>.txt` + `<id>.ann` pairs.

    T1<TAB>Drug 100 107<TAB>aspirin
    T2<TAB>Reason 10 15;20 25<TAB>first second
    R1<TAB>Strength-Drug Arg1:T2 Arg2:T1

`T` lines become entities (`type` = brat type, `fragments` for discontinuous spans, whose text
brat joins with a space); `R` lines become `Document.relations`
(`{"id": "R1", "type": "Strength-Drug", "args": {"Arg1": "T2", "Arg2": "T1"}}`); every other
annotation line (A, E, M, N, #, *) is kept verbatim in `Document.metadata["brat"]` and written
back, in the source order of all lines. A span's text in the .ann has its line breaks as spaces.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from finetune.corpora.document import Document, Entity, safe_id
from finetune.corpora.formats.common import (
    assign_ids,
    check_span,
    checked,
    compare_span_text,
    entity_where,
    in_layout,
    layout_string,
    output_directory,
    read_text,
    require_directory,
    safe_file_stem,
    write_text,
)
from finetune.corpora.formats.report import MISMATCH, SKIP, FormatReport
from gatortron_common.logging import InputError, location

METADATA_KEY = "brat"
_SPANS = re.compile(r"\d+ \d+(?:;\d+ \d+)*")
_TYPE = re.compile(r"[^\s]+")
_ENTITY_ID = re.compile(r"T\w*")
_OTHER_PREFIXES = ("A", "E", "M", "N", "#", "*")
_BREAKS = str.maketrans({"\n": " ", "\r": " "})


def ann_text(text: str, spans: list[tuple[int, int]]) -> str:
    """What brat writes after the second tab: the fragments joined by a space, breaks as spaces."""
    return " ".join(text[start:end] for start, end in spans).translate(_BREAKS)


def read(path: Path, report: FormatReport, *, gold: bool = True) -> list[Document]:
    """Read every `*.txt` of a directory (sorted by name) with its `.ann`.

    Args:
        path: the directory.
        report: span-text mismatches and dangling relation arguments are noted here.
        gold: a `.txt` without `.ann` is an error; with False it is a document without entities.
    """
    require_directory(path, "brat")
    texts = sorted(path.glob("*.txt"))
    if not texts:
        raise InputError(f"{path}: no .txt files")
    stems = {file.stem for file in texts}
    for orphan in sorted(path.glob("*.ann")):
        if orphan.stem not in stems:
            raise InputError(f"{orphan}: no matching {orphan.stem}.txt")
    documents = []
    for file in texts:
        annotations = file.with_suffix(".ann")
        if not annotations.exists():
            if gold:
                raise InputError(f"{file}: no matching {annotations.name} (gold=false reads texts alone)")
            documents.append(Document(id=file.stem, text=read_text(file)))
            continue
        documents.append(_read_pair(file, annotations, report))
    return documents


def _read_pair(text_file: Path, ann_file: Path, report: FormatReport) -> Document:
    text = read_text(text_file)
    entities: list[Entity] = []
    relations: list[dict[str, Any]] = []
    others: list[str] = []
    kinds: list[str] = []
    for number, line in enumerate(read_text(ann_file).split("\n"), start=1):
        line = line.removesuffix("\r")  # a CRLF file: the "\r" belongs to no field
        if not line.strip():
            continue
        where = location(ann_file, number)
        identifier = line.split("\t", 1)[0]
        # An id without a tab after it (spaces instead of tabs) runs into the entity text: never shown.
        named = f"{where} ({safe_id(identifier)})"
        if identifier.startswith("T"):
            entity = _entity(line, text, named, report)
            if entity is not None:
                entities.append(entity)
                kinds.append("T")
        elif identifier.startswith("R"):
            try:
                relations.append(_relation(line, named))
            except InputError as error:  # one bad line costs that relation, not the corpus
                report.note(SKIP, str(error).removeprefix(f"{named}: "), named)
                continue
            kinds.append("R")
        elif identifier.startswith(_OTHER_PREFIXES):
            others.append(line)
            kinds.append("O")
        else:
            raise InputError(f"{where}: not a brat annotation line (unknown id prefix)")
    known = {entity.id for entity in entities} | {line.split("\t", 1)[0] for line in others}
    for relation in relations:
        for role, argument in relation["args"].items():
            if argument not in known:
                report.note(MISMATCH, f"relation argument {role} refers to an unknown id",
                            f"{ann_file} ({safe_id(relation['id'])})")
    kept: dict[str, Any] = {}
    if others:
        kept["other_lines"] = others
    order = layout_string(kinds, ["T", "R", "O"])
    if order is not None:
        kept["order"] = order
    return Document(id=text_file.stem, text=text, entities=entities, relations=relations,
                    metadata={METADATA_KEY: kept} if kept else {})


def _entity(line: str, text: str, where: str, report: FormatReport) -> Entity | None:
    fields = line.split("\t", 2)
    if len(fields) < 2:
        raise InputError(f"{where}: expected 'T<n><TAB>Type start end<TAB>text'")
    type_name, _, span_part = fields[1].partition(" ")
    if not _TYPE.fullmatch(type_name) or not _SPANS.fullmatch(span_part):
        raise InputError(f"{where}: cannot read the type and offsets "
                         f"(expected 'Type 10 15' or 'Type 10 15;20 25')")
    given = [(int(s), int(e)) for s, e in (piece.split(" ") for piece in span_part.split(";"))]
    spans = sorted(given)  # fragments in text order (brat accepts `20 25;5 10`)
    for start, end in spans:
        if start > len(text) or end > len(text):
            raise InputError(f"{where}: offsets {start}-{end} are past the text (length {len(text)})")
        if start >= end:
            report.note(SKIP, "empty or reversed span left out", where)
            return None
    if len(fields) == 3:
        as_given = ann_text(text, given)  # the text field may follow the fragments' written order
        expected = as_given if fields[2] == as_given else ann_text(text, spans)
        compare_span_text(fields[2], expected, where, report)
    return Entity(start=spans[0][0], end=spans[-1][1], type=type_name, id=fields[0],
                  fragments=spans if len(spans) > 1 else None)


def _relation(line: str, where: str) -> dict[str, Any]:
    fields = line.split("\t")
    parts = fields[1].split(" ") if len(fields) >= 2 else []
    if len(parts) < 2 or any(part.count(":") != 1 for part in parts[1:]):
        raise InputError(f"{where}: expected 'R<n><TAB>Type Arg1:T1 Arg2:T2'")
    args = dict(part.split(":") for part in parts[1:])
    if len(args) != len(parts) - 1:
        raise InputError(f"{where}: a relation role occurs twice")
    return {"id": fields[0], "type": parts[0], "args": args}


def write(documents: list[Document], path: Path, report: FormatReport) -> int:
    """Write `<id>.txt` + `<id>.ann` per document into directory `path` (replaced atomically).

    Entities keep ids of the form `T<n>` when unique, others get new ones (relation arguments
    follow). Kept A/E/M/N/#/* lines are written back verbatim.
    """
    documents = checked(documents)
    with output_directory(path, (".txt", ".ann"), "brat") as staging:
        for document in documents:
            stem = safe_file_stem(document)
            write_text(staging / f"{stem}.txt", document.text)
            write_text(staging / f"{stem}.ann", render_ann(document))
    return len(documents)


def render_ann(document: Document) -> str:
    """The .ann file for one document (see `write`)."""
    kept = document.metadata.get(METADATA_KEY) or {}
    ids = assign_ids([entity.id for entity in document.entities], ["T"] * len(document.entities),
                     valid=_ENTITY_ID, first=1)
    renamed = {entity.id: new for entity, new in zip(document.entities, ids, strict=True)
               if entity.id is not None and entity.id != new}
    entity_lines = []
    for index, (entity, entity_id) in enumerate(zip(document.entities, ids, strict=True)):
        where = entity_where(document, entity, index)
        if not _TYPE.fullmatch(entity.type):
            raise InputError(f"{where}: a brat type cannot contain whitespace")
        for start, end in entity.spans:
            check_span(document.text, start, end, where)
        offsets = ";".join(f"{start} {end}" for start, end in entity.spans)
        entity_lines.append(f"{entity_id}\t{entity.type} {offsets}\t{ann_text(document.text, entity.spans)}")
    relation_ids = assign_ids([relation.get("id") for relation in document.relations],
                              ["R"] * len(document.relations), first=1)
    relation_lines = []
    for relation, relation_id in zip(document.relations, relation_ids, strict=True):
        args = " ".join(f"{role}:{renamed.get(argument, argument)}"
                        for role, argument in relation["args"].items())
        relation_lines.append(f"{relation_id}\t{relation['type']} {args}")
    groups = {"T": entity_lines, "R": relation_lines, "O": list(kept.get("other_lines") or [])}
    return "".join(line + "\n" for _, line in in_layout(kept.get("order"), groups))
