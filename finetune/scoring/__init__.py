"""Scoring library behind `python -m finetune.evaluate`.

- `metrics`: counts, P/R/F1, micro and (official-2014-style) macro averages.
- `pairing`: gold and predicted documents paired by id, text equality checked.
- `entities`: our `strict` / `relaxed` entity views for every format.
- `i2b2_2014`: the official i2b2 2014 de-identification evaluator's views, reimplemented.
- `conlleval` + `bio_files`: conlleval.pl's chunk scores on NeMo / CoNLL label files.
- `report`: the printed tables.
- `documents`: all of the above on paired corpora (`evaluate_documents`, `conlleval_files`).
"""
