"""Structured (typed) Hydra config for `python -m synthetic.corpora`."""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import MISSING

from gatortron_common.settings import register_schema

SCHEMA_NAME = "synthetic_corpora_schema"


@dataclass
class SyntheticCorporaConfig:
    """What to generate and where.

    Attributes:
        output_dir: directory receiving notes.{tsv,csv,jsonl}, pubmed/ and wikipedia/.
        seed: master seed (>= 0); same seed and sizes give byte-identical files.
        notes_mb: size of the note texts in MB (10**6 bytes of UTF-8 text, per file format).
        pubmed_articles: citations in the PubMed baseline file.
        pubmed_deleted: PMIDs listed in a trailing DeleteCitation block (0: none).
        wiki_pages: pages in the Wikipedia dump (articles, redirects, disambiguation...).
        jsonl_text_key: key of the note text in notes.jsonl.
        progress: show a tqdm bar for notes; null shows it only for large sizes.
        log_level: logging level for this run.
    """

    output_dir: str = MISSING
    seed: int = 0
    notes_mb: float = 1.0
    pubmed_articles: int = 200
    pubmed_deleted: int = 0
    wiki_pages: int = 100
    jsonl_text_key: str = "text"
    progress: bool | None = None
    log_level: str = "INFO"


register_schema(SCHEMA_NAME, SyntheticCorporaConfig)
