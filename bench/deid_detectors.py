"""PHI detectors side by side on annotated notes: the rules, the model, both, and Presidio's patterns.

    python bench/deid_detectors.py [--gold tests/data/deid_eval] [--parts g] [--model demo_out/deid/model]
                                   [--repeat 3] [--json PATH]

Every note of the gold folder (i2b2 2014 XML, `finetune.corpora.formats.i2b2_2014`) goes through
each detector, in one process:

- `rules`: the rule layer alone, `find_rule_spans(text, build_rules())` (`finetune.deid.detectors`);
- `rules, no allow-list`: `build_rules(clinical_allow=False)`, the shipped clinical allow-list off ("n/a"
  where `build_rules` has no such keyword);
- `model alone` and `model + rules` (when `--model` is a directory): `finetune.inference.predictor.Predictor`
  (batch 16, CPU), its entities through `finetune.deid.tool.model_spans` (no threshold) and, for
  `model + rules`, given to the rules (`RuleSet.find(text, model_spans)`: the allow-list, the union
  with the rules' spans by `merge_spans`, name propagation), as `python -m finetune.deid` does;
- `presidio patterns`: Presidio 2.2's predefined recognizers as its default English registry loads them
  (`RecognizerRegistry.load_predefined_recognizers(languages=["en"])`: CreditCard, UsBank, UsLicense,
  UsItin, UsPassport, UsSsn, Nhs, Crypto, Date, Email, Iban, Ip, MedicalLicense, MacAddress, Uuid, Url
  (regular expressions) and Phone (the `phonenumbers` matcher)), without its NLP engine: no spaCy model
  is there offline, so `SpacyRecognizer` (PERSON, LOCATION, ORGANIZATION, NRP, and the spaCy DATE_TIME)
  is left out and no context words raise scores. Each recognizer is called on its own,
  `analyze(text, supported_entities, nlp_artifacts=None)`; one that raises on a note is counted and
  reported, not fatal. Its entity types become i2b2 2014 subtypes (`PRESIDIO_SUBTYPES`; every other
  type, the US_* ids included, is an ID). tldextract (Email) uses its bundled public suffix list, never
  the network. Needs `pip install presidio-analyzer`; without it the row says so.

Tokens are maximal runs of letters and digits (`[^\\W_]+`, Unicode). A token is PHI when it overlaps a
gold span and found when it overlaps a span of the detector. Reported, as counts and ratios only (never
note or span text): token recall, precision (over every token of every note) and F1; the share of gold
PHI letters/digits no detector span covers ("readable"); recall and readable share per gold category
and per subtype; characters/s of the detector alone (best of `--repeat`, after one warm-up note; the
model rows time the whole prediction).
"""

from __future__ import annotations

import bench_environment  # noqa: F401  the repository on sys.path, process settings

import argparse
import inspect
import json
import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import regex
import torch

from finetune.corpora.document import Document
from finetune.corpora.formats import i2b2_2014
from finetune.corpora.formats.i2b2_2014 import CATEGORIES, CATEGORY_OF
from finetune.corpora.formats.report import FormatReport
from finetune.deid.detectors import RuleSet, build_rules, find_rule_spans
from finetune.deid.rules import PhiSpan, merge_spans
from finetune.deid.tool import model_spans

TOKEN = regex.compile(r"[^\W_]+")
PHILTER_NOTE = ("Philter-lite 0.6, not rerun here (it needs an NLTK tagger it cannot download offline): "
                "14.7k-22.7k chars/s measured earlier on this machine (issue 23; ARCHITECTURE.md: ~23k on "
                "one core, 8k on 31k-character notes)")
PRESIDIO_SUBTYPES = {
    "PERSON": "PATIENT", "DATE_TIME": "DATE", "PHONE_NUMBER": "PHONE", "EMAIL_ADDRESS": "EMAIL", "URL": "URL",
    "IP_ADDRESS": "IPADDR", "US_SSN": "SSN", "LOCATION": "LOCATION-OTHER", "ORGANIZATION": "ORGANIZATION",
    "NRP": "OTHER", "MEDICAL_LICENSE": "LICENSE", "US_DRIVER_LICENSE": "LICENSE", "US_BANK_NUMBER": "ACCOUNT",
    "CREDIT_CARD": "ACCOUNT", "IBAN_CODE": "ACCOUNT", "MAC_ADDRESS": "DEVICE",
}  # any other Presidio type (US_PASSPORT, US_ITIN, UK_NHS, UUID, CRYPTO, ...): IDNUM
LEVELS = ("all", "category", "subtype")
COLUMNS = {"rules, no allow-list": "no allow-list", "model alone": "model", "presidio patterns": "presidio"}
T = TypeVar("T")
Detector = Callable[[Sequence[str]], list[list[PhiSpan]]]


# --- token metrics -------------------------------------------------------------------------------

@dataclass
class Counts:
    """One group of gold PHI (all of it, a category or a subtype) as a detector left it."""

    tokens: int = 0  # PHI tokens of the group
    found: int = 0  # ... that overlap a detector span
    chars: int = 0  # letters/digits inside the group's gold spans
    left: int = 0  # ... that no detector span covers

    @property
    def recall(self) -> float | None:
        return self.found / self.tokens if self.tokens else None

    @property
    def readable(self) -> float | None:
        return self.left / self.chars if self.chars else None


@dataclass
class Score:
    """A detector's token counts over the corpus; `groups[(level, name)]`, level one of `LEVELS`."""

    tokens: int = 0
    found_tokens: int = 0  # tokens overlapping a detector span, PHI or not
    groups: dict[tuple[str, str], Counts] = field(default_factory=lambda: defaultdict(Counts))

    @property
    def phi(self) -> Counts:
        return self.groups[("all", "PHI")]

    @property
    def precision(self) -> float | None:
        return self.phi.found / self.found_tokens if self.found_tokens else None

    @property
    def f1(self) -> float | None:
        recall, precision = self.phi.recall, self.precision
        return 2 * recall * precision / (recall + precision) if recall and precision else None


def coverage(length: int, spans: Iterable[tuple[int, int]]) -> bytearray:
    """1 at every character of `range(length)` that one of `spans` (start, end exclusive) covers."""
    mask = bytearray(length)
    for start, end in spans:
        start, end = max(start, 0), min(end, length)
        if end > start:
            mask[start:end] = b"\x01" * (end - start)
    return mask


def gold_masks(document: Document) -> dict[tuple[str, str], bytearray]:
    """The characters of the gold PHI, as a whole, per category and per subtype."""
    members: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for entity in document.entities:
        category = entity.category or CATEGORY_OF[entity.type]
        for key in (("all", "PHI"), ("category", category), ("subtype", entity.type)):
            members[key].append((entity.start, entity.end))
    return {key: coverage(len(document.text), spans) for key, spans in members.items()}


def score_note(score: Score, document: Document, spans: Sequence[PhiSpan]) -> None:
    """Add one note's tokens, found or not, to `score`."""
    text = document.text
    found = coverage(len(text), ((span.start, span.end) for span in spans))
    masks = gold_masks(document)
    for token in TOKEN.finditer(text):
        start, end = token.span()
        hit = any(found[start:end])
        score.tokens += 1
        score.found_tokens += hit
        for key, mask in masks.items():
            chars = sum(mask[start:end])
            if not chars:
                continue
            counts = score.groups[key]
            counts.tokens += 1
            counts.found += hit
            counts.chars += chars
            counts.left += sum(1 for i in range(start, end) if mask[i] and not found[i])


# --- detectors -----------------------------------------------------------------------------------

def timed(run: Callable[[], T], repeat: int) -> tuple[T, float]:
    """`run()`'s result and its best time in seconds over `repeat` runs (at least one)."""
    seconds = []
    for _ in range(max(repeat, 1)):
        started = time.perf_counter()
        result = run()
        seconds.append(time.perf_counter() - started)
    return result, min(seconds)


def rule_detector(rules: RuleSet) -> Detector:
    return lambda texts: [find_rule_spans(text, rules) for text in texts]


def rules_without_allow_list() -> RuleSet | None:
    """`build_rules(clinical_allow=False)`, or None while `build_rules` has no such keyword."""
    if "clinical_allow" not in inspect.signature(build_rules).parameters:
        return None
    return build_rules(clinical_allow=False)


def model_predictions(path: Path) -> Callable[[Sequence[str]], list[list[PhiSpan]]]:
    """The model's spans per note, as `python -m finetune.deid` gets them (no threshold)."""
    from transformers.utils import logging as transformers_logging

    from finetune.inference.predictor import Predictor
    from finetune.models.ner import load_ner_model

    transformers_logging.disable_progress_bar()  # "Loading weights" would interleave with the tables
    predictor = Predictor(load_ner_model(path), batch_size=16, device="cpu")

    def predict(texts: Sequence[str]) -> list[list[PhiSpan]]:
        documents = [Document(id=str(index), text=text) for index, text in enumerate(texts)]
        return [model_spans(prediction.entities, {}, 0.0) for prediction in predictor.predict(documents)]
    return predict


@dataclass
class PresidioPatterns:
    """Presidio's default English recognizers that need no NLP engine (see the module docstring)."""

    recognizers: list[Any]
    failures: Counter[str] = field(default_factory=Counter)

    @classmethod
    def load(cls) -> PresidioPatterns:
        os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")  # the bundled list, no download
        from presidio_analyzer import RecognizerRegistry
        from presidio_analyzer.predefined_recognizers import SpacyRecognizer

        registry = RecognizerRegistry()
        registry.load_predefined_recognizers(languages=["en"])
        return cls([r for r in registry.recognizers if not isinstance(r, SpacyRecognizer)])

    @property
    def names(self) -> list[str]:
        return [type(recognizer).__name__ for recognizer in self.recognizers]

    def __call__(self, texts: Sequence[str]) -> list[list[PhiSpan]]:
        return [merge_spans(self.spans(text)) for text in texts]

    def spans(self, text: str) -> list[PhiSpan]:
        found = []
        for recognizer in self.recognizers:
            try:
                results = recognizer.analyze(text, entities=recognizer.supported_entities, nlp_artifacts=None)
            except Exception:  # noqa: BLE001  one failing recognizer is reported, not fatal
                self.failures[type(recognizer).__name__] += 1
                continue
            for result in results:
                subtype = PRESIDIO_SUBTYPES.get(result.entity_type, "IDNUM")
                found.append(PhiSpan(result.start, result.end, CATEGORY_OF[subtype], subtype, result.score,
                                     (f"presidio:{result.entity_type}",)))
        return found


# --- the run -------------------------------------------------------------------------------------

@dataclass
class Row:
    """One detector's result: a Score and its speed, or why it did not run."""

    name: str
    score: Score | None = None
    seconds: float | None = None
    status: str = ""


def run_detector(name: str, detect: Detector, documents: Sequence[Document], repeat: int) -> Row:
    texts = [document.text for document in documents]
    detect(texts[:1])  # warm-up: lazy loads, first-call caches
    found, seconds = timed(lambda: detect(texts), repeat)
    return score_row(name, documents, found, seconds)


def score_row(name: str, documents: Sequence[Document], found: Sequence[Sequence[PhiSpan]],
              seconds: float) -> Row:
    score = Score()
    for document, spans in zip(documents, found, strict=True):
        score_note(score, document, spans)
    return Row(name, score, seconds)


def model_rows(path: Path, documents: Sequence[Document], rules: RuleSet, repeat: int) -> list[Row]:
    """`model alone` and `model + rules` (`RuleSet.find` given the model's spans, as `finetune.deid` runs
    them); the model is run and timed once for both."""
    texts = [document.text for document in documents]
    predict = model_predictions(path)
    predict(texts[:1])
    predicted, model_seconds = timed(lambda: predict(texts), repeat)
    merged, merge_seconds = timed(lambda: [rules.find(text, spans)
                                           for spans, text in zip(predicted, texts, strict=True)], repeat)
    return [score_row("model alone", documents, predicted, model_seconds),
            score_row("model + rules", documents, merged, model_seconds + merge_seconds)]


def presidio_row(documents: Sequence[Document], repeat: int) -> tuple[Row, PresidioPatterns | None]:
    try:
        presidio = PresidioPatterns.load()
    except ImportError:
        return Row("presidio patterns", status="not installed (pip install presidio-analyzer)"), None
    return run_detector("presidio patterns", presidio, documents, repeat), presidio


# --- the report ----------------------------------------------------------------------------------

def percent(value: float | None, width: int = 8) -> str:
    return f"{100 * value:{width - 2}.1f} %" if value is not None else f"{'-':>{width}}"


def ratio(value: float | None, width: int = 8) -> str:
    return f"{value:{width}.3f}" if value is not None else f"{'-':>{width}}"


def print_main(rows: Sequence[Row], characters: int) -> None:
    print(f"\n{'detector':<24}{'recall':>8}{'precision':>11}{'F1':>8}{'readable':>11}{'chars/s':>11}")
    for row in rows:
        if row.score is None:
            print(f"{row.name:<24}{row.status}")
            continue
        speed = f"{characters / row.seconds:11,.0f}" if row.seconds else f"{'-':>11}"
        print(f"{row.name:<24}{ratio(row.score.phi.recall)}{ratio(row.score.precision, 11)}"
              f"{ratio(row.score.f1)}{percent(row.score.phi.readable, 11)}{speed}")
    print(f"{'':<24}readable: share of gold PHI letters/digits no detector span covers")
    print(f"{'':<24}{PHILTER_NOTE}")


def print_groups(title: str, rows: Sequence[Row], level: str, names: Sequence[str], gold: Score,
                 value: Callable[[Counts], float | None], size: str = "tokens") -> None:
    """A table: one line per group of `level` that has gold PHI, its gold `size` (tokens or chars),
    then `value` of each detector side by side."""
    print(f"\n{title}")
    print(f"{'':<16}{size:>7}" + "".join(f"{COLUMNS.get(row.name, row.name):>15}" for row in rows))
    for name in names:
        counts = gold.groups.get((level, name))
        if counts is None or not counts.tokens:
            continue
        cells = [percent(value(row.score.groups[(level, name)]), 15) if row.score else f"{'n/a':>15}"
                 for row in rows]
        print(f"{name:<16}{getattr(counts, size):>7}" + "".join(cells))


def as_json(rows: Sequence[Row], header: dict[str, Any], presidio: PresidioPatterns | None) -> dict[str, Any]:
    detectors = {}
    for row in rows:
        if row.score is None:
            detectors[row.name] = {"status": row.status}
            continue
        score, characters = row.score, header["characters"]
        groups: dict[str, Any] = {level: {} for level in LEVELS}
        for (level, name), counts in sorted(score.groups.items()):
            groups[level][name] = {**asdict(counts), "recall": counts.recall, "readable": counts.readable}
        detectors[row.name] = {"recall": score.phi.recall, "precision": score.precision, "f1": score.f1,
                               "readable": score.phi.readable, "tokens": score.tokens,
                               "found_tokens": score.found_tokens, "seconds": row.seconds,
                               "chars_per_second": characters / row.seconds if row.seconds else None,
                               "all": groups["all"]["PHI"], "category": groups["category"],
                               "subtype": groups["subtype"]}
    result = {**header, "detectors": detectors, "philter_lite_note": PHILTER_NOTE}
    if presidio is not None:
        result["presidio"] = {"recognizers": presidio.names, "failures": dict(presidio.failures)}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", type=Path, default=Path("tests/data/deid_eval"),
                        help="folder of i2b2 2014 XML notes")
    parser.add_argument("--model", type=Path, default=Path("demo_out/deid/model"),
                        help="a de-id model directory (make demo writes demo_out/deid/model)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per detector; the best counts")
    parser.add_argument("--json", type=Path, help="also write every number here")
    parser.add_argument("--parts", default="",
                        help="only notes whose file name starts with one of these comma-separated prefixes "
                             "(tests/data/deid_eval: a-g; g was held out until the rules were final)")
    args = parser.parse_args()
    if not args.gold.is_dir() or not any(args.gold.glob("*.xml")):
        raise SystemExit(f"--gold {args.gold}: no folder of i2b2 2014 .xml notes")
    report = FormatReport()
    documents = i2b2_2014.read(args.gold, report)
    parts = tuple(part.strip() for part in args.parts.split(",") if part.strip())
    if parts:
        documents = [document for document in documents if document.id.startswith(parts)]
        if not documents:
            raise SystemExit(f"--parts {args.parts}: no note of {args.gold} starts with these prefixes")
    characters = sum(len(document.text) for document in documents)
    header = {"gold": str(args.gold), "parts": list(parts),
              "model": str(args.model) if args.model.is_dir() else None,
              "repeat": args.repeat, "cores": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)),
              "torch_threads": torch.get_num_threads(), "load_average": round(os.getloadavg()[0], 2),
              "notes": len(documents), "characters": characters,
              "gold_spans": sum(len(document.entities) for document in documents),
              "format_events": sum(report.counts.values())}

    rules = build_rules()
    rows = [run_detector("rules", rule_detector(rules), documents, args.repeat)]
    plain = rules_without_allow_list()
    rows.append(run_detector("rules, no allow-list", rule_detector(plain), documents, args.repeat)
                if plain is not None else
                Row("rules, no allow-list", status="n/a (build_rules has no clinical_allow keyword yet)"))
    skipped = None
    if args.model.is_dir():
        rows += model_rows(args.model, documents, rules, args.repeat)
    else:
        skipped = (f"model rows skipped: no model directory {args.model} (`make demo` writes "
                   f"demo_out/deid/model; or --model <a python -m finetune output>/model)")
    row, presidio = presidio_row(documents, args.repeat)
    rows.append(row)

    gold = rows[0].score or Score()
    header["phi_tokens"], header["tokens"] = gold.phi.tokens, gold.tokens
    print(f"machine: {header['cores']} cores ({header['usable_cores']} usable), torch threads "
          f"{header['torch_threads']}, load average {header['load_average']} at the start (other work slows "
          "the timings, the model's most); detectors run one after another in one process")
    print(f"gold {args.gold}{' parts ' + ','.join(parts) if parts else ''}: {header['notes']} notes, "
          f"{characters:,} characters, "
          f"{header['gold_spans']} gold spans, {gold.tokens:,} tokens of which {gold.phi.tokens:,} PHI"
          + (f" ({header['format_events']} format repairs/adjustments)" if header["format_events"] else ""))
    if skipped:
        print(skipped)
    if presidio is not None:
        print(f"presidio: {len(presidio.names)} recognizers ({', '.join(presidio.names)})"
              + (f"; failed: {dict(presidio.failures)} note runs" if presidio.failures else "; none failed"))
    print_main(rows, characters)
    categories = list(CATEGORIES)
    print_groups("token recall per gold category", rows, "category", categories, gold, lambda c: c.recall)
    print_groups("PHI letters/digits left readable per gold category", rows, "category", categories, gold,
                 lambda c: c.readable, size="chars")
    subtype_rows = [row for row in rows if row.name in ("rules", "model + rules")]
    if len(subtype_rows) < 2:
        subtype_rows.append(Row("model + rules", status="skipped"))
    subtypes = [subtype for members in CATEGORIES.values() for subtype in members]
    print_groups("token recall per gold subtype", subtype_rows, "subtype", subtypes, gold,
                 lambda c: c.recall)
    if args.json:
        args.json.write_text(json.dumps(as_json(rows, header, presidio), indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
