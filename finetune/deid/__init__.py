"""De-identification of notes (issue in progress): the rule layer for fixed-shape identifiers
(`rules`: phone/fax, e-mail, URL, IP address, SSN, MRN and account numbers, dates) and the merging
of rule and model spans. The `python -m finetune.deid` tool (tag / surrogate / spans modes over
text, CSV/TSV, JSONL and i2b2 XML) is still to come."""
