"""Relation extraction between entities (n2c2 2018 track 2: medications and their attributes).

`candidates` (which entity pairs the classifier is asked about, their text with typed markers),
`model` (the sequence classifier, saved self-describing), `data` (candidates as model inputs and
predictions back as relations), `train` (`python -m finetune.relations`), `predict`
(`python -m finetune.relations.predict`, end to end with `entities=`), `scoring` (per relation type,
strict and lenient).
"""
