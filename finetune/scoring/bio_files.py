"""Gold and predicted BIO label sequences read straight from NeMo or CoNLL files, for conlleval.

conlleval scores label sequences, so its input is read from the label files themselves, not
from entities (an `I-` after `O` must reach it as written).

- nemo: `labels_{split}.txt` in a directory (or the labels file itself), one sentence of
  space-separated labels per line. Scoring a gold and a predicted file equals running
  conlleval.pl on one `word gold pred` line per word with a blank line after each sentence.
- conll: one `word ... label` line per token (the label is the last field), blank lines between
  sentences. Scoring equals running conlleval.pl on the gold lines with the predicted label
  appended: a line whose first field is `-X-` is a sentence break, every other line a token
  (`-DOCSTART- ... O` lines too, as in the script; a bare `-DOCSTART-` line, which the script
  would refuse, is a sentence break).

Gold and prediction must have the same sentences and tokens; where not, an `InputError` names
the file and line (never the words).
"""

from __future__ import annotations

from pathlib import Path

from finetune.corpora.formats.common import read_lines
from gatortron_common.logging import InputError, location

Sentence = tuple[list[str], list[str]]  # (gold labels, predicted labels)
_BOUNDARY = "-X-"
_DOCSTART = ["-DOCSTART-"]


def nemo_labels_path(path: str | Path, split: str) -> Path:
    """The labels file of a NeMo directory (`labels_{split}.txt`), or `path` if it is a file."""
    path = Path(path)
    if path.is_file():
        return path
    candidate = path / f"labels_{split}.txt"
    if not candidate.is_file():
        raise InputError(f"{candidate}: NeMo labels file not found (split={split})")
    return candidate


def read_nemo_pairs(gold: str | Path, pred: str | Path, split: str) -> list[Sentence]:
    """(gold, predicted) label sequences of NeMo labels files, line by line.

    Args:
        gold: NeMo directory or labels file with the reference labels.
        pred: NeMo directory or labels file with the predicted labels.
        split: which `labels_{split}.txt` to read from a directory.
    """
    gold_path, pred_path = nemo_labels_path(gold, split), nemo_labels_path(pred, split)
    gold_lines, pred_lines = read_lines(gold_path), read_lines(pred_path)
    if len(gold_lines) != len(pred_lines):
        raise InputError(f"{pred_path}: {len(pred_lines)} lines, but {gold_path} has {len(gold_lines)}")
    sentences = []
    for number, (gold_line, pred_line) in enumerate(zip(gold_lines, pred_lines, strict=True), start=1):
        gold_labels, pred_labels = gold_line.split(), pred_line.split()
        if len(gold_labels) != len(pred_labels):
            raise InputError(f"{location(pred_path, number)}: {len(pred_labels)} labels, but "
                             f"{location(gold_path, number)} has {len(gold_labels)}")
        sentences.append((gold_labels, pred_labels))
    return sentences


def read_conll_pairs(gold: str | Path, pred: str | Path) -> list[Sentence]:
    """(gold, predicted) label sequences of two CoNLL files with the same tokens.

    Args:
        gold: CoNLL file with the reference labels (last field of each token line).
        pred: CoNLL file with the predicted labels, token for token like `gold`.
    """
    gold_path, pred_path = Path(gold), Path(pred)
    gold_lines, pred_lines = read_lines(gold_path), read_lines(pred_path)
    if len(gold_lines) != len(pred_lines):
        raise InputError(f"{pred_path}: {len(pred_lines)} lines, but {gold_path} has {len(gold_lines)} "
                         "(the prediction must keep the gold file's tokens and blank lines)")
    sentences: list[Sentence] = []
    current: Sentence = ([], [])
    for number, (gold_line, pred_line) in enumerate(zip(gold_lines, pred_lines, strict=True), start=1):
        gold_fields, pred_fields = gold_line.split(), pred_line.split()
        if bool(gold_fields) != bool(pred_fields) or (gold_fields and gold_fields[0] != pred_fields[0]):
            raise InputError(f"{location(pred_path, number)}: not the same token as "
                             f"{location(gold_path, number)}")
        if not gold_fields or gold_fields[0] == _BOUNDARY or gold_fields == _DOCSTART:
            if current[0]:
                sentences.append(current)
            current = ([], [])
            continue
        for path, fields in ((gold_path, gold_fields), (pred_path, pred_fields)):
            if len(fields) < 2:
                raise InputError(f"{location(path, number)}: a token line needs a word and a label")
        current[0].append(gold_fields[-1])
        current[1].append(pred_fields[-1])
    if current[0]:
        sentences.append(current)
    return sentences
