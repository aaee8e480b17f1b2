"""`python -m finetune.deid`: find PHI in notes with a fine-tuned model and the rule layer, then tag it.

Per chunk of notes: the model's entities (through `finetune.inference.Predictor`, the prediction
fast path) above each category's `threshold`, plus the rules' spans, merged into unions that keep
their sources; then `mode=tag` writes each note with every PHI span replaced by `template`
(`[**{category}**]`, or e.g. `[**{subtype}**]`) in the input's own layout, and `mode=spans` writes
the span file alone. The span file (`finetune.deid.span_files`: JSONL, or brat) never holds PHI
text unless `include_text=true`.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import MISSING
from tqdm import tqdm

from finetune.deid.audit import audit
from finetune.deid.records import FORMATS, NoteRecord, RecordWriter, detect_format, read_records
from finetune.deid.rules import RULE_NAMES, PhiSpan, Rule, build_rules, find_rule_spans, merge_spans
from finetune.deid.span_files import SPAN_FORMATS, SpanWriter
from finetune.deid.surrogates import Surrogates
from finetune.document import Document, Entity
from finetune.formats.i2b2_2014 import CATEGORIES, CATEGORY_OF
from finetune.inference import Predictor
from finetune.model import load_ner_model
from gatortron_common.atomic import atomic_open
from gatortron_common.logging import InputError, get_logger
from gatortron_common.outputs import refuse_output_that_is_input
from gatortron_common.settings import register_schema
from gatortron_common.shards import resolve_shard

logger = get_logger("finetune.deid")
MODES: tuple[str, ...] = ("tag", "surrogate", "spans")
SECRET_VARIABLE = "GATORTRON_DEID_SECRET"


@dataclass
class RuleConfig:
    """The rule layer.

    Attributes:
        enabled: rules to run (`finetune.deid.rules.RULE_NAMES`); [] runs none.
        patterns: per-rule replacement regular expressions (e.g. your MRN shape).
        scores: per-rule replacement scores.
    """

    enabled: list[str] = field(default_factory=lambda: list(RULE_NAMES))
    patterns: dict[str, list[str]] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)


@dataclass
class DeidConfig:
    """Settings of `python -m finetune.deid`.

    Attributes:
        model: a de-id model directory from `python -m finetune` (its `model/`); null runs the rules alone.
        input: a folder of .txt notes, a .txt file, a notes .jsonl / .csv / .tsv file, or a folder of
            i2b2 2014 XML files.
        output: the de-identified notes (same layout; a folder for a folder), or for mode=spans the
            span file.
        mode: `tag` (replace each PHI span by `template`), `surrogate` (by a realistic, consistent
            surrogate: `finetune.deid.surrogates`) or `spans` (the span file only).
        input_format: `txt`, `jsonl`, `csv`, `tsv` or `i2b2_2014`; null tells by the name.
        text_key: JSONL key of the note text.
        text_column: CSV/TSV column of the note text.
        patient_key: CSV/TSV column or JSONL key naming the patient: surrogates (names, date shift)
            are then consistent across all of a patient's notes, not only within a note.
        secret: the key surrogates are derived from (else the GATORTRON_DEID_SECRET environment
            variable); required for mode=surrogate. Prefer the variable: a command line is visible.
        template: what a PHI span becomes (mode=tag); `{category}` and `{subtype}` are filled in.
        spans: the span file; null = `<output>.spans.jsonl` (`<output>.spans/` for brat).
        spans_format: `jsonl` or `brat` (`finetune.deid.span_files`).
        include_text: put each span's text in the span file (PHI: off by default).
        threshold: per-category minimum model score (e.g. `{NAME: 0.3}`); de-id favours recall.
        default_threshold: the minimum for categories not in `threshold`.
        rules: the rule layer.
        gold: an annotated corpus of the same notes (i2b2 2014 XML, or `gold_format`) to audit the
            run against: residual PHI per category and the i2b2 2014 scores, written to
            `<span file>.audit.json` (input must be i2b2 2014 XML or .txt notes named like it).
        gold_format: the gold corpus's format.
        batch_size: windows per forward pass.
        batch_tokens: tokens per forward pass (null: 512 on a CPU, no limit on a GPU).
        precision: `fp32`, `bf16` or `fp16` (GPU).
        device: `auto`, `cpu`, `cuda` or `cuda:N`.
        chunk_documents: notes read and processed together.
        shard_index: this process's shard: it takes every shard_count-th note (None: the Slurm array
            task, else 0); `{shard}` in output / spans names each shard's own files.
        shard_count: number of shards (None: the Slurm array's size, else 1).
        overwrite: replace existing outputs (a finished run's outputs are skipped, not refused).
        log_level: logging level.
    """

    model: str | None = MISSING
    input: str = MISSING
    output: str = MISSING
    mode: str = "tag"
    input_format: str | None = None
    text_key: str = "text"
    text_column: str = "NOTE_TEXT"
    patient_key: str | None = None
    secret: str | None = None
    template: str = "[**{category}**]"
    spans: str | None = None
    spans_format: str = "jsonl"
    include_text: bool = False
    threshold: dict[str, float] = field(default_factory=dict)
    default_threshold: float = 0.0
    rules: RuleConfig = field(default_factory=RuleConfig)
    gold: str | None = None
    gold_format: str = "i2b2_2014"
    batch_size: int = 16
    batch_tokens: int | None = None
    precision: str = "fp32"
    device: str = "auto"
    chunk_documents: int = 64
    shard_index: int | None = None
    shard_count: int | None = None
    overwrite: bool = False
    log_level: str = "INFO"


register_schema("finetune_deid_schema", DeidConfig)


def replace_spans(text: str, spans: Sequence[PhiSpan],
                  replacement: Callable[[PhiSpan, str], str]) -> tuple[str, list[Entity]]:
    """`text` with each (non-overlapping, sorted) span replaced by `replacement(span, original)`, and
    the replacements as entities at their offsets in the new text."""
    pieces, entities, position, length = [], [], 0, 0
    for span in spans:
        kept, new = text[position:span.start], replacement(span, text[span.start:span.end])
        start = length + len(kept)
        pieces += [kept, new]
        length = start + len(new)
        if new:
            entities.append(Entity(start=start, end=length, type=span.subtype, category=span.category,
                                   attributes={"comment": ""}))
        position = span.end
    pieces.append(text[position:])
    return "".join(pieces), entities


def replacer(settings: DeidConfig, surrogates: Surrogates | None,
             record: NoteRecord) -> Callable[[PhiSpan, str], str]:
    """What a span of `record` becomes: its tag, or its surrogate within the note's or patient's scope."""
    if surrogates is None:
        return lambda span, _: settings.template.format(category=span.category, subtype=span.subtype)
    scope = f"patient:{record.patient}" if record.patient is not None else f"note:{record.id}"
    return lambda span, original: surrogates.replace(original, span.subtype, scope)


def model_spans(entities: Sequence[Entity], thresholds: dict[str, float], default: float) -> list[PhiSpan]:
    """The model's entities as PHI spans, those under their category's threshold left out."""
    spans = []
    for entity in entities:
        category = entity.category or CATEGORY_OF.get(entity.type, entity.type)
        score = float(entity.attributes.get("score", 1.0))
        if score >= thresholds.get(category, default):
            spans.append(PhiSpan(entity.start, entity.end, category, entity.type, score, ("model",)))
    return spans


@dataclass
class Plan:
    """Checked settings: what to read and write."""

    fmt: str
    source: Path
    surrogates: Surrogates | None
    target: Path | None
    span_file: Path
    rules: list[Rule]
    audit_file: Path | None
    done_file: Path
    shard: tuple[int, int]


def validate(settings: DeidConfig) -> Plan:
    """Check every setting before any work (one `InputError` naming the first bad one)."""
    if settings.mode not in MODES:
        raise InputError(f"mode={settings.mode}: expected one of {', '.join(MODES)}")
    source = Path(settings.input)
    if not source.exists():
        raise InputError(f"input={source}: no such file or directory")
    fmt = settings.input_format or detect_format(source)
    if fmt not in FORMATS:
        raise InputError(f"input_format={fmt}: expected one of {', '.join(FORMATS)}")
    try:
        settings.template.format(category="NAME", subtype="PATIENT")
    except (KeyError, IndexError, ValueError):
        raise InputError("template: only {category} and {subtype} can be filled in") from None
    unknown = sorted(set(settings.threshold) - set(CATEGORIES))
    if unknown:
        raise InputError(f"threshold: unknown categories {', '.join(unknown)}; "
                         f"known: {', '.join(CATEGORIES)}")
    surrogates = None
    if settings.mode == "surrogate":
        secret = settings.secret or os.environ.get(SECRET_VARIABLE)
        if not secret:
            raise InputError(f"mode=surrogate needs a secret: set {SECRET_VARIABLE} (or secret=...)")
        surrogates = Surrogates(secret)
    rules = build_rules(settings.rules.enabled, settings.rules.patterns, settings.rules.scores)
    if settings.model is None and not rules:
        raise InputError("model=null and no rules enabled: nothing would be found")
    index, count = resolve_shard(settings.shard_index, settings.shard_count)
    if count > 1 and "{shard}" not in settings.output:
        raise InputError("output must contain {shard} when shard_count > 1 (one output per shard)")
    output = Path(settings.output.replace("{shard}", str(index)))
    target = None if settings.mode == "spans" else output
    if settings.spans_format not in SPAN_FORMATS:
        raise InputError(f"spans_format={settings.spans_format}: expected one of {', '.join(SPAN_FORMATS)}")
    default_spans = f"{output}.spans" + (".jsonl" if settings.spans_format == "jsonl" else "")
    span_file = output if target is None else Path((settings.spans or default_spans)
                                                   .replace("{shard}", str(index)))
    done_file = span_file.with_suffix(".done.json")
    finished = done_file.is_file() and not settings.overwrite
    for path in (p for p in (target, span_file) if p is not None and not finished):
        # Replaced as a whole: never the notes, the model or the gold corpus, nor a folder holding one.
        refuse_output_that_is_input(path, [source, settings.model or "", settings.gold or ""],
                                    "spans" if path == span_file and target is not None else "output",
                                    replaces_directory=True)
        resolved, given = path.resolve(), source.resolve()
        if resolved == given or given in resolved.parents or resolved in given.parents:
            raise InputError(f"{path}: an output may not be, contain or lie inside the input")
        if path.exists() and (path.is_file() or any(path.iterdir())) and not settings.overwrite:
            raise InputError(f"{path}: exists; choose a new path or set overwrite=true to replace it")
    audit_file = None
    if settings.gold is not None:
        if fmt not in ("i2b2_2014", "txt"):
            raise InputError("gold=: the audit pairs notes by file name; the input must be i2b2 2014 XML "
                             "or .txt notes")
        if not Path(settings.gold).exists():
            raise InputError(f"gold={settings.gold}: no such file or directory")
        audit_file = span_file.with_suffix(".audit.json")
    return Plan(fmt=fmt, source=source, surrogates=surrogates, target=target, span_file=span_file,
                rules=rules, audit_file=audit_file, done_file=done_file, shard=(index, count))


def write_audit(settings: DeidConfig, path: Path, found: dict[str, list[PhiSpan]]) -> dict[str, Any]:
    """Audit the found spans against `settings.gold`, write the report, log the residual PHI."""
    from finetune.formats import read_corpus

    gold = read_corpus(settings.gold, settings.gold_format)
    missing = sorted(set(found) - {document.id for document in gold})
    if missing:
        logger.warning("%d note(s) have no gold document and are not audited (first: %s)", len(missing),
                       ", ".join(missing[:3]))
    report = audit(gold, found)
    with atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(report, indent=2) + "\n")
    residual = report["residual_phi"]
    for name, counts in [("all", residual["all"]), *residual["per_category"].items()]:
        logger.info("residual PHI %-10s %5d of %5d spans (%.2f %%), %5d of %5d tokens (%.2f %%)", name,
                    counts["spans_left"], counts["spans"], 100 * counts["spans_left_share"],
                    counts["tokens_left"], counts["tokens"], 100 * counts["tokens_left_share"])
    strict = report["scores"]["strict"]["micro"]
    logger.info("audit of %d notes: strict micro P %.4f R %.4f F1 %.4f; report in %s", report["documents"],
                strict["precision"], strict["recall"], strict["f1"], path)
    return {"residual_phi": residual["all"], "strict_micro": strict, "report": str(path)}


def _chunks(records: Iterator[NoteRecord], size: int) -> Iterator[list[NoteRecord]]:
    chunk: list[NoteRecord] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def deidentify(settings: DeidConfig) -> dict[str, Any]:
    """De-identify every note of `settings.input`; return the summary (counts only)."""
    plan = validate(settings)
    if plan.done_file.is_file() and not settings.overwrite:
        logger.info("already done (%s): skipping; overwrite=true redoes it", plan.done_file)
        return {**json.loads(plan.done_file.read_text(encoding="utf-8")), "skipped": True}
    predictor = None
    if settings.model is not None:
        predictor = Predictor(load_ner_model(settings.model), batch_size=settings.batch_size,
                              batch_tokens=settings.batch_tokens, precision=settings.precision,
                              device=settings.device)
    else:
        logger.warning("model=null: only the rules look for PHI (names, places and ages need a model)")
    started = time.perf_counter()
    notes, categories, sources = 0, Counter(), Counter()
    found: dict[str, list[PhiSpan]] = {}  # by document id, for the audit
    records = read_records(plan.source, plan.fmt, settings.text_key, settings.text_column,
                           settings.patient_key)
    index, count = plan.shard
    if count > 1:
        records = (record for position, record in enumerate(records) if position % count == index)
    progress = tqdm(desc="de-identify", unit=" notes", mininterval=2.0)
    writer = RecordWriter(plan.source, plan.target, plan.fmt, settings.text_key, settings.text_column) \
        if plan.target is not None else None
    span_writer = SpanWriter(plan.span_file, settings.spans_format, settings.include_text)
    with span_writer.open(), (writer.open() if writer is not None else contextlib.nullcontext()):
        for chunk in _chunks(records, settings.chunk_documents):
            predicted: list[list[Entity]] = [[] for _ in chunk]
            if predictor is not None:
                documents = [Document(id=record.id, text=record.text) for record in chunk]
                predicted = [prediction.entities for prediction in predictor.predict_chunk(documents)]
            for record, entities in zip(chunk, predicted, strict=True):
                spans = merge_spans(model_spans(entities, settings.threshold, settings.default_threshold)
                                    + find_rule_spans(record.text, plan.rules))
                span_writer.write(record, notes, spans)
                categories.update(span.category for span in spans)
                sources.update(source for span in spans for source in span.sources)
                if plan.audit_file is not None:
                    found[Path(record.id).stem if plan.fmt == "txt" else record.id] = spans
                if writer is not None:
                    writer.write(record, *replace_spans(record.text, spans,
                                                        replacer(settings, plan.surrogates, record)))
                notes += 1
                progress.update(1)
    progress.close()
    seconds = time.perf_counter() - started
    summary = {"notes": notes, "spans": sum(categories.values()),
               "spans_per_category": dict(sorted(categories.items())),
               "spans_by_source": dict(sorted(sources.items())), "seconds": round(seconds, 2),
               "notes_per_second": round(notes / seconds, 2) if seconds else 0.0,
               "output": str(plan.target) if plan.target else None, "span_file": str(plan.span_file)}
    if plan.audit_file is not None:
        summary["audit"] = write_audit(settings, plan.audit_file, found)
    summary["shard"] = {"index": index, "count": count}
    # Written last: its presence means every output of this run (or shard) is complete.
    with atomic_open(plan.done_file, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(summary, indent=2) + "\n")
    logger.info("de-identified %d notes in %.1f s (%.1f notes/s): %d PHI spans; wrote %s", notes, seconds,
                summary["notes_per_second"], summary["spans"], plan.target or plan.span_file)
    return summary
