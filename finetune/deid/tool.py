"""`python -m finetune.deid`: find PHI in notes with a fine-tuned model and the rule layer, then tag it.

Per chunk of notes: the model's entities (through `finetune.inference.predictor.Predictor`, the prediction
fast path) above each category's `threshold`, plus the rules' spans, merged into unions that keep
their sources; then `mode=tag` writes each note with every PHI span replaced by `template`
(`[**{category}**]`, or e.g. `[**{subtype}**]`) in the input's own layout, and `mode=spans` writes
the span file alone. The span file (`finetune.deid.span_files`: JSONL, or brat) never holds PHI
text unless `include_text=true`.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import itertools
import json
import os
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import MISSING
from tqdm import tqdm

from finetune.corpora.document import Document, Entity
from finetune.corpora.formats import read_corpus
from finetune.corpora.formats.i2b2_2014 import CATEGORIES, CATEGORY_OF
from finetune.deid.audit import audit
from finetune.deid.detectors import RULE_NAMES, RuleSet, build_rules
from finetune.deid.records import FORMATS, NoteRecord, RecordWriter, detect_format, read_records
from finetune.deid.rules import PhiSpan
from finetune.deid.span_files import SPAN_FORMATS, SpanWriter
from finetune.deid.surrogates import Surrogates
from finetune.inference.runner import (
    InferenceRunConfig,
    RunMarker,
    check_inference_settings,
    inputs_fingerprints,
    load_predictor,
    run_settings,
    shard_of,
)
from gatortron_common.atomic import atomic_open, remove_stale_partials, restrict_outputs_to
from gatortron_common.fingerprint import files_fingerprint
from gatortron_common.logging import InputError, SkipReport, get_logger
from gatortron_common.outputs import check_output_path, refuse_output_that_is_input
from gatortron_common.settings import register_schema
from gatortron_common.shards import Shard

logger = get_logger("finetune.deid")
MODES: tuple[str, ...] = ("tag", "surrogate", "spans")
SECRET_VARIABLE = "GATORTRON_DEID_SECRET"
MIN_SECRET_BYTES = 16


@dataclass
class RuleConfig:
    """The rule layer.

    Attributes:
        enabled: rules to run (`finetune.deid.detectors.RULE_NAMES`); [] runs none.
        patterns: per-rule replacement regular expressions (e.g. your MRN shape).
        scores: per-rule replacement scores.
        custom: your own rules: name -> {subtype, patterns, score, ignore_case}.
        deny: subtype -> words or phrases always PHI of that subtype (staff names, your hospitals).
        deny_files: subtype -> a file of such words or phrases, one a line.
        allow: words or phrases never PHI (your own vocabulary).
        allow_files: files of such words or phrases.
        clinical_allow: use the shipped clinical allow-list (drugs, diseases, eponyms, anatomy, units).
        filter_model: keep of a model's spans only what could be PHI by its form and the word lists
            (`finetune.deid.model_filter`); false trusts the model as it is.
    """

    enabled: list[str] = field(default_factory=lambda: list(RULE_NAMES))
    patterns: dict[str, list[str]] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)
    custom: dict[str, Any] = field(default_factory=dict)
    deny: dict[str, list[str]] = field(default_factory=dict)
    deny_files: dict[str, str] = field(default_factory=dict)
    allow: list[str] = field(default_factory=list)
    allow_files: list[str] = field(default_factory=list)
    clinical_allow: bool = True
    filter_model: bool = True


@dataclass
class DeidConfig(InferenceRunConfig):
    """Settings of `python -m finetune.deid` (and of every inference run: `finetune.inference.runner`).

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
            variable); required for mode=surrogate, at least 16 bytes (128 bits: e.g. `openssl rand
            -hex 16`). Prefer the variable: a command line is visible.
        template: what a PHI span becomes (mode=tag); `{category}` and `{subtype}` are filled in. In
            mode=surrogate, what a span becomes when no safe surrogate can be made (e.g. a date that
            does not parse).
        age_over_89: what an age of 90 or more becomes in mode=surrogate (HIPAA aggregates them).
        spans: the span file; null = `<output>.spans.jsonl` (`<output>.spans/` for brat).
        spans_format: `jsonl` or `brat` (`finetune.deid.span_files`).
        include_text: put each span's text in the span file (PHI: off by default).
        threshold: per-category minimum model score in [0, 1] (e.g. `{NAME: 0.3}`); de-id favours recall.
        default_threshold: the minimum (in [0, 1]) for categories not in `threshold`.
        rules: the rule layer.
        gold: an annotated corpus of the same notes (i2b2 2014 XML, or `gold_format`) to audit the
            run against: residual PHI per category and the i2b2 2014 scores, written to
            `<span file>.audit.json` (input must be i2b2 2014 XML or .txt notes named like it).
        gold_format: the gold corpus's format.
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
    age_over_89: str = "90+"
    spans: str | None = None
    spans_format: str = "jsonl"
    include_text: bool = False
    threshold: dict[str, float] = field(default_factory=dict)
    default_threshold: float = 0.0
    rules: RuleConfig = field(default_factory=RuleConfig)
    gold: str | None = None
    gold_format: str = "i2b2_2014"


register_schema("finetune_deid_schema", DeidConfig)


def replace_spans(text: str, spans: Sequence[PhiSpan],
                  replacements: Sequence[str]) -> tuple[str, list[Entity]]:
    """`text` with each (non-overlapping, sorted) span replaced by its replacement, and the
    replacements as entities at their offsets in the new text."""
    pieces, entities, position, length = [], [], 0, 0
    for span, new in zip(spans, replacements, strict=True):
        kept = text[position:span.start]
        start = length + len(kept)
        pieces += [kept, new]
        length = start + len(new)
        if new:
            entities.append(Entity(start=start, end=length, type=span.subtype, category=span.category,
                                   attributes={"comment": ""}))
        position = span.end
    pieces.append(text[position:])
    return "".join(pieces), entities


def note_scope(record: NoteRecord) -> str:
    """Whose surrogates must agree: the patient's when a patient key is set, else the note's."""
    return f"patient:{record.patient}" if record.patient is not None else f"note:{record.id}"


def replacements_for(settings: DeidConfig, surrogates: Surrogates | None, record: NoteRecord,
                 spans: Sequence[PhiSpan]) -> list[str]:
    """What each span of `record` becomes: its tag, or its surrogate (which knows the whole note, so
    that a surrogate never repeats another PHI word of it and one person's name forms agree)."""
    if surrogates is None:
        return [settings.template.format(category=span.category, subtype=span.subtype) for span in spans]
    return surrogates.note_replacements(record.text, spans, note_scope(record))


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
    """Checked settings: what to read and write, and whether an identical run already finished."""

    fmt: str
    source: Path
    surrogates: Surrogates | None
    target: Path | None
    span_file: Path
    rules: RuleSet
    audit_file: Path | None
    marker: RunMarker
    shard: Shard
    input_bytes: int
    finished: dict[str, Any] | None = None

    @property
    def outputs(self) -> list[Path]:
        return [path for path in (self.target, self.span_file, self.audit_file) if path is not None]


def _check_numbers(settings: DeidConfig) -> None:
    unknown = sorted(set(settings.threshold) - set(CATEGORIES))
    if unknown:
        raise InputError(f"threshold: unknown categories {', '.join(unknown)}; "
                         f"known: {', '.join(CATEGORIES)}")
    # A threshold above 1 silently drops every span of its category: a privacy failure, not a tuning.
    for name, value in [*((f"threshold.{key}", value) for key, value in settings.threshold.items()),
                        ("default_threshold", settings.default_threshold)]:
        if not 0.0 <= float(value) <= 1.0:
            raise InputError(f"{name}={value}: a model score threshold must lie in [0, 1]")
    check_inference_settings(settings)


def _surrogates(settings: DeidConfig) -> Surrogates | None:
    if settings.mode != "surrogate":
        return None
    secret = settings.secret or os.environ.get(SECRET_VARIABLE)
    if not secret:
        raise InputError(f"mode=surrogate needs a secret: set {SECRET_VARIABLE} (or secret=...)")
    if len(secret.encode("utf-8")) < MIN_SECRET_BYTES:
        # A short key can be found by trying them all; with the patient key kept, that reverses surrogates.
        raise InputError(f"secret: shorter than {MIN_SECRET_BYTES * 8} bits ({MIN_SECRET_BYTES} bytes); "
                         f"make one with e.g. `openssl rand -hex 16`")
    if not settings.age_over_89.strip():
        raise InputError("age_over_89: must not be empty (e.g. '90+' or '90 or older')")
    return Surrogates(secret, tag_template=settings.template, age_over_89=settings.age_over_89)


def _check_output(path: Path, setting: str, writes_folder: bool, settings: DeidConfig, source: Path) -> None:
    """The one output rule (never the notes, the model or the gold corpus, nor inside or around
    them; an existing output only with overwrite=true), plus: a file output never replaces a folder,
    with or without overwrite, so it can never die on one after all the work."""
    inputs = [source, settings.model, settings.gold]
    refuse_output_that_is_input(path, inputs, setting, replaces_directory=True, within_inputs=True)
    if not writes_folder and path.is_dir():
        raise InputError(f"{setting}={path} is a folder, but a file is written there; name a file")
    check_output_path(path, setting, settings.overwrite, lambda _: False, inputs=inputs,
                      what="de-identification output", kind="directory" if writes_folder else "file",
                      within_inputs=True)


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
    if settings.patient_key is not None and fmt in ("txt", "i2b2_2014"):
        raise InputError(f"patient_key: {fmt} notes have no fields; use CSV/TSV or JSONL")
    try:
        settings.template.format(category="NAME", subtype="PATIENT")
    except (KeyError, IndexError, ValueError):
        raise InputError("template: only {category} and {subtype} can be filled in") from None
    _check_numbers(settings)
    surrogates = _surrogates(settings)
    given = settings.rules
    rules = build_rules(given.enabled, given.patterns, given.scores, custom=given.custom, deny=given.deny,
                        deny_files=given.deny_files, allow=given.allow, allow_files=given.allow_files,
                        clinical_allow=given.clinical_allow, filter_model=given.filter_model)
    if settings.model is None and not rules:
        raise InputError("model=null and no rules enabled: nothing would be found")
    if settings.model is not None and not Path(settings.model).is_dir():
        raise InputError(f"model={settings.model}: no such model directory")
    shard = shard_of(settings)
    output = shard.path(settings.output, "output")
    target = None if settings.mode == "spans" else output
    if settings.spans_format not in SPAN_FORMATS:
        raise InputError(f"spans_format={settings.spans_format}: expected one of {', '.join(SPAN_FORMATS)}")
    default_spans = f"{output}.spans" + (".jsonl" if settings.spans_format == "jsonl" else "")
    span_file = output if target is None else (shard.path(settings.spans, "spans") if settings.spans
                                               else Path(default_spans))
    if target is not None and span_file.resolve() == target.resolve():
        raise InputError(f"spans={settings.spans}: is the output itself; the span file needs its own path")
    audit_file = None
    if settings.gold is not None:
        if fmt not in ("i2b2_2014", "txt"):
            raise InputError("gold=: the audit pairs notes by file name; the input must be i2b2 2014 XML "
                             "or .txt notes")
        if not Path(settings.gold).exists():
            raise InputError(f"gold={settings.gold}: no such file or directory")
        audit_file = span_file.with_suffix(".audit.json")
    fingerprint, input_bytes = files_fingerprint(source)
    marker = RunMarker(span_file.with_suffix(".done.json"), run_identity(settings, fingerprint))
    plan = Plan(fmt=fmt, source=source, surrogates=surrogates, target=target, span_file=span_file,
                rules=rules, audit_file=audit_file, marker=marker, shard=shard, input_bytes=input_bytes)
    plan.finished = marker.finished(plan.outputs, settings.overwrite)
    if plan.finished is None:
        folder_output = fmt == "i2b2_2014" or (fmt == "txt" and source.is_dir())
        if target is not None:
            _check_output(target, "output", folder_output, settings, source)
        _check_output(span_file, "output" if target is None else "spans",
                      settings.spans_format == "brat", settings, source)
    return plan


# --- reruns -------------------------------------------------------------------------------------

def run_identity(settings: DeidConfig, input_fingerprint: str) -> dict[str, Any]:
    """What a finished run's marker records: the inputs' identity and every setting that changes the
    output (the secret only as a keyed fingerprint, which reveals nothing of it)."""
    values = run_settings(asdict(settings), neutral={"secret"})
    secret = settings.secret or os.environ.get(SECRET_VARIABLE)
    if settings.mode == "surrogate" and secret:
        values["secret"] = hmac.new(secret.encode("utf-8"), b"gatortron-deid-run", hashlib.sha256).hexdigest()
    lists = [*settings.rules.deny_files.values(), *settings.rules.allow_files]  # their contents change spans
    inputs = {"input": input_fingerprint,
              **inputs_fingerprints({"model": settings.model, "gold": settings.gold,
                                     **{f"word_list_{index}": path for index, path in enumerate(lists)}})}
    return {"inputs": inputs, "settings": values}


# --- the run ------------------------------------------------------------------------------------

def write_audit(settings: DeidConfig, path: Path, found: dict[str, list[PhiSpan]]) -> dict[str, Any]:
    """Audit the found spans against `settings.gold`, write the report, log the residual PHI."""

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


def _chunks(records: Iterable[tuple[int, NoteRecord]], size: int) -> Iterator[list[tuple[int, NoteRecord]]]:
    chunk: list[tuple[int, NoteRecord]] = []
    for item in records:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def numbered_records(settings: DeidConfig, plan: Plan, skips: SkipReport) -> Iterator[tuple[int, NoteRecord]]:
    """(position in the input, note) of this shard's notes. The first note is read here, before any
    model loads, so that an empty input or a missing patient key fails at once (a shard may hold
    none: more shards than notes)."""
    records = read_records(plan.source, plan.fmt, settings.text_key, settings.text_column,
                           settings.patient_key, skips=skips, shard=plan.shard)
    first = next(records, None)
    if first is None and plan.shard.count == 1:
        raise InputError(f"input={plan.source}: holds no notes")
    if first is None:
        logger.warning("shard %d of %d holds no notes; its outputs are empty", plan.shard.index,
                       plan.shard.count)
    return ((record.position, record) for record in itertools.chain([first] if first is not None else [],
                                                                    records))


def deidentify(settings: DeidConfig) -> dict[str, Any]:
    """De-identify every note of `settings.input`; return the summary (counts only)."""
    plan = validate(settings)
    if plan.finished is not None:
        logger.info("already done by an identical run (%s): skipping; overwrite=true redoes it",
                    plan.marker.path)
        return {**plan.finished.get("summary", {}), "skipped": True}
    restrict_outputs_to([plan.source])  # outputs no more readable than the notes
    skips = SkipReport()
    records = numbered_records(settings, plan, skips)
    stale = remove_stale_partials([*plan.outputs, plan.marker.path])
    if stale:
        logger.info("removed %d partial file(s) a killed earlier run left beside the outputs", stale)
    predictor = None
    if settings.model is not None:
        predictor = load_predictor(settings.model, settings)
    else:
        logger.info("model=null: the rules and word lists alone look for PHI")
    started = time.perf_counter()
    notes, characters, categories, sources = 0, 0, Counter(), Counter()
    left_out: list[str] = []
    found: dict[str, list[PhiSpan]] = {}  # by document id, for the audit
    patient_names: dict[str, dict[str, str]] = {}  # name words found in a patient's earlier notes
    index, count = plan.shard.index, plan.shard.count
    # Progress in bytes of note text: the number of notes in a CSV is unknown until it is read.
    progress = tqdm(desc="de-identify", total=plan.input_bytes // count, unit="B", unit_scale=True,
                    mininterval=2.0)
    writer = RecordWriter(plan.source, plan.target, plan.fmt, settings.text_key, settings.text_column) \
        if plan.target is not None else None
    span_writer = SpanWriter(plan.span_file, settings.spans_format, settings.include_text)
    with span_writer.open(), (writer.open() if writer is not None else contextlib.nullcontext()):
        for chunk in _chunks(records, settings.chunk_documents):
            predicted: list[list[Entity]] = [[] for _ in chunk]
            if predictor is not None:
                documents = [Document(id=record.id, text=record.text) for _, record in chunk]
                predicted = [prediction.entities for prediction in predictor.predict_chunk(documents)]
            for (position, record), entities in zip(chunk, predicted, strict=True):
                progress.update(len(record.text.encode("utf-8")))
                try:
                    memory = patient_names.setdefault(record.patient, {}) \
                        if record.patient is not None else None
                    spans = plan.rules.find(record.text, model_spans(entities, settings.threshold,
                                                                     settings.default_threshold), memory)
                    new_text = replace_spans(record.text, spans, replacements_for(settings, plan.surrogates,
                                                                                  record, spans))
                except Exception as error:  # noqa: BLE001  one note never aborts the run, nor passes through
                    logger.error("%s: could not be de-identified (%s); left out of the output",
                                 record.id, type(error).__name__)
                    left_out.append(record.id)
                    continue
                span_writer.write(record, position, spans)
                categories.update(span.category for span in spans)
                sources.update(source for span in spans for source in span.sources)
                if plan.audit_file is not None:  # gold documents are named by the file's relative stem
                    name = Path(record.id).with_suffix("").as_posix() if plan.fmt == "txt" else record.id
                    found[name] = spans
                if writer is not None:
                    writer.write(record, *new_text)
                notes += 1
                characters += len(record.text)
    progress.update(max(0, progress.total - progress.n))  # the bar counted note text, not the whole file
    progress.close()
    seconds = time.perf_counter() - started
    summary = {"notes": notes, "notes_left_out": len(left_out), "left_out": left_out[:100],
               "spans": sum(categories.values()), "spans_per_category": dict(sorted(categories.items())),
               "spans_by_source": dict(sorted(sources.items())), "seconds": round(seconds, 2),
               "notes_per_second": round(notes / seconds, 2) if seconds else 0.0, "characters": characters,
               "characters_per_second": round(characters / seconds) if seconds else 0,
               "output": str(plan.target) if plan.target else None, "span_file": str(plan.span_file)}
    if predictor is not None:  # the model's share of the time (tokens/s; GPU peak memory)
        summary["prediction"] = {"precision": settings.precision, **predictor.stats.as_dict()}
    summary["skipped_lines"] = skips.as_dict()
    skips.log_summary(logger)
    if plan.audit_file is not None:
        summary["audit"] = write_audit(settings, plan.audit_file, found)
    summary["shard"] = {"index": index, "count": count}
    plan.marker.write(summary)  # last: every output is complete, and a rerun may skip
    if left_out:
        logger.warning("%d note(s) could not be de-identified and were left out (first: %s)", len(left_out),
                       ", ".join(left_out[:3]))
    logger.info("de-identified %d notes in %.1f s (%.1f notes/s): %d PHI spans; wrote %s", notes, seconds,
                summary["notes_per_second"], summary["spans"], plan.target or plan.span_file)
    return summary
