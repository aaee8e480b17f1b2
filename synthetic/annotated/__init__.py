"""Synthetic annotated corpora in the four benchmark formats (invented text, no PHI, ever).

- `builder`: text written left to right with exact entity offsets.
- `deid` (i2b2 2014), `concepts` (i2b2 2010), `temporal` (i2b2 2012), `medications` (n2c2 2018):
  one note generator each.
- `corpus` / `__main__`: generate, split train/test, write through `finetune.corpora.formats` (Hydra CLI).
"""

from synthetic.annotated.config import CORPUS_NAMES, AnnotatedCorporaConfig
from synthetic.annotated.corpus import CORPORA, generate_corpus, split_sizes, write_annotated_corpora

__all__ = [
    "CORPORA",
    "CORPUS_NAMES",
    "AnnotatedCorporaConfig",
    "generate_corpus",
    "split_sizes",
    "write_annotated_corpora",
]
