"""Text built left to right with its entities: offsets are recorded as the text is written.

Generators never search the finished text for their surrogates (a name can occur twice, or inside
another word); each annotated piece is recorded at the moment it is appended, so every offset
is exact by construction.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from finetune.corpora.document import Document, Entity

_SLOT = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Mention:
    """An annotated piece of text waiting to be written.

    Args:
        text: the surface string (may contain spaces; a newline only where a format allows it).
        type: entity type.
        category: coarser group where the format has one (2014 `NAME`, 2012 `EVENT`).
        attributes: further attributes kept on the entity.
    """

    text: str
    type: str
    category: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)


class AnnotatedText:
    """Append-only text with entities whose offsets are taken while appending."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._length = 0
        self.entities: list[Entity] = []

    def __len__(self) -> int:
        return self._length

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def add(self, text: str) -> None:
        """Append unannotated text."""
        self._parts.append(text)
        self._length += len(text)

    def mark(self, mention: Mention) -> Entity:
        """Append `mention` and record it as an entity."""
        start = self._length
        self.add(mention.text)
        entity = Entity(start=start, end=self._length, type=mention.type, category=mention.category,
                        attributes=dict(mention.attributes))
        self.entities.append(entity)
        return entity

    def annotate(self, spans: list[tuple[int, int]], entity_type: str, category: str | None = None,
                 attributes: Mapping[str, str] | None = None) -> Entity:
        """Record an entity over text already written (overlapping or discontinuous annotations).

        Args:
            spans: character ranges in order; more than one makes a discontinuous entity.
            entity_type: the entity's type.
            category: coarser group, if the format has one.
            attributes: further attributes.
        """
        if any(not 0 <= start < end <= self._length for start, end in spans):
            raise ValueError(f"spans {spans} are not inside the {self._length} characters written")
        entity = Entity(start=spans[0][0], end=spans[-1][1], type=entity_type, category=category,
                        fragments=list(spans) if len(spans) > 1 else None, attributes=dict(attributes or {}))
        self.entities.append(entity)
        return entity

    def say(self, template: str, **slots: str | Mention) -> dict[str, Entity]:
        """Append `template` with each `{name}` replaced by its slot.

        A `Mention` slot becomes an entity, a plain string is written as is.

        Returns:
            The entity written for each `Mention` slot, by slot name (for relations).
        """
        written: dict[str, Entity] = {}
        for index, piece in enumerate(_SLOT.split(template)):
            if index % 2 == 0:
                if piece:
                    self.add(piece)
                continue
            value = slots[piece]
            if isinstance(value, Mention):
                written[piece] = self.mark(value)
            else:
                self.add(value)
        return written

    def document(self, document_id: str) -> Document:
        """The finished document (entities in the order they were written)."""
        return Document(id=document_id, text=self.text, entities=list(self.entities))
