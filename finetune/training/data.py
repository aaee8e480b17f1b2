"""Corpus splits -> labelled windows for the Trainer, and the dev set as `finetune.predict` sees it.

- `read_splits`: train / dev / test as the recipe lays them out; a dev split carved from train by
  document (seeded) when the corpus has none. An empty split is an error.
- `keep_types`: only the entity types being learned; the others are counted by type.
- `training_windows`: words cut at entity edges (`label_document`), labels on first subwords,
  every window of every document (nothing truncated).
- `evaluation_windows`: words split exactly as at prediction time (no gold edges), so the dev F1
  that picks the best model is the F1 prediction will have.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from finetune.corpora.document import Document
from finetune.corpora.formats import read_corpus
from finetune.tagging.labels import (
    IGNORE_INDEX,
    LabelSettings,
    LabelStats,
    label_document,
    place_entities,
    word_spans,
)
from finetune.tagging.windows import TokenizedDocument, Window, plan_windows, tokenize_words
from finetune.training.config import DatasetConfig
from gatortron_common.logging import InputError, get_logger

logger = get_logger("finetune.training.data")


@dataclass
class Splits:
    """The corpus as training sees it.

    Args:
        train: training documents.
        dev: dev documents (from the corpus or carved from train).
        test: test documents (empty when the recipe has no test split).
        dev_carved: True when `dev` was carved from the training split.
    """

    train: list[Document]
    dev: list[Document]
    test: list[Document]
    dev_carved: bool


def read_split(data_dir: Path, relative: str, name: str, settings: DatasetConfig) -> list[Document]:
    """One split of the corpus; an empty one is an `InputError` naming it."""

    options = dict(settings.read_options)
    if settings.format == "nemo":
        options["split"] = name
    documents = read_corpus(data_dir / relative, settings.format, **options)
    if not documents:
        raise InputError(f"{data_dir / relative}: the {name} split has no documents")
    return documents


def carve_dev(train: list[Document], fraction: float, seed: int) -> tuple[list[Document], list[Document]]:
    """Split documents into (train, dev) by document: a seeded shuffle, `fraction` to dev (>= 1)."""
    if len(train) < 2:
        raise InputError("the training split has fewer than 2 documents: no dev set can be carved "
                         "from it; give task.dataset.dev")
    order = list(range(len(train)))
    random.Random(seed).shuffle(order)
    size = min(len(train) - 1, max(1, round(fraction * len(train))))
    chosen = set(order[:size])
    kept = [document for index, document in enumerate(train) if index not in chosen]
    return kept, [document for index, document in enumerate(train) if index in chosen]


def read_splits(data_dir: str | Path, settings: DatasetConfig, seed: int) -> Splits:
    """Train, dev and test documents as `settings` lays them out under `data_dir`."""
    root = Path(data_dir)
    train = read_split(root, settings.train, "train", settings)
    carved = settings.dev is None
    if carved:
        train, dev = carve_dev(train, settings.dev_fraction, seed)
    else:
        dev = read_split(root, settings.dev, "dev", settings)
    test = read_split(root, settings.test, "test", settings) if settings.test is not None else []
    logger.info("documents: %d train, %d dev%s, %d test", len(train), len(dev),
                " (carved from train)" if carved else "", len(test))
    return Splits(train=train, dev=dev, test=test, dev_carved=carved)


def learned_types(train: Sequence[Document], wanted: Sequence[str]) -> list[str]:
    """The types to learn: `wanted`, or every type of the training documents.

    Raises:
        InputError: a wanted type never occurs in training, or training has no entities at all.
    """
    present = Counter(entity.type for document in train for entity in document.entities)
    if not present:
        raise InputError("the training split has no entities to learn from")
    if not wanted:
        return sorted(present)
    missing = sorted(set(wanted) - set(present))
    if missing:
        raise InputError(f"task.dataset.types lists types that never occur in the training split: "
                         f"{', '.join(missing)}")
    return sorted(set(wanted))


def keep_types(documents: Sequence[Document], types: Sequence[str]) -> tuple[list[Document], Counter[str]]:
    """Documents with only entities of `types`, and the left-out entities counted by type."""
    allowed = set(types)
    left_out: Counter[str] = Counter()
    kept = []
    for document in documents:
        entities = [entity for entity in document.entities if entity.type in allowed]
        left_out.update(entity.type for entity in document.entities if entity.type not in allowed)
        kept.append(Document(id=document.id, text=document.text, entities=entities,
                             relations=document.relations, metadata=document.metadata))
    return kept, left_out


def category_map(documents: Sequence[Document]) -> dict[str, str]:
    """Each entity type's most frequent category (i2b2 2014 PATIENT -> NAME), where there is one."""
    counts: dict[str, Counter[str]] = {}
    for document in documents:
        for entity in document.entities:
            if entity.category is not None:
                counts.setdefault(entity.type, Counter())[entity.category] += 1
    return {entity_type: counter.most_common(1)[0][0] for entity_type, counter in sorted(counts.items())}


def window_features(document: TokenizedDocument, windows: Sequence[Window], word_labels: np.ndarray,
                    cls_id: int, sep_id: int) -> list[dict[str, list[int]]]:
    """Trainer features of one document's windows: a word's label on its first subword only."""
    token_labels = np.full(len(document), IGNORE_INDEX, dtype=np.int64)
    reached = document.first_token >= 0
    token_labels[document.first_token[reached]] = word_labels[reached]
    features = []
    for window in windows:
        ids = [cls_id, *document.input_ids[window.start:window.end].tolist(), sep_id]
        labels = [IGNORE_INDEX, *token_labels[window.start:window.end].tolist(), IGNORE_INDEX]
        features.append({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels})
    return features


@dataclass
class WindowSet:
    """Labelled windows of several documents, ready for the Trainer, plus what decoding needs."""

    features: list[dict[str, list[int]]]
    documents: list[TokenizedDocument]
    windows: list[list[Window]]
    stats: LabelStats


def _windows(tokenizer: Any, word_lists: list, label_lists: list[list[str]], texts: list[str],
             label_to_id: dict[str, int], size: int, overlap: int, stats: LabelStats) -> WindowSet:
    documents = tokenize_words(tokenizer, word_lists, texts)
    features, all_windows = [], []
    for index, (document, labels) in enumerate(zip(documents, label_lists, strict=True)):
        windows = plan_windows(len(document), size, overlap, index)
        word_labels = np.array([label_to_id[label] for label in labels], dtype=np.int64)
        features += window_features(document, windows, word_labels, tokenizer.cls_token_id,
                                    tokenizer.sep_token_id)
        all_windows.append(windows)
    return WindowSet(features=features, documents=documents, windows=all_windows, stats=stats)


def training_windows(documents: Sequence[Document], tokenizer: Any, settings: LabelSettings,
                     label_to_id: dict[str, int], size: int, overlap: int) -> WindowSet:
    """Windows of training documents, words cut at entity edges so every entity is labellable."""
    stats = LabelStats()
    word_lists, label_lists = [], []
    for document in documents:
        labelled = label_document(document, settings)
        stats.merge(labelled.stats)
        word_lists.append(labelled.words)
        label_lists.append(labelled.labels[0])
    return _windows(tokenizer, word_lists, label_lists, [d.text for d in documents], label_to_id, size,
                    overlap, stats)


def evaluation_windows(documents: Sequence[Document], tokenizer: Any, settings: LabelSettings,
                       label_to_id: dict[str, int], size: int, overlap: int) -> WindowSet:
    """Windows of dev/test documents with words split as prediction splits them (no gold edges)."""
    stats = LabelStats()
    word_lists, label_lists = [], []
    for document in documents:
        words, _ = word_spans(document.text)
        placement = place_entities(words, document.entities, settings)
        stats.add(placement)
        word_lists.append(words)
        label_lists.append(placement.labels)
    return _windows(tokenizer, word_lists, label_lists, [d.text for d in documents], label_to_id, size,
                    overlap, stats)
