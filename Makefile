# One-command set-up on a fresh machine: `make demo` runs the chain on synthetic data,
# `make test` runs the test suite and the linter. Both create .venv and install everything.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CPU wheel of this torch is what CI and laptops use; on a CUDA machine the same pin
# resolves to the CUDA build. Installed first so nothing pulls a multi-GB CUDA build on CPU.
TORCH_PIN := torch==2.13.0
DEMO_DIR ?= demo_out

.PHONY: setup test test-fast lint demo bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 needed"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_PIN)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# Modules run in parallel, a worker per core (tests/conftest.py); `make test PYTEST_WORKERS=0` runs them in
# one process.
PYTEST_WORKERS ?= auto
test: setup
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile
	$(BIN)/ruff check .

# The edit loop: the tests that train, pretrain or run whole commands are left out (CI runs them all).
test-fast: setup
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile -m "not slow"
	$(BIN)/ruff check .

lint: setup
	$(BIN)/ruff check .

# The chain on bundled synthetic data (CPU is enough): corpora -> vocabulary -> indexed datasets -> blend
# -> a short pretraining of the tiny model with checkpoints -> export to a HF model -> fill-mask with it
# -> a synthetic de-id corpus -> fine-tuning -> scored predictions -> de-identified notes, audited.
demo: setup
	$(BIN)/python -m synthetic.corpora output_dir=$(DEMO_DIR)/corpora notes_mb=4 \
		pubmed_articles=300 wiki_pages=150 seed=0
	$(BIN)/python -m tokenizer \
		'input=[$(DEMO_DIR)/corpora/notes.tsv,$(DEMO_DIR)/corpora/pubmed/*.xml.gz,$(DEMO_DIR)/corpora/wikipedia/*.xml.bz2]' \
		output_dir=$(DEMO_DIR)/vocab vocab_size=8000
	$(BIN)/python -m tokenizer 'input=[$(DEMO_DIR)/corpora/notes.jsonl]' output_dir=$(DEMO_DIR)/vocab_uncased_sp \
		vocab_size=8000 lowercase=true algorithm=sentencepiece_bpe
	$(BIN)/python -m data_prep source=notes input=$(DEMO_DIR)/corpora/notes.jsonl vocab=$(DEMO_DIR)/vocab \
		output_prefix=$(DEMO_DIR)/data/notes workers=2 unit_mb=1
	$(BIN)/python -m data_prep source=pubmed 'input=$(DEMO_DIR)/corpora/pubmed/*.xml.gz' vocab=$(DEMO_DIR)/vocab \
		output_prefix=$(DEMO_DIR)/data/pubmed
	$(BIN)/python -m data_prep source=wikipedia 'input=$(DEMO_DIR)/corpora/wikipedia/*.xml.bz2' \
		vocab=$(DEMO_DIR)/vocab output_prefix=$(DEMO_DIR)/data/wikipedia
	@# The blend YAML names the datasets just made, wherever DEMO_DIR points.
	printf 'corpora:\n  - {name: notes, prefix: %s}\n  - {name: pubmed, prefix: %s}\n  - {name: wikipedia, prefix: %s}\n' \
		$(DEMO_DIR)/data/notes $(DEMO_DIR)/data/pubmed $(DEMO_DIR)/data/wikipedia > $(DEMO_DIR)/data/blend.yaml
	$(BIN)/python -m data_prep.blend blend=$(DEMO_DIR)/data/blend.yaml output=$(DEMO_DIR)/data/blend.json
	rm -rf $(DEMO_DIR)/pretrain
	$(BIN)/python -m pretrain model=tiny data.blend=$(DEMO_DIR)/data/blend.json data.vocab=$(DEMO_DIR)/vocab \
		"data.split='90,10,0'" checkpoint.dir=$(DEMO_DIR)/pretrain train.train_iters=40 train.lr=1e-3 \
		train.micro_batch_size=4 train.global_batch_size=8 checkpoint.save_interval=20 logging.log_interval=10
	$(BIN)/python -m pretrain.export checkpoint=$(DEMO_DIR)/pretrain output=$(DEMO_DIR)/hf verify=true
	$(BIN)/python -m pretrain.fill_mask model=$(DEMO_DIR)/hf "text='The patient was started on [MASK] for hypertension.'"
	$(BIN)/python -m synthetic.annotated output_dir=$(DEMO_DIR)/annotated 'corpora=[i2b2_2014]' documents=160 \
		seed=0 overwrite=true
	$(BIN)/python -m finetune task=deid_2014 model=$(DEMO_DIR)/hf data_dir=$(DEMO_DIR)/annotated/i2b2_2014 \
		output_dir=$(DEMO_DIR)/deid overwrite=true task.dataset.max_seq_length=128 task.dataset.stride=32 \
		task.head.kind=linear task.optim.lr=3e-3 task.trainer.epochs=10 task.trainer.early_stopping_patience=0
	$(BIN)/python -m finetune.predict model=$(DEMO_DIR)/deid/model input=$(DEMO_DIR)/annotated/i2b2_2014/test \
		format=i2b2_2014 output=$(DEMO_DIR)/deid_predictions overwrite=true
	$(BIN)/python -m finetune.evaluate gold=$(DEMO_DIR)/annotated/i2b2_2014/test pred=$(DEMO_DIR)/deid_predictions \
		format=i2b2_2014 output_json=$(DEMO_DIR)/deid_predictions.scores.json > $(DEMO_DIR)/deid_predictions.scores.txt
	head -n 6 $(DEMO_DIR)/deid_predictions.scores.txt
	$(BIN)/python -m finetune.deid model=$(DEMO_DIR)/deid/model input=$(DEMO_DIR)/annotated/i2b2_2014/test \
		output=$(DEMO_DIR)/deid_audit gold=$(DEMO_DIR)/annotated/i2b2_2014/test overwrite=true > /dev/null
	$(BIN)/python -m finetune.deid model=$(DEMO_DIR)/deid/model input=$(DEMO_DIR)/annotated/i2b2_2014/test_notes.tsv \
		output=$(DEMO_DIR)/notes_tagged.tsv overwrite=true > /dev/null
	GATORTRON_DEID_SECRET=demo-only-secret-not-for-real-notes $(BIN)/python -m finetune.deid model=$(DEMO_DIR)/deid/model \
		input=$(DEMO_DIR)/annotated/i2b2_2014/test_notes.tsv output=$(DEMO_DIR)/notes_surrogate.tsv \
		mode=surrogate patient_key=MRN overwrite=true > /dev/null
	@# The one place note text is shown: the start of the first synthetic note, before and after.
	@$(BIN)/python -c 'import csv, sys; csv.field_size_limit(sys.maxsize); \
		notes = [next(csv.DictReader(open(p, newline=""), delimiter="\t"))["NOTE_TEXT"] for p in sys.argv[2:]]; \
		[print(f"--- {name} (synthetic) ---", "\n".join(note.splitlines()[:int(sys.argv[1])]), sep="\n") \
		 for name, note in zip(("before", "mode=tag", "mode=surrogate"), notes)]' \
		12 $(DEMO_DIR)/annotated/i2b2_2014/test_notes.tsv $(DEMO_DIR)/notes_tagged.tsv \
		$(DEMO_DIR)/notes_surrogate.tsv
	@echo "demo outputs in $(DEMO_DIR)/: corpora/, vocab/, vocab_uncased_sp/ (report.json), data/ (.bin/.idx/.stats.json, blend.json), pretrain/ (checkpoints, metrics.jsonl, tensorboard/), hf/ (HF MegatronBert model), annotated/ (synthetic i2b2 2014 corpus), deid/ (fine-tuned de-id model, test scores), deid_predictions/ (i2b2 2014 XML) + .scores.json, deid_audit/ (de-identified test XML, residual-PHI audit), notes_tagged.tsv / notes_surrogate.tsv (+ .spans.jsonl)"

bench: setup
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python bench/vocab.py
	$(BIN)/python bench/sentences.py
	$(BIN)/python bench/prep.py
	$(BIN)/python bench/pretrain_step.py
	$(BIN)/python bench/convert_memory.py
	$(BIN)/python bench/int8_runtimes.py
	$(BIN)/python bench/ner_infer.py
	$(BIN)/python bench/int8_agreement.py
	$(BIN)/python bench/deid_throughput.py
	$(BIN)/python bench/deid_privacy.py
	$(BIN)/python bench/deid_memory.py
	$(BIN)/python bench/deid_detectors.py

clean:
	rm -rf $(DEMO_DIR) bench_out .pytest_cache .ruff_cache
