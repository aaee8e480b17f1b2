"""Fine-tuning (`python -m finetune`): `config` (recipes and settings, checked once), `data` (corpora to
training windows), `train` (the HF Trainer run: dev carving, early stopping, resume, test scores)."""
