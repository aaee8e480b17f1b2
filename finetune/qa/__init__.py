"""Extractive question answering over clinical notes: emrQA (medication and relation subsets) in the
SQuAD form it is converted to.

`squad` (the files, and predictions as SQuAD's script reads them), `windows` (long notes in
overlapping windows), `model` (the span head, saved self-describing; answers chosen across
windows), `train` (`python -m finetune.qa`), `predict` (`python -m finetune.qa.predict`), `scoring`
(exact match and token F1 as SQuAD v1.1 counts them).
"""
