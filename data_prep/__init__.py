"""data_prep stage: notes, PubMed and Wikipedia → Megatron indexed datasets.

`python -m data_prep` (build.py) takes its shard of the input (shards.py), reads a corpus, cleans it
(clean.py), splits sentences with clinical rules (sentences.py), tokenizes whole batches at once
(documents.py, encode.py) and writes .bin/.idx (indexed_writer.py), one work unit at a time
(pipeline.py), in parallel over work units (units.py, pool.py). `python -m data_prep.merge`
joins Slurm array shards; `python -m data_prep.blend` turns a blend YAML into the weighted
data-path list for pretraining.
"""
