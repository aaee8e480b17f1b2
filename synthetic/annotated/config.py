"""Structured (typed) Hydra config for `python -m synthetic.annotated`."""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import MISSING

from gatortron_common.settings import config_dir, register_schema

CONFIG_DIR = config_dir("synthetic")  # configs/synthetic/annotated.yaml
SCHEMA_NAME = "synthetic_annotated_schema"
CORPUS_NAMES: tuple[str, ...] = ("i2b2_2010", "i2b2_2012", "i2b2_2014", "n2c2_2018")
# GatorTron's other evaluations, written when named in `corpora`: clinical STS and MedNLI pairs in
# their releases' files, emrQA-style questions (SQuAD form) about synthetic n2c2 2018 notes.
TASK_CORPUS_NAMES: tuple[str, ...] = ("sts", "mednli", "emrqa")
PAIRS_PER_DOCUMENT = 20  # sts and mednli: `documents` x 20 pairs


@dataclass
class AnnotatedCorporaConfig:
    """What to generate and where.

    Attributes:
        output_dir: directory receiving one folder per corpus (replaced as a whole).
        seed: master seed (>= 0); the same seed and sizes give byte-identical files.
        documents: documents per corpus (train and test together); sts and mednli write 20 pairs
            per document, emrqa asks its questions of that many n2c2 2018 notes.
        test_fraction: share of each corpus written to test/ (at least one document when
            there are two or more).
        corpora: which corpora to write (default: the four NER corpora; also `sts`, `mednli`,
            `emrqa`).
        overwrite: replace an existing non-empty output_dir.
        log_level: logging level for this run.
    """

    output_dir: str = MISSING
    seed: int = 0
    documents: int = 20
    test_fraction: float = 0.25
    corpora: list[str] = field(default_factory=lambda: list(CORPUS_NAMES))
    overwrite: bool = False
    log_level: str = "INFO"


register_schema(SCHEMA_NAME, AnnotatedCorporaConfig)
