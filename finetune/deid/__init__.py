"""De-identification of notes (`python -m finetune.deid`).

- `detectors`: the registry of named rules (`RULE_NAMES`, `build_rules` -> `RuleSet`) and how a
  note's PHI is put together: rules, the model's spans (cut down by `model_filter`), allow-lists,
  unions, name propagation within a note and a patient.
- `rules`: the PHI span, the pattern rule (compiled when made) and the merging of overlapping spans.
- `shape_rules`: dates, contacts, identifiers after labels, ages, rooms, user names.
- `name_rules`: names of people from context, name lists and the shape of words.
- `place_rules`: streets, addresses, states, countries, cities, institutions, organisations,
  professions.
- `context_rules`: places named by where they stand: named units, place fields ("Employer:"), names
  after verbs of affiliation ("works at"), the unit after a hospital, letterheads, the military.
- `model_filter`: what of a model's span could be PHI by its form and the word lists.
- `lexicon`: the shipped word lists (`lexicons/`: names, places, English, clinical vocabulary,
  professions, organisations), read on first use; `note_words`: a note's words for the word rules.
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
