"""Corpora in and out: one document model (`document`: text, entities at character offsets) and the
benchmark formats read and written exactly (`formats`: i2b2 2010/2012/2014, n2c2 2018 brat, BIO/CoNLL,
NeMo, JSONL)."""
