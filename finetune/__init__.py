"""finetune stage: clinical NER and de-identification on HF transformers.

- `document`, `formats` (`python -m finetune.convert`): one document model, the benchmark formats.
- `labels`: word labels (BIO/BIOES) and subword alignment; `windows`: long documents as
  overlapping windows; `decoding`: constrained (Viterbi) decoding back to character offsets.
- `scoring`, `evaluate` (`python -m finetune.evaluate`): evaluation as the challenges scored.
- `config`, `data`, `model`, `train` (`python -m finetune`): fine-tuning recipes on the HF Trainer.
- `inference`, `predict` (`python -m finetune.predict`): the fast prediction path; `runner`: what
  every inference command shares (settings, contiguous shards, the finished-run marker).
- `deid` (`python -m finetune.deid`): de-identification of notes as a tool (an inference command too).
Synthetic annotated corpora to try all of this on: `python -m synthetic.annotated`.
"""
