"""finetune stage: clinical NER and de-identification on HF transformers.

Built so far: one document model (`finetune.document`), readers and writers for the benchmark
formats (`finetune.formats`, `python -m finetune.convert`), word labels and subword alignment
(`finetune.labels`), evaluation as the challenges scored (`finetune.scoring`,
`python -m finetune.evaluate`) and synthetic annotated corpora (`python -m finetune.synthetic`).
Training, prediction and de-identification are the next issues.
"""
