"""i2b2/UTHealth 2014 de-identification: a directory of stand-off XML files, one per note.

    <deIdi2b2><TEXT><![CDATA[...]]></TEXT><TAGS>
    <DATE id="P0" start="16" end="26" text="2067-05-03" TYPE="DATE" comment="" />
    </TAGS></deIdi2b2>

Each tag becomes `Entity(type=<TYPE>, category=<tag name>, id=<id>, attributes={"comment": ...})`;
offsets index the CDATA text, end exclusive. An unknown category or TYPE is an `InputError`
naming file and tag id unless `allow_unknown=True`.
"""

from __future__ import annotations

import re
from pathlib import Path

from finetune.corpora.document import Document
from finetune.corpora.formats import xml_standoff
from finetune.corpora.formats.common import (
    assign_ids,
    checked,
    entity_where,
    output_directory,
    read_text,
    require_directory,
    safe_file_stem,
    write_text,
)
from finetune.corpora.formats.report import FormatReport
from gatortron_common.logging import InputError

ROOT = "deIdi2b2"
METADATA_KEY = "i2b2_2014"
CATEGORIES: dict[str, tuple[str, ...]] = {
    "NAME": ("PATIENT", "DOCTOR", "USERNAME"),
    "PROFESSION": ("PROFESSION",),
    "LOCATION": ("ROOM", "DEPARTMENT", "HOSPITAL", "ORGANIZATION", "STREET", "CITY", "STATE", "COUNTRY",
                 "ZIP", "LOCATION-OTHER"),
    "AGE": ("AGE",),
    "DATE": ("DATE",),
    "CONTACT": ("PHONE", "FAX", "EMAIL", "URL", "IPADDR"),
    "ID": ("SSN", "MEDICALRECORD", "HEALTHPLAN", "ACCOUNT", "LICENSE", "VEHICLE", "DEVICE", "BIOID", "IDNUM"),
    "OTHER": ("OTHER",),
}
CATEGORY_OF: dict[str, str] = {subtype: category for category, subtypes in CATEGORIES.items()
                               for subtype in subtypes}
_XML_NAME = re.compile(r"[A-Za-z_][\w.-]*")
_OWN = ("id", "start", "end", "text", "TYPE")


def read(path: Path, report: FormatReport, *, allow_unknown: bool = False) -> list[Document]:
    """Read every `*.xml` file of a directory (sorted by name), one document per file.

    Args:
        path: the directory.
        report: span-text mismatches, repairs and skips are noted here.
        allow_unknown: accept categories and TYPEs outside the 2014 guidelines.
    """
    require_directory(path, "i2b2_2014")
    files = sorted(path.glob("*.xml"))
    if not files:
        raise InputError(f"{path}: no .xml files")
    return [_read_file(file, report, allow_unknown) for file in files]


def _read_file(file: Path, report: FormatReport, allow_unknown: bool) -> Document:
    parsed = xml_standoff.parse(read_text(file), file, ROOT, report)
    entities = []
    for tag in parsed.tags:
        where = tag.where(file)
        subtype = tag.attributes.get("TYPE")
        if subtype is None:
            raise InputError(f"{where}: <{tag.name}> has no TYPE attribute")
        if not allow_unknown:
            if tag.name not in CATEGORIES:
                raise InputError(f"{where}: unknown PHI category (the tag name is not one of "
                                 f"{', '.join(CATEGORIES)}; allow_unknown=true accepts it)")
            if subtype not in CATEGORIES[tag.name]:
                raise InputError(f"{where}: the TYPE attribute is not a subtype of {tag.name} (expected "
                                 f"{', '.join(CATEGORIES[tag.name])}; allow_unknown=true accepts it)")
        entity = xml_standoff.tag_entity(tag, subtype, parsed.text, file, report, _OWN)
        if entity is not None:
            entities.append(entity)
    metadata = {METADATA_KEY: {"layout": parsed.layout}} if parsed.layout else {}
    return Document(id=file.stem, text=parsed.text, entities=entities, metadata=metadata)


def write(documents: list[Document], path: Path, report: FormatReport, *, allow_unknown: bool = False) -> int:
    """Write one `<id>.xml` per document into directory `path` (replaced as a whole, atomically).

    Args:
        documents: documents to write; an entity without a category gets the one its TYPE belongs to.
        path: output directory.
        report: adjustments (discontinuous spans joined) are noted here.
        allow_unknown: write categories and TYPEs outside the 2014 guidelines.
    """
    documents = checked(documents)
    with output_directory(path, (".xml",), "i2b2_2014") as staging:
        for document in documents:
            stem = safe_file_stem(document)
            write_text(staging / f"{stem}.xml", render(document, report, allow_unknown))
    return len(documents)


def render(document: Document, report: FormatReport, allow_unknown: bool = False) -> str:
    """The XML file for one document (see `write`)."""
    ids = assign_ids([entity.id for entity in document.entities], ["P"] * len(document.entities))
    tags = []
    for index, (entity, entity_id) in enumerate(zip(document.entities, ids, strict=True)):
        where = entity_where(document, entity, index)
        category = entity.category if entity.category is not None else CATEGORY_OF.get(entity.type)
        if category is None:
            raise InputError(f"{where}: the type is not an i2b2 2014 PHI TYPE and the entity has no category")
        if not allow_unknown and entity.type not in CATEGORIES.get(category, ()):
            raise InputError(f"{where}: the category/type pair is not an i2b2 2014 category/TYPE "
                             f"(allow_unknown=true writes it)")
        if not _XML_NAME.fullmatch(category):
            raise InputError(f"{where}: the category cannot be an XML tag name")
        attributes = xml_standoff.span_attributes(entity_id, entity, document.text, where, report)
        attributes.append(("TYPE", entity.type))
        attributes += xml_standoff.ordered_attributes([("comment", "")], entity.attributes, _OWN)
        tags.append((category, attributes))
    layout = (document.metadata.get(METADATA_KEY) or {}).get("layout")
    return xml_standoff.render(ROOT, document.text, tags, layout, f"document {document.id}")
