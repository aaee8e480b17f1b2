"""Sentence-pair corpora in their releases' own layouts, and predictions written the same way.

- **sts**, the 2019 n2c2/OHNLP clinical STS release: `clinicalSTS2019.train.txt`, one
  `sentence1<TAB>sentence2<TAB>score` per line (score 0-5); `clinicalSTS2019.test.txt`, two columns,
  with its scores one per line in `clinicalSTS2019.test.gs.sim.txt`.
- **mednli**, the MedNLI release: `mli_train_v1.jsonl`, `mli_dev_v1.jsonl`, `mli_test_v1.jsonl`, one
  JSON object per line with `sentence1`, `sentence2`, `gold_label` (entailment / contradiction /
  neutral) and `pairID` (the parse fields are ignored).

A split is found by name: the one file of the task's extension whose name holds the split
(`train`, `dev`, `test`), a `.gs.` gold-score file aside. A bad line (wrong column count, a score
that is not a number in 0-5, an empty sentence, broken JSON, an unknown label) is counted in the
`SkipReport` by `file:line` and left out, never echoed; a gold file whose line count differs from its
pairs' is an error (the scores cannot be matched to their pairs).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from finetune.corpora.release_files import find_split_file
from gatortron_common.atomic import atomic_write_text
from gatortron_common.logging import InputError, SkipReport, location

TASKS = ("sts", "mednli")
MEDNLI_LABELS: tuple[str, ...] = ("entailment", "contradiction", "neutral")
STS_RANGE = (0.0, 5.0)
_EXTENSIONS = {"sts": ".txt", "mednli": ".jsonl"}


@dataclass(frozen=True)
class SentencePair:
    """One pair: `label` is the gold score (sts) or class (mednli), None when the file has none."""

    id: str
    sentence1: str
    sentence2: str
    label: float | str | None = None


def find_split(data_dir: str | Path, task: str, split: str) -> Path | None:
    """The release file of `split` in `data_dir`, None when there is none (several: `InputError`)."""
    return find_split_file(data_dir, split, _EXTENSIONS[task])


def read_pairs(path: str | Path, task: str, report: SkipReport | None = None) -> list[SentencePair]:
    """The pairs of one release file of `task` (for sts, with the scores of its `.gs.sim` file when
    the file has two columns and that file is beside it)."""
    report = report if report is not None else SkipReport()
    if task == "sts":
        return read_sts(path, report=report)
    return read_mednli(path, report=report)


def _lines(path: Path) -> list[str]:
    try:
        text = path.read_bytes().decode("utf-8-sig")  # a BOM is no text; no newline translation
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not UTF-8 text (byte {error.start})") from None
    # Lines end at \n (\r\n too) only: str.splitlines would also break at a form feed or U+2028 inside
    # a sentence and shift every line number after it.
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    return lines[:-1] if lines and not lines[-1] else lines


def gold_scores_file(path: Path) -> Path:
    """The release's gold-score file of an STS pair file (`x.test.txt` -> `x.test.gs.sim.txt`)."""
    return path.with_name(f"{path.name.removesuffix('.txt')}.gs.sim.txt")


def _score(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and STS_RANGE[0] <= value <= STS_RANGE[1] else None


def read_sts(path: str | Path, gold: str | Path | None = None,
             report: SkipReport | None = None) -> list[SentencePair]:
    """Clinical STS pairs: `sentence1<TAB>sentence2[<TAB>score]` per line; a two-column file takes its
    scores from `gold` (default: its `.gs.sim.txt` beside it, when present), one per line."""
    path, report = Path(path), report if report is not None else SkipReport()
    lines = _lines(path)
    gold_path = Path(gold) if gold is not None else gold_scores_file(path)
    # The gold file has a score per non-empty line of the pair file, in order.
    gold_lines = _lines(gold_path) if gold is not None or gold_path.is_file() else None
    numbered = [(number, line) for number, line in enumerate(lines, start=1) if line.strip()]
    if gold_lines is not None:
        while gold_lines and not gold_lines[-1].strip():
            gold_lines.pop()
        if len(gold_lines) != len(numbered):
            raise InputError(f"{gold_path}: {len(gold_lines)} scores for the {len(numbered)} pairs of "
                             f"{path.name}")
    pairs = []
    for index, (number, line) in enumerate(numbered):
        columns = line.split("\t")
        if len(columns) not in (2, 3):
            report.skip(f"expected 2 or 3 tab-separated columns, found {len(columns)}", path, number)
            continue
        first, second = columns[0].strip(), columns[1].strip()
        if not first or not second:
            report.skip("an empty sentence", path, number)
            continue
        label: float | None = None
        if len(columns) == 3:
            label = _score(columns[2].strip())
            if label is None:
                report.skip("the score is not a number from 0 to 5", path, number)
                continue
        elif gold_lines is not None:
            label = _score(gold_lines[index].strip())
            if label is None:
                report.skip("the gold score is not a number from 0 to 5", gold_path, index + 1)
                continue
        pairs.append(SentencePair(f"{path.stem}:{number}", first, second, label))
    return pairs


def read_mednli(path: str | Path, report: SkipReport | None = None) -> list[SentencePair]:
    """MedNLI pairs: one JSON object per line with `sentence1`, `sentence2`, `gold_label` (optional
    when predicting) and `pairID` (default: `file:line`)."""
    path, report = Path(path), report if report is not None else SkipReport()
    pairs = []
    for number, line in enumerate(_lines(path), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            report.skip(f"not JSON (column {error.colno})", path, number)
            continue
        if not isinstance(record, dict):
            report.skip("not a JSON object", path, number)
            continue
        first, second = record.get("sentence1"), record.get("sentence2")
        if not all(isinstance(sentence, str) and sentence.strip() for sentence in (first, second)):
            report.skip("sentence1 or sentence2 missing or empty", path, number)
            continue
        label = record.get("gold_label")
        if label is not None and label not in MEDNLI_LABELS:
            report.skip(f"gold_label is not one of {', '.join(MEDNLI_LABELS)}", path, number)
            continue
        identifier = str(record.get("pairID") or location(path.stem, number))
        pairs.append(SentencePair(identifier, first.strip(), second.strip(), label))
    return pairs


def write_predictions(path: str | Path, task: str, pairs: Sequence[SentencePair],
                      labels: Sequence[float | str]) -> None:
    """Predictions in the release's form, atomically: sts, one score per line in the pairs' order
    (the `.gs.sim.txt` form the challenge scored); mednli, the pairs' JSONL with `gold_label` the
    prediction."""
    if task == "sts":
        text = "".join(f"{float(label):.4f}\n" for label in labels)
    else:
        text = "".join(json.dumps({"sentence1": pair.sentence1, "sentence2": pair.sentence2,
                                   "gold_label": label, "pairID": pair.id}) + "\n"
                       for pair, label in zip(pairs, labels, strict=True))
    atomic_write_text(path, text)


def read_predictions(path: str | Path, task: str, count: int) -> list[float | str]:
    """What `write_predictions` wrote (or a submission in the same form): `count` labels.

    Raises:
        InputError: another count, or a line that is not a score / label (named by file:line).
    """
    path = Path(path)
    lines = [line for line in _lines(path) if line.strip()]
    if len(lines) != count:
        raise InputError(f"{path}: {len(lines)} predictions for {count} pairs")
    values: list[float | str] = []
    for number, line in enumerate(lines, start=1):
        if task == "sts":
            value = _score(line.strip())
        else:
            try:
                value = json.loads(line).get("gold_label")
            except (json.JSONDecodeError, AttributeError):
                value = None
            value = value if value in MEDNLI_LABELS else None
        if value is None:
            what = "score from 0 to 5" if task == "sts" else f"gold_label of {', '.join(MEDNLI_LABELS)}"
            raise InputError(f"{location(path, number)}: not a {what}")
        values.append(value)
    return values
