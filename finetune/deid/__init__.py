"""De-identification of notes (`python -m finetune.deid`).

- `rules`: the rule layer for fixed-shape identifiers (phone/fax, e-mail, URL, IP address, SSN, MRN
  and account numbers, dates), switchable and replaceable per institution, and the merging of rule
  and model spans into unions that keep every source.
- `records`: notes in and out in the input's own layout (a folder of .txt, CSV/TSV, JSONL, i2b2 2014
  XML).
- `span_files`: the span file beside every output (JSONL or brat), without PHI text by default.
- `tool`: model + rules -> `mode=tag` (PHI replaced by `[**CATEGORY**]`), `mode=surrogate` (by
  realistic surrogates) or `mode=spans` (the span file alone); shards, one per Slurm array task.
- `surrogates`: keyed, consistent surrogates per PHI subtype (`Surrogates`), drawn from lists.
- `dates`: reading a date in its own format and moving it by a number of days.
- `names`: parsing a name span into titles, name words, initials and suffixes, with positions.
- `ages`: the number of an age span, in digits or in words.
- `guard`: the privacy guard: no word of a note's PHI and no digit of a span in its surrogate.
- `words`: what a word is (the word pattern, the case- and accent-blind key), shared by the above.
- `audit`: residual PHI against a gold corpus, beside the i2b2 2014 scores.
"""
