"""Deterministic synthetic corpora (no real PHI, ever) for tests, the demo and benchmarks.

- `notes`: clinical notes (discharge, SOAP progress, radiology) and TSV/CSV/JSONL writers.
- `pubmed`: a PubMed baseline-style XML.gz file.
- `wikipedia`: a MediaWiki pages-articles XML.bz2 export.
- `lexicon` / `text`: the word material and fast seeded sentence building they share.
- `corpora` / `__main__`: write everything into one directory (Hydra CLI).
"""

from gatortron_common.synthetic.lexicon import ZipfTerms, pseudo_terms
from gatortron_common.synthetic.notes import (
    NOTE_COLUMNS,
    SyntheticNote,
    generate_notes,
    write_notes_delimited,
    write_notes_jsonl,
)
from gatortron_common.synthetic.pubmed import write_pubmed_baseline
from gatortron_common.synthetic.wikipedia import write_wikipedia_dump

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
