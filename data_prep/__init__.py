"""data_prep stage: notes, PubMed and Wikipedia → Megatron indexed datasets.

Landed so far: `data_prep.sentences` (clinical sentence splitting). The `python -m data_prep`
command, tokenization into .bin/.idx, sharding and merging are the rest of the stage.
"""
