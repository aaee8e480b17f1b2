"""The token-classification models: `ner` (build, save, load a fine-tuned NER model with its labels and
recipe) and `modeling_gatortron_ner` (the MLP head, saved beside a model for `trust_remote_code`)."""
