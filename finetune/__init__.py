"""finetune stage: clinical NER and de-identification on HF transformers, a sub-package per step of
the chain, the commands at the top.

- `corpora` (`python -m finetune.convert`): one document model, the benchmark formats.
- `tagging`: word labels (BIO/BIOES) and subword alignment, long documents as overlapping windows,
  constrained (Viterbi) decoding back to character offsets.
- `models`: the token-classification model, saved and loaded with its labels and recipe.
- `training` (`python -m finetune`): fine-tuning recipes on the HF Trainer.
- `inference` (`python -m finetune.predict`): the fast prediction path, and what every inference
  command shares (settings, contiguous shards, the finished-run marker).
- `deid` (`python -m finetune.deid`): de-identification of notes as a tool (an inference command too).
- `relations` (`python -m finetune.relations`, `.predict`): relation extraction (n2c2 2018 track 2).
- `scoring` (`python -m finetune.evaluate`), beside them all: evaluation as the challenges scored.
Synthetic annotated corpora to try all of this on: `python -m synthetic.annotated`.
"""
