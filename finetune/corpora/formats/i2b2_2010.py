"""i2b2 2010 concepts: `<id>.txt` (one sentence per line, whitespace tokens) + `<id>.con`.

    c="asymptomatic" 16:2 16:2||t="problem"
    c=""leaky valve"" 31:13 31:14||t="problem"

Positions are `line:token`, line 1-based, token 0-based, end inclusive; a concept may end on a
later line than it starts. The `c=` text is the covered tokens joined by single spaces,
lowercased; it may itself contain quotes. Entities: `type` in problem / test / treatment,
character offsets from the first token's start to the last token's end, no category.

Directory layout: `.txt` and `.con` side by side, or the release's `txt/` and `concept/` folders.
Writing an entity whose boundaries are not token boundaries widens it to whole tokens (reported).
"""

from __future__ import annotations

import bisect
import re
from pathlib import Path

from finetune.corpora.document import Document, Entity
from finetune.corpora.formats.common import (
    checked,
    compare_span_text,
    entity_where,
    output_directory,
    read_text,
    require_directory,
    safe_file_stem,
    whitespace_token_spans,
    write_text,
)
from finetune.corpora.formats.report import ADJUST, SKIP, FormatReport
from finetune.tagging.labels import snap_to_words
from gatortron_common.logging import InputError, location

TYPES = ("problem", "test", "treatment")
# Greedy c="..." so quotes inside the concept text stay in it.
_CONCEPT = re.compile(r'c="(.*)" (\d+):(\d+) (\d+):(\d+)\|\|t="([^"]*)"')


class _Grid:
    """The text's tokens by line, to turn `line:token` into character offsets and back."""

    def __init__(self, text: str) -> None:
        self.lines: list[list[tuple[int, int]]] = []
        offset = 0
        for line in text.split("\n"):
            self.lines.append([(offset + start, offset + end) for start, end in whitespace_token_spans(line)])
            offset += len(line) + 1
        self.flat = [span for line in self.lines for span in line]
        self.starts = [start for start, _ in self.flat]
        self.positions = [(number, index) for number, line in enumerate(self.lines, start=1)
                          for index in range(len(line))]

    def span(self, line: int, token: int) -> tuple[int, int] | None:
        if 1 <= line <= len(self.lines) and 0 <= token < len(self.lines[line - 1]):
            return self.lines[line - 1][token]
        return None


def _files(path: Path) -> tuple[Path, Path]:
    """(text folder, concept folder): the release layout when `txt/` exists, else `path` for both."""
    if (path / "txt").is_dir():
        return path / "txt", path / "concept"
    return path, path


def read(path: Path, report: FormatReport, *, gold: bool = True,
         allow_unknown: bool = False) -> list[Document]:
    """Read every `.txt` (sorted by name) with its `.con`.

    Args:
        path: directory with `.txt` + `.con`, or with `txt/` + `concept/` folders.
        report: concept-text mismatches are noted here.
        gold: a `.txt` without `.con` is an error; with False it is a document without entities.
        allow_unknown: accept concept types other than problem / test / treatment.
    """
    require_directory(path, "i2b2_2010")
    text_dir, concept_dir = _files(path)
    texts = sorted(text_dir.glob("*.txt"))
    if not texts:
        raise InputError(f"{text_dir}: no .txt files")
    stems = {file.stem for file in texts}
    for orphan in sorted(concept_dir.glob("*.con")) if concept_dir.is_dir() else []:
        if orphan.stem not in stems:
            raise InputError(f"{orphan}: no matching {orphan.stem}.txt in {text_dir}")
    documents = []
    for file in texts:
        concepts = concept_dir / f"{file.stem}.con"
        text = read_text(file)
        if not concepts.exists():
            if gold:
                raise InputError(f"{file}: no matching {concepts} (gold=false reads texts alone)")
            documents.append(Document(id=file.stem, text=text))
            continue
        entities = _read_concepts(concepts, _Grid(text), text, report, allow_unknown)
        documents.append(Document(id=file.stem, text=text, entities=entities))
    return documents


def _read_concepts(path: Path, grid: _Grid, text: str, report: FormatReport,
                   allow_unknown: bool) -> list[Entity]:
    entities = []
    for number, line in enumerate(read_text(path).split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        where = location(path, number)
        match = _CONCEPT.fullmatch(line)
        if match is None:
            raise InputError(f'{where}: not a concept line (expected c="..." L:T L:T||t="type")')
        concept, type_name = match.group(1), match.group(6)
        first, last = (int(match.group(2)), int(match.group(3))), (int(match.group(4)), int(match.group(5)))
        if type_name not in TYPES and not allow_unknown:
            raise InputError(f'{where}: unknown concept type in t="..." (expected {", ".join(TYPES)}; '
                             f"allow_unknown=true accepts it)")
        start_span, end_span = grid.span(*first), grid.span(*last)
        if start_span is None or end_span is None:
            raise InputError(f"{where}: position {first[0]}:{first[1]} or {last[0]}:{last[1]} is past the "
                             f"text ({len(grid.lines)} lines)")
        if last < first:
            raise InputError(f"{where}: the concept ends before it starts")
        start, end = start_span[0], end_span[1]
        tokens = " ".join(text[s:e] for s, e in grid.flat[bisect.bisect_left(grid.starts, start):
                                                          bisect.bisect_left(grid.starts, end)])
        compare_span_text(concept, tokens, where, report, ignore_case=True)
        entities.append(Entity(start=start, end=end, type=type_name))
    return entities


def write(documents: list[Document], path: Path, report: FormatReport) -> int:
    """Write `<id>.txt` + `<id>.con` per document into directory `path` (replaced atomically).

    Spans not on token boundaries are widened to whole tokens, a span over whitespace only is
    left out, a discontinuous one becomes first start to last end; all of these are reported.
    """
    documents = checked(documents)
    with output_directory(path, (".txt", ".con"), "i2b2_2010") as staging:
        for document in documents:
            stem = safe_file_stem(document)
            write_text(staging / f"{stem}.txt", document.text)
            write_text(staging / f"{stem}.con", render_concepts(document, report))
    return len(documents)


def render_concepts(document: Document, report: FormatReport) -> str:
    """The .con file for one document (see `write`)."""
    grid = _Grid(document.text)
    lines = []
    for index, entity in enumerate(document.entities):
        where = entity_where(document, entity, index)
        if '"' in entity.type or "\n" in entity.type:
            raise InputError(f"{where}: a concept type cannot contain quotes or line breaks")
        if entity.fragments and len(entity.fragments) > 1:
            report.note(ADJUST, "discontinuous span written as one span", where)
        covered = snap_to_words(grid.flat, grid.starts, entity.start, entity.end)
        if covered is None:
            report.note(SKIP, "span covers no token, left out", where)
            continue
        first, last, widened = covered
        if widened:
            report.note(ADJUST, "span widened to whole tokens", where)
        concept = " ".join(document.text[s:e] for s, e in grid.flat[first:last + 1]).lower()
        (line1, token1), (line2, token2) = grid.positions[first], grid.positions[last]
        lines.append(f'c="{concept}" {line1}:{token1} {line2}:{token2}||t="{entity.type}"\n')
    return "".join(lines)
