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

from finetune.corpora.document import Entity
from finetune.tagging.labels import OUTSIDE, Span, entities_from_labels
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


class EntityStream:
    """One document's entities from its word scores given a piece at a time, equal to
    `LabelDecoder.entities` on the whole document, holding only the words whose label is not settled.

    Viterbi's best path is only known at the document's end, but its prefix is known earlier: once
    every label's best path so far runs through the same label at some word, the best path of the
    whole document does too (it extends one of them), so the words up to there are settled and
    turned into entities. The paths usually join within a few words (`O` and `B-X` may follow any
    label, so only runs of `I-X` keep paths apart); where they do not, the words wait (still exact,
    only less memory saved). Argmax settles every word at once.

    Args:
        decoder: the label vocabulary, scheme and decoding.
    """

    def __init__(self, decoder: LabelDecoder) -> None:
        self.decoder = decoder
        self.entities: list[Entity] = []
        self.max_pending = 0  # the most words held unsettled at once
        size = len(decoder.labels)
        self._forbidden = np.where(decoder.transitions, 0.0, -np.inf)
        self._columns = np.arange(size)
        self._best: np.ndarray | None = None  # best path score ending in each label
        self._words: list[Span] = []  # unsettled words
        self._scores: list[np.ndarray] = []  # their scores, in pieces
        self._back: list[np.ndarray] = []  # their back pointers (row i: the label before word i)
        self._check_at = 0
        self._open: tuple[Entity, list[np.ndarray]] | None = None  # the last entity, if it may go on

    def push(self, words: Sequence[Span], log_probs: np.ndarray) -> None:
        """The next words of the document and their `[len(words), labels]` log-probabilities."""
        if not len(words):
            return
        if self.decoder.decoding == "argmax":
            self._emit(list(words), log_probs, self.decoder.label_path(log_probs))
            return
        back = np.zeros((len(words), len(self._columns)), dtype=np.int64)
        first = 0
        if self._best is None:  # the document's first word: as `viterbi` starts
            self._best = log_probs[0] + np.where(self.decoder.starts, 0.0, -np.inf)
            first = 1
        best = self._best
        for index in range(first, len(words)):
            candidates = best[:, None] + self._forbidden
            back[index] = candidates.argmax(axis=0)
            best = candidates[back[index], self._columns] + log_probs[index]
        self._best = best
        self._words.extend(words)
        self._scores.append(log_probs)
        self._back.append(back)
        self.max_pending = max(self.max_pending, len(self._words))
        if len(self._words) >= self._check_at:
            self._settle()

    def finish(self) -> list[Entity]:
        """The document's entities (call once, after the last `push`)."""
        if self._words:
            last = int((self._best + np.where(self.decoder.ends, 0.0, -np.inf)).argmax())
            self._commit(len(self._words) - 1, last)
        if self._open is not None:
            self._close(*self._open)
            self._open = None
        return self.entities

    def _settle(self) -> None:
        """Turn the words every best path agrees on into entities."""
        back = np.concatenate(self._back)
        states = self._columns
        for index in range(len(back) - 1, 0, -1):
            states = back[index, states]
            if (states == states[0]).all():
                self._back = [back]
                self._commit(index - 1, int(states[0]))
                self._check_at = 0
                return
        self._back = [back]
        # No agreement yet: look again once twice as many words wait (linear time overall).
        self._check_at = 2 * len(self._words)

    def _commit(self, last: int, state: int) -> None:
        """Settle words `[0, last]`, the last one with label `state`, following the back pointers."""
        back = np.concatenate(self._back)
        path = np.empty(last + 1, dtype=np.int64)
        path[last] = state
        for index in range(last, 0, -1):
            path[index - 1] = back[index, path[index]]
        scores = np.concatenate(self._scores)
        words = self._words[:last + 1]
        self._emit(words, scores[:last + 1], path)
        del self._words[:last + 1]
        self._scores = [scores[last + 1:]]
        self._back = [back[last + 1:]]

    def _emit(self, words: list[Span], log_probs: np.ndarray, path: np.ndarray) -> None:
        """Entities of settled words, joined to the entity the previous words left open."""
        labels = [self.decoder.labels[index] for index in path]
        chosen = np.exp(log_probs[np.arange(len(path)), path])
        starts = [start for start, _ in words]
        pieces = [(entity, [chosen[bisect.bisect_left(starts, entity.start):
                                   bisect.bisect_left(starts, entity.end)]])
                  for entity in entities_from_labels(words, labels, self.decoder.scheme)]
        if self._open is not None:
            entity, probabilities = self._open
            tag, entity_type = _split(labels[0])
            if tag in ("I", "E") and entity_type == entity.type:  # the open entity goes on
                following, more = pieces[0]
                entity.end = following.end
                pieces[0] = (entity, probabilities + more)
            else:
                self._close(entity, probabilities)
        self._open = None
        if pieces and _split(labels[-1])[0] in ("B", "I"):
            self._open = pieces.pop()
        for entity, probabilities in pieces:
            self._close(entity, probabilities)

    def _close(self, entity: Entity, probabilities: list[np.ndarray]) -> None:
        """Score a finished entity (the mean probability of its words' labels) and keep it."""
        entity.attributes["score"] = f"{float(np.concatenate(probabilities).mean()):.4f}"
        self.entities.append(entity)
