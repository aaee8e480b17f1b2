"""Relation extraction between entities (n2c2 2018 track 2: medications and their attributes).

Built so far (issue 26, part 1): `candidates` (which entity pairs a classifier is asked about, and
their text with entity markers) and `scoring` (per relation type, strict and lenient). The classifier,
its training recipe, `predict` and the end-to-end mode are not built yet.
"""
