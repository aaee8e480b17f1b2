"""De-identification of notes (`python -m finetune.deid`).

- `rules`: the rule layer for fixed-shape identifiers (phone/fax, e-mail, URL, IP address, SSN, MRN
  and account numbers, dates), switchable and replaceable per institution, and the merging of rule
  and model spans into unions that keep every source.
- `records`: notes in and out in the input's own layout (a folder of .txt, CSV/TSV, JSONL).
- `tool`: model + rules -> `mode=tag` (PHI replaced by `[**CATEGORY**]`) or `mode=spans`, with a span
  file that holds no PHI text by default.
Still to come (its issue stays open): `mode=surrogate`, i2b2 XML input, shards and a Slurm array,
the residual-PHI audit against gold.
"""
