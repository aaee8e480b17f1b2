"""Sentence-pair tasks: 2019 n2c2/OHNLP clinical semantic textual similarity (regression of a 0-5
score) and MedNLI (natural language inference, three classes).

`readers` (the releases' files, and predictions written the same way), `model` (the encoder with a
sequence-classification head over `[CLS] sentence1 [SEP] sentence2 [SEP]`, saved self-describing),
`train` (`python -m finetune.pairs task=sts|mednli`), `predict` (`python -m finetune.pairs.predict`),
`scoring` (Pearson/Spearman; accuracy and per-class F1).
"""
