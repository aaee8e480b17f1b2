"""Generate the four synthetic benchmark corpora and write them in their release formats.

    output_dir/
      i2b2_2010/{train,test}/   <id>.txt + <id>.con          train.jsonl, test.jsonl
      i2b2_2012/{train,test}/   <id>.xml (EVENT, TIMEX3, SECTIME, TLINK)
      i2b2_2014/{train,test}/   <id>.xml (every PHI category and subtype)
      i2b2_2014/test_notes.tsv  the test notes unannotated, as a notes export holds them (NOTE_TEXT)
      n2c2_2018/{train,test}/   <id>.txt + <id>.ann (brat, with relations)
      sts/, mednli/, emrqa/     only when named in `corpora`: the 2019 clinical STS and MedNLI
                                releases' files, emrQA-style questions in SQuAD form (train and test)
      summary.json              documents, entities by type, relations (counts only)

Each corpus draws from its own random stream of the seed, so the same seed gives byte-identical
files and adding a corpus never changes another. The whole directory is staged and moved into
place at the end (`atomic_directory`): a killed run leaves nothing that looks complete.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from finetune.corpora.document import Document, write_jsonl
from finetune.corpora.formats import FormatReport, write_corpus
from finetune.qa.squad import Question, write_squad
from gatortron_common.atomic import atomic_directory, atomic_write_text
from gatortron_common.logging import InputError, get_logger
from gatortron_common.outputs import check_output_path
from synthetic.annotated.concepts import concept_note
from synthetic.annotated.config import (
    CONFIG_DIR,
    CORPUS_NAMES,
    PAIRS_PER_DOCUMENT,
    TASK_CORPUS_NAMES,
    AnnotatedCorporaConfig,
)
from synthetic.annotated.deid import deid_note
from synthetic.annotated.emrqa import questions_of
from synthetic.annotated.medications import medication_note
from synthetic.annotated.sentence_pairs import (
    generate_mednli,
    generate_sts,
    write_mednli_release,
    write_sts_release,
)
from synthetic.annotated.temporal import temporal_note
from synthetic.corpora.notes import SyntheticNote, write_notes_delimited
from synthetic.text import Dice

log = get_logger(__name__)
_STREAM = 2018  # SeedSequence stream id of this generator (other synthetic data use others)
RUNS_FROM = (Path(CONFIG_DIR), Path(__file__).resolve().parent)  # this stage's settings and code


@dataclass(frozen=True)
class CorpusSpec:
    """How one corpus is generated and written.

    Args:
        name: directory name under output_dir.
        fmt: `finetune.corpora.formats` format name.
        make: `(dice, index) -> Document` for the index-th document of the corpus.
    """

    name: str
    fmt: str
    make: Callable[[Dice, int], Document]


def _concepts(dice: Dice, index: int) -> Document:
    # The rare shapes on a fixed rhythm, so every few documents carry them whatever the seed.
    return concept_note(dice, f"record-{index + 1}", broken_concept=index % 3 == 0,
                        quoted_concept=index % 4 == 1)


def _deid(dice: Dice, index: int) -> Document:
    return deid_note(dice, f"{100 + index // 4}-{index % 4 + 1:02d}")  # patient-record, as in the release


CORPORA: dict[str, CorpusSpec] = {
    "i2b2_2010": CorpusSpec("i2b2_2010", "i2b2_2010", _concepts),
    "i2b2_2012": CorpusSpec("i2b2_2012", "i2b2_2012", lambda dice, i: temporal_note(dice, str(i + 1))),
    "i2b2_2014": CorpusSpec("i2b2_2014", "i2b2_2014", _deid),
    "n2c2_2018": CorpusSpec("n2c2_2018", "brat", lambda dice, i: medication_note(dice, str(100035 + i))),
}


def split_sizes(documents: int, test_fraction: float) -> tuple[int, int]:
    """(train, test) document counts.

    Args:
        documents: documents in the corpus.
        test_fraction: share for test: round(documents * test_fraction), but at least one
            document when there are two or more, and train keeps at least one.
    """
    test = round(documents * test_fraction)
    if documents >= 2:
        test = min(max(test, 1), documents - 1)
    else:
        test = 0
    return documents - test, test


def generate_corpus(name: str, seed: int, documents: int) -> list[Document]:
    """The documents of corpus `name` for `seed` (deterministic).

    Args:
        name: one of `CORPUS_NAMES`.
        seed: master seed (>= 0).
        documents: how many documents.
    """
    spec = CORPORA[name]
    dice = Dice(np.random.default_rng([seed, _STREAM, CORPUS_NAMES.index(name)]), batch=4096)
    return [spec.make(dice, index) for index in range(documents)]


def _entity_key(category: str | None, entity_type: str) -> str:
    return f"{category}/{entity_type}" if category else entity_type


def corpus_counts(documents: list[Document]) -> dict[str, Any]:
    """Counts for the summary: documents, entities by (category/)type, relations by type.

    Args:
        documents: one split of one corpus.
    """
    entities = Counter(_entity_key(e.category, e.type) for d in documents for e in d.entities)
    counts: dict[str, Any] = {"documents": len(documents), "entities": dict(sorted(entities.items()))}
    relations = Counter(r["type"] for d in documents for r in d.relations)
    if relations:
        counts["relations"] = dict(sorted(relations.items()))
    discontinuous = sum(1 for d in documents for e in d.entities if e.fragments)
    if discontinuous:
        counts["discontinuous_entities"] = discontinuous
    return counts


def generate_emrqa(seed: int, documents: int) -> list[Question]:
    """emrQA-style questions about `documents` synthetic n2c2 2018 notes of `seed` (deterministic)."""
    return questions_of(generate_corpus("n2c2_2018", seed, documents), seed)


def write_task_corpus(name: str, folder: Path, settings: AnnotatedCorporaConfig) -> dict[str, Any]:
    """One of `TASK_CORPUS_NAMES` into `folder` in its release's layout; returns its counts."""
    if name == "emrqa":
        documents = generate_corpus("n2c2_2018", settings.seed, settings.documents)
        train_size, _ = split_sizes(len(documents), settings.test_fraction)
        questions = questions_of(documents, settings.seed)
        train_ids = {document.id for document in documents[:train_size]}
        parts = {"train": [q for q in questions if q.title in train_ids],
                 "test": [q for q in questions if q.title not in train_ids]}
        folder.mkdir(parents=True)
        for split, part in parts.items():
            write_squad(folder / f"medication-{split}.json", part)
        counts = {split: {"documents": len({q.title for q in part}), "questions": len(part)}
                  for split, part in parts.items()}
        return {"format": "squad", "splits": counts}
    count = settings.documents * PAIRS_PER_DOCUMENT
    pairs = generate_sts(settings.seed, count) if name == "sts" else generate_mednli(settings.seed, count)
    train_size, _ = split_sizes(count, settings.test_fraction)
    train, test = pairs[:train_size], pairs[train_size:]
    if name == "sts":
        write_sts_release(folder, train, test)
    else:
        write_mednli_release(folder, {"train": train, "test": test})
    return {"format": "clinical_sts_2019" if name == "sts" else "mednli",
            "splits": {"train": {"pairs": len(train)}, "test": {"pairs": len(test)}}}


def _check_output(settings: AnnotatedCorporaConfig) -> None:
    if Path(settings.output_dir).is_file():
        raise InputError(f"output_dir={settings.output_dir}: is a file")
    # output_dir is replaced as a whole (an earlier run's too, with overwrite=true only): never the
    # code and settings this stage runs from.
    check_output_path(settings.output_dir, "output_dir", settings.overwrite, lambda _: False,
                      inputs=RUNS_FROM, what="synthetic corpora directory")
    if settings.seed < 0:
        raise InputError(f"seed must be >= 0, got {settings.seed}")
    if settings.documents < 1:
        raise InputError(f"documents must be >= 1, got {settings.documents}")
    if not 0.0 <= settings.test_fraction < 1.0:
        raise InputError(f"test_fraction must be in [0, 1), got {settings.test_fraction}")
    known = CORPUS_NAMES + TASK_CORPUS_NAMES
    unknown = sorted(set(settings.corpora) - set(known))
    if unknown or not settings.corpora:
        raise InputError(f"corpora must be a non-empty list of {', '.join(known)}; "
                         f"unknown: {', '.join(unknown) or 'none'}")


def write_annotated_corpora(settings: AnnotatedCorporaConfig) -> dict[str, Any]:
    """Generate and write the corpora in `settings.corpora`; return the summary (counts only).

    Args:
        settings: output_dir, seed, documents per corpus, test_fraction, corpora, overwrite.

    Raises:
        InputError: bad settings, or an existing non-empty output_dir without overwrite=true.
    """
    _check_output(settings)
    train_size, _ = split_sizes(settings.documents, settings.test_fraction)
    summary: dict[str, Any] = {"seed": settings.seed, "documents_per_corpus": settings.documents,
                               "corpora": {}}
    with atomic_directory(settings.output_dir) as staging:
        for name in settings.corpora:
            if name in TASK_CORPUS_NAMES:
                summary["corpora"][name] = write_task_corpus(name, staging / name, settings)
                continue
            spec = CORPORA[name]
            documents = generate_corpus(name, settings.seed, settings.documents)
            parts = {"train": documents[:train_size], "test": documents[train_size:]}
            entry: dict[str, Any] = {"format": spec.fmt, "splits": {}}
            for split, split_documents in parts.items():
                if not split_documents:
                    continue
                report = FormatReport(strict=True)
                write_corpus(split_documents, staging / name / split, spec.fmt, report=report)
                if report.total:
                    # The generator builds every span to fit its format; any adjustment is a bug.
                    raise RuntimeError(f"{name}/{split}: the {spec.fmt} writer had to adjust generated "
                                       f"documents: {report.as_dict()['by_reason']}")
                write_jsonl(split_documents, staging / name / f"{split}.jsonl")
                entry["splits"][split] = corpus_counts(split_documents)
            if name == "i2b2_2014" and parts["test"]:
                # What de-identification gets in practice: a notes table (the UF export's columns).
                table = (SyntheticNote(note_id=d.id, mrn=f"P{d.id}", note_type="Clinic note", note_date="",
                                       text=d.text) for d in parts["test"])
                write_notes_delimited(staging / name / "test_notes.tsv", table, "\t")
            summary["corpora"][name] = entry
            totals = Counter(e.type for d in documents for e in d.entities)
            log.info("%s: %d documents, %d entities of %d types (%s)", name, len(documents),
                     sum(totals.values()), len(totals), spec.fmt)
        atomic_write_text(staging / "summary.json", json.dumps(summary, indent=2, sort_keys=True) + "\n")
    summary["output_dir"] = str(Path(settings.output_dir).resolve())
    log.info("wrote %d corpora to %s", len(settings.corpora), summary["output_dir"])
    return summary
