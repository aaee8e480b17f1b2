"""i2b2 2012 temporal relations: a directory of stand-off XML files, one per discharge summary.

    <ClinicalNarrativeTemporalAnnotation><TEXT><![CDATA[
    ...]]></TEXT><TAGS>
    <EVENT id="E0" start="1" end="10" text="..." modality="FACTUAL" polarity="POS" type="OCCURRENCE" />
    <TIMEX3 id="T0" start="18" end="28" text="..." type="DATE" val="2014-03-21" mod="NA" />
    <SECTIME .../> <TLINK .../>
    </TAGS></ClinicalNarrativeTemporalAnnotation>

EVENT becomes `Entity(type=<type>, category="EVENT", attributes={"modality", "polarity"})`, TIMEX3
`Entity(type=<type>, category="TIMEX3", attributes={"val", "mod"})`. Which tags (and types) become
entities is configurable; every other tag (SECTIME, TLINK, ...) is kept in
`Document.metadata["i2b2_2012"]` and written back unchanged. Files of the real release that are
not well-formed XML are read anyway, each repair reported (see `xml_standoff`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from finetune.corpora.document import Document, Entity
from finetune.corpora.formats import xml_standoff
from finetune.corpora.formats.common import (
    assign_ids,
    checked,
    entity_where,
    in_layout,
    layout_string,
    output_directory,
    read_text,
    require_directory,
    safe_file_stem,
    write_text,
)
from finetune.corpora.formats.report import FormatReport
from gatortron_common.logging import InputError

ROOT = "ClinicalNarrativeTemporalAnnotation"
METADATA_KEY = "i2b2_2012"
EVENT_TYPES = ("PROBLEM", "TEST", "TREATMENT", "CLINICAL_DEPT", "EVIDENTIAL", "OCCURRENCE")
TIMEX_TYPES = ("DATE", "TIME", "DURATION", "FREQUENCY")
_OWN = ("id", "start", "end", "text", "type")
# Attribute order of the release after `id start end text`; a key the entity lacks is left out.
_CANONICAL = {"EVENT": ("modality", "polarity", "type"), "TIMEX3": ("type", "val", "mod")}


def _names(value: Sequence[str] | str | None, option: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = (value,) if isinstance(value, str) else tuple(value)
    if not all(isinstance(name, str) and name for name in names):
        raise InputError(f"i2b2_2012 option {option} must be a list of names")
    return names


def read(path: Path, report: FormatReport, *, tags: Sequence[str] = ("EVENT", "TIMEX3"),
         types: Sequence[str] | None = None) -> list[Document]:
    """Read every `*.xml` file of a directory (sorted by name), one document per file.

    Args:
        path: the directory.
        report: repairs of malformed XML, span-text mismatches and skips are noted here.
        tags: tag names that become entities (the rest is kept in metadata).
        types: if given, only tags whose `type` is listed become entities.
    """
    wanted_tags = _names(tags, "tags") or ()
    wanted_types = _names(types, "types")
    require_directory(path, "i2b2_2012")
    files = sorted(path.glob("*.xml"))
    if not files:
        raise InputError(f"{path}: no .xml files")
    return [_read_file(file, report, wanted_tags, wanted_types) for file in files]


def _read_file(file: Path, report: FormatReport, tags: tuple[str, ...],
               types: tuple[str, ...] | None) -> Document:
    parsed = xml_standoff.parse(read_text(file), file, ROOT, report)
    entities: list[Entity] = []
    others: list[dict[str, Any]] = []
    kinds: list[str] = []
    for tag in parsed.tags:
        entity_type = tag.attributes.get("type")
        if tag.name not in tags or (types is not None and entity_type not in types):
            others.append({"tag": tag.name, "attributes": tag.attributes})
            kinds.append("O")
            continue
        if entity_type is None:
            raise InputError(f"{tag.where(file)}: <{tag.name}> has no type attribute")
        entity = xml_standoff.tag_entity(tag, entity_type, parsed.text, file, report, _OWN)
        if entity is None:
            continue
        entities.append(entity)
        kinds.append("E")
    kept: dict[str, Any] = {}
    if others:
        kept["other_tags"] = others
    order = layout_string(kinds, ["E", "O"])
    if order is not None:
        kept["order"] = order
    if parsed.layout:
        kept["layout"] = parsed.layout
    return Document(id=file.stem, text=parsed.text, entities=entities,
                    metadata={METADATA_KEY: kept} if kept else {})


def write(documents: list[Document], path: Path, report: FormatReport) -> int:
    """Write one `<id>.xml` per document into directory `path` (replaced as a whole, atomically).

    An entity's tag is its category when that is EVENT or TIMEX3, else TIMEX3 for the TIMEX3
    types (DATE, TIME, DURATION, FREQUENCY) and EVENT for any other type. Kept SECTIME/TLINK
    tags are written back as they were read.

    Args:
        documents: documents to write.
        path: output directory.
        report: adjustments (discontinuous spans joined) are noted here.
    """
    documents = checked(documents)
    with output_directory(path, (".xml",), "i2b2_2012") as staging:
        for document in documents:
            stem = safe_file_stem(document)
            write_text(staging / f"{stem}.xml", render(document, report))
    return len(documents)


def _tag_name(entity: Entity) -> str:
    if entity.category in _CANONICAL:
        return entity.category
    return "TIMEX3" if entity.type in TIMEX_TYPES else "EVENT"


def render(document: Document, report: FormatReport) -> str:
    """The XML file for one document (see `write`)."""
    kept = document.metadata.get(METADATA_KEY) or {}
    others = [(str(tag["tag"]), [(str(k), str(v)) for k, v in tag["attributes"].items()])
              for tag in kept.get("other_tags") or []]
    taken = [value for _, attributes in others for key, value in attributes if key == "id"]
    names = [_tag_name(entity) for entity in document.entities]
    ids = assign_ids([entity.id for entity in document.entities],
                     ["T" if name == "TIMEX3" else "E" for name in names], taken)
    entity_tags = []
    for index, entity in enumerate(document.entities):
        where = entity_where(document, entity, index)
        attributes = xml_standoff.span_attributes(ids[index], entity, document.text, where, report)
        canonical = [(key, entity.type if key == "type" else None) for key in _CANONICAL[names[index]]]
        attributes += xml_standoff.ordered_attributes(canonical, entity.attributes, _OWN)
        entity_tags.append((names[index], attributes))
    tags = [tag for _, tag in in_layout(kept.get("order"), {"E": entity_tags, "O": others})]
    return xml_standoff.render(ROOT, document.text, tags, kept.get("layout"), f"document {document.id}")
