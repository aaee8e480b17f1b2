"""Deterministic synthetic raw corpora (no real PHI, ever) for tests, the demo and benchmarks.

- `notes`: clinical notes (discharge, SOAP progress, radiology) and TSV/CSV/JSONL writers.
- `pubmed`: a PubMed baseline-style XML.gz file.
- `wikipedia`: a MediaWiki pages-articles XML.bz2 export.
- `write` / `__main__`: write everything into one directory (Hydra CLI).
The word material and sentence building come from `synthetic.lexicon` / `synthetic.text`.
"""

from synthetic.corpora.notes import (
    NOTE_COLUMNS,
    SyntheticNote,
    generate_notes,
    write_notes_delimited,
    write_notes_jsonl,
)
from synthetic.corpora.pubmed import write_pubmed_baseline
from synthetic.corpora.wikipedia import write_wikipedia_dump
from synthetic.lexicon import ZipfTerms, pseudo_terms

__all__ = [
    "NOTE_COLUMNS",
    "SyntheticNote",
    "ZipfTerms",
    "generate_notes",
    "pseudo_terms",
    "write_notes_delimited",
    "write_notes_jsonl",
    "write_pubmed_baseline",
    "write_wikipedia_dump",
]
