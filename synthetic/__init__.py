"""Deterministic synthetic data (invented text, no real PHI, ever) for tests, the demo and benchmarks.

- `corpora` (`python -m synthetic.corpora`): raw pretraining corpora: clinical notes (TSV/CSV/JSONL),
  a PubMed baseline-style XML.gz file and a MediaWiki pages-articles XML.bz2 export.
- `annotated` (`python -m synthetic.annotated`): annotated benchmark corpora in the i2b2 2010,
  i2b2 2012, i2b2 2014 and n2c2 2018 formats, written through `finetune.corpora.formats`.
- `lexicon` / `text` / `output`: the word material, the fast seeded sentence building and the
  compressed atomic writers both share.

Settings: configs/synthetic/{corpora,annotated}.yaml.
"""
