"""Word label scores -> a well-formed BIO/BIOES label sequence -> entities with character offsets.

`viterbi` (the default) finds the highest-scoring label sequence among those the scheme allows:
no `I-X` after `O` or after `B-Y`/`I-Y`, a sequence never starts inside an entity, and under
BIOES every entity is closed (`E-X`/`S-X`). `argmax` takes each word's best label on its own and
reads the result leniently (an orphan `I-X` starts an entity, as conlleval does); it is there to
measure what the constraint buys, not for use.

Each entity's score is the mean probability of its words' chosen labels.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import numpy as np

from finetune.document import Entity
from finetune.labels import OUTSIDE, Span, entities_from_labels
from gatortron_common.logging import InputError

DECODINGS: tuple[str, ...] = ("viterbi", "argmax")


def _split(label: str) -> tuple[str, str | None]:
    if label == OUTSIDE:
        return OUTSIDE, None
    tag, _, entity_type = label.partition("-")
    return tag, entity_type


def allowed_transitions(labels: Sequence[str], scheme: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which label may follow which, which may start and which may end a sequence.

    Args:
        labels: the label vocabulary (`O`, `B-X`, `I-X`, ...).
        scheme: `BIO` or `BIOES`.

    Returns:
        `(transitions [K, K], starts [K], ends [K])` as booleans.
    """
    parsed = [_split(label) for label in labels]
    inside = ("I", "E")  # tags that continue an entity of the same type
    closed = {OUTSIDE, "S", "E"} if scheme == "BIOES" else {OUTSIDE, "B", "I"}
    size = len(labels)
    transitions = np.zeros((size, size), dtype=bool)
    for previous, (previous_tag, previous_type) in enumerate(parsed):
        for following, (tag, entity_type) in enumerate(parsed):
            if tag in inside:
                ok = previous_tag in ("B", "I") and previous_type == entity_type
            else:
                ok = previous_tag in closed
            transitions[previous, following] = ok
    starts = np.array([tag not in inside for tag, _ in parsed])
    ends = np.array([tag in closed for tag, _ in parsed])
    return transitions, starts, ends


def viterbi(scores: np.ndarray, transitions: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The best allowed label path through `scores` (`[n, K]` log-probabilities)."""
    length = len(scores)
    if length == 0:
        return np.zeros(0, dtype=np.int64)
    forbidden = np.where(transitions, 0.0, -np.inf)
    best = scores[0] + np.where(starts, 0.0, -np.inf)
    back = np.zeros((length, scores.shape[1]), dtype=np.int64)
    for index in range(1, length):
        candidates = best[:, None] + forbidden
        back[index] = candidates.argmax(axis=0)
        best = candidates[back[index], np.arange(scores.shape[1])] + scores[index]
    best = best + np.where(ends, 0.0, -np.inf)
    path = np.empty(length, dtype=np.int64)
    path[-1] = int(best.argmax())
    for index in range(length - 1, 0, -1):
        path[index - 1] = back[index, path[index]]
    return path


class LabelDecoder:
    """Turns per-word log-probabilities into entities for one label vocabulary.

    Args:
        labels: the label vocabulary, index = model output index; `labels[0]` must be `O`.
        scheme: `BIO` or `BIOES`.
        decoding: `viterbi` or `argmax`.
    """

    def __init__(self, labels: Sequence[str], scheme: str, decoding: str = "viterbi") -> None:
        if decoding not in DECODINGS:
            raise InputError(f"decoding={decoding!r}: expected one of {', '.join(DECODINGS)}")
        if not labels or labels[0] != OUTSIDE:
            raise InputError("the label vocabulary must start with O")
        self.labels = list(labels)
        self.scheme = scheme
        self.decoding = decoding
        self.transitions, self.starts, self.ends = allowed_transitions(self.labels, scheme)

    def label_path(self, log_probs: np.ndarray) -> np.ndarray:
        """Label indices, one per word."""
        if self.decoding == "argmax":
            return log_probs.argmax(axis=1) if len(log_probs) else np.zeros(0, dtype=np.int64)
        return viterbi(log_probs, self.transitions, self.starts, self.ends)

    def entities(self, words: Sequence[Span], log_probs: np.ndarray) -> list[Entity]:
        """Entities (character offsets, `attributes["score"]`) from per-word log-probabilities."""
        path = self.label_path(log_probs)
        labels = [self.labels[index] for index in path]
        entities = entities_from_labels(words, labels, self.scheme)
        if entities:
            chosen = np.exp(log_probs[np.arange(len(path)), path]) if len(path) else np.zeros(0)
            starts = [start for start, _ in words]
            for entity in entities:
                first = bisect.bisect_left(starts, entity.start)
                last = bisect.bisect_left(starts, entity.end)
                entity.attributes["score"] = f"{float(chosen[first:last].mean()):.4f}"
        return entities
