"""Fine-tuning and prediction end to end on CPU: a tiny encoder learns the synthetic 2014 de-id corpus
well above a dictionary baseline; the saved model reloads with the Auto classes and predicts the same
entities; long notes are predicted whole; seeds reproduce; a killed run resumes; bad input is refused
before training starts."""

from __future__ import annotations

import bisect
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from ner_baseline import dictionary_baseline
from ner_models import make_corpora, make_encoder, settings
from safetensors.torch import load_file
from transformers import AutoModelForTokenClassification, AutoTokenizer

from finetune.corpora.document import Document, Entity, write_jsonl
from finetune.corpora.formats import read_corpus
from finetune.evaluate import evaluate_documents
from finetune.inference import int8 as int8_module
from finetune.inference.predictor import Predictor, resolve_device
from finetune.models.ner import NerInfo, NerModel, build_model, load_ner_model, ner_info_of, save_ner_model
from finetune.predict import PredictConfig, predict
from finetune.tagging.labels import label_vocabulary
from finetune.training.train import finetune
from gatortron_common.logging import InputError

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="module")
def encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_encoder(tmp_path_factory.mktemp("ner_encoder"))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_corpora(tmp_path_factory.mktemp("ner_corpora"), 160, ["i2b2_2014", "i2b2_2010"])


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, encoder: Path, corpus: Path) -> tuple[Path, dict]:
    output = tmp_path_factory.mktemp("ner_run") / "deid"
    summary = finetune(settings(encoder, corpus / "i2b2_2014", output, epochs=10))
    return output, summary


def test_fine_tuned_model_beats_the_dictionary_baseline(trained: tuple[Path, dict], corpus: Path) -> None:
    output, summary = trained
    train = read_corpus(corpus / "i2b2_2014" / "train", "i2b2_2014")
    test = read_corpus(corpus / "i2b2_2014" / "test", "i2b2_2014")
    baseline = evaluate_documents(test, dictionary_baseline(train, test), "i2b2_2014")
    baseline = baseline["strict"]["micro"]["f1"]
    model_f1 = summary["test"]["strict_micro"]["f1"]
    print(f"test strict micro F1: model {model_f1:.3f}, dictionary baseline {baseline:.3f}, all-O baseline 0")
    assert model_f1 > baseline + 0.2 and model_f1 > 0.6
    assert summary["best_dev_strict_micro_f1"] > 0.6 and summary["documents"]["dev_carved"]
    scores = json.loads((output / "test_scores.json").read_text())
    assert scores["strict"]["micro"]["f1"] == model_f1 and "i2b2_2014" in scores  # the official views too
    assert "strict" in (output / "test_scores.txt").read_text()
    predictions = read_corpus(output / "test_predictions", "i2b2_2014")  # the corpus's own format
    assert evaluate_documents(test, predictions, "i2b2_2014")["strict"]["micro"]["f1"] == model_f1
    assert all(e.category and float(e.attributes["score"]) > 0 for d in predictions for e in d.entities)
    assert list((output / "tensorboard").glob("events.out.tfevents.*"))
    config = json.loads((output / "model" / "config.json").read_text())
    assert config["id2label"]["0"] == "O" and config["gatortron_ner"]["categories"]["PATIENT"] == "NAME"
    assert config["gatortron_ner"]["recipe"]["optim"]["lr"] == 3e-3


def test_saved_model_reloads_with_auto_classes_and_predicts_the_same_entities(
        trained: tuple[Path, dict], corpus: Path, tmp_path: Path) -> None:
    output, _ = trained
    model = AutoModelForTokenClassification.from_pretrained(output / "model").eval()
    tokenizer = AutoTokenizer.from_pretrained(output / "model")
    info = ner_info_of(model.config)
    test = read_corpus(corpus / "i2b2_2014" / "test", "i2b2_2014")
    reloaded = list(Predictor(NerModel(model, tokenizer, info), device="cpu", batch_size=3).predict(test))
    at_training = read_corpus(output / "test_predictions", "i2b2_2014")

    def spans(documents: list[Document]) -> list[list[tuple]]:
        return [[(e.start, e.end, e.type, e.category) for e in d.entities] for d in documents]

    assert spans(reloaded) == spans(at_training)
    summary = predict(PredictConfig(model=str(output / "model"), format="jsonl", device="cpu",
                                    input=str(corpus / "i2b2_2014" / "test.jsonl"),
                                    output=str(tmp_path / "pred.jsonl")))
    assert summary["documents"] == len(test) and summary["tokens_per_second"] > 0
    assert spans(read_corpus(tmp_path / "pred.jsonl", "jsonl")) == spans(at_training)


def test_predict_shards_are_contiguous_and_a_finished_shard_is_not_redone(
        trained: tuple[Path, dict], corpus: Path, tmp_path: Path) -> None:
    output, _ = trained
    common = {"model": str(output / "model"), "format": "jsonl", "device": "cpu",
              "input": str(corpus / "i2b2_2014" / "test.jsonl")}
    whole = predict(PredictConfig(**common, output=str(tmp_path / "whole.jsonl")))
    parts = [predict(PredictConfig(**common, output=str(tmp_path / "part_{shard}.jsonl"), shard_index=index,
                                   shard_count=2)) for index in (0, 1)]
    assert all(part["documents"] for part in parts)
    joined = [line for index in (0, 1)
              for line in (tmp_path / f"part_{index}.jsonl").read_text().splitlines()]
    assert joined == (tmp_path / "whole.jsonl").read_text().splitlines()  # in order: contiguous parts
    assert sum(part["documents"] for part in parts) == whole["documents"]
    before = (tmp_path / "part_0.jsonl").stat().st_mtime_ns
    again = predict(PredictConfig(**common, output=str(tmp_path / "part_{shard}.jsonl"), shard_index=0,
                                  shard_count=2, batch_size=3))  # how fast is no reason to redo it
    assert again["skipped"] and (tmp_path / "part_0.jsonl").stat().st_mtime_ns == before
    with pytest.raises(InputError, match="another decoding; set overwrite=true"):
        predict(PredictConfig(**common, output=str(tmp_path / "part_{shard}.jsonl"), shard_index=0,
                              shard_count=2, decoding="argmax"))


def entity_sets(documents: list[Document]) -> list[set[tuple]]:
    return [{(e.start, e.end, e.type) for e in d.entities} for d in documents]


def test_int8_finds_the_entities_fp32_finds_and_its_graph_is_built_once_per_model(
        trained: tuple[Path, dict], corpus: Path, tmp_path: Path) -> None:
    output, _ = trained
    cache = tmp_path / "int8_cache"
    test = read_corpus(corpus / "i2b2_2014" / "test", "i2b2_2014")
    common = {"model": str(output / "model"), "format": "jsonl", "device": "cpu", "int8_cache": str(cache),
              "input": str(corpus / "i2b2_2014" / "test.jsonl")}
    summary = predict(PredictConfig(**common, output=str(tmp_path / "int8.jsonl"), precision="int8"))
    int8 = entity_sets(read_corpus(tmp_path / "int8.jsonl", "jsonl"))
    fp32 = entity_sets(read_corpus(output / "test_predictions", "i2b2_2014"))
    same = sum(len(a & b) for a, b in zip(fp32, int8, strict=True))
    f1 = {name: evaluate_documents(test, read_corpus(path, fmt), "i2b2_2014")["strict"]["micro"]["f1"]
          for name, path, fmt in (("fp32", output / "test_predictions", "i2b2_2014"),
                                  ("int8", tmp_path / "int8.jsonl", "jsonl"))}
    print(f"int8 vs fp32: {same} of {sum(map(len, fp32))} fp32 entities identical, "
          f"{sum(map(len, int8))} int8 entities; strict F1 {f1['fp32']:.4f} -> {f1['int8']:.4f}")
    assert summary["documents"] == len(test)
    assert same >= 0.99 * sum(map(len, fp32)) and same >= 0.99 * sum(map(len, int8))
    assert abs(f1["int8"] - f1["fp32"]) <= 0.005
    graphs = list(cache.glob("*/model.int8.onnx"))
    assert len(graphs) == 1 and json.loads((graphs[0].parent / "int8.json").read_text())["recipe"]
    built = graphs[0].stat().st_mtime_ns

    # Another run with the same model finds the graph; it is not rebuilt.
    again = Predictor(load_ner_model(output / "model"), device="cpu", precision="int8", int8_cache=cache)
    assert again.int8 is not None and not again.int8.graph.built and again.model is None
    assert graphs[0].stat().st_mtime_ns == built and list(cache.glob("*/model.int8.onnx")) == graphs

    # A changed model is a new key: its own graph (which follows the change), the old one left alone.
    ner = load_ner_model(output / "model")
    with torch.no_grad():
        ner.model.classifier.bias[0] = 50.0  # O everywhere
    save_ner_model(ner.model, ner.tokenizer, ner.info, tmp_path / "changed")
    changed = Predictor(load_ner_model(tmp_path / "changed"), device="cpu", precision="int8",
                        int8_cache=cache)
    assert changed.int8 is not None and changed.int8.graph.built
    assert len(list(cache.glob("*/model.int8.onnx"))) == 2
    assert not any(d.entities for d in changed.predict(test[:3]))


def test_a_failed_int8_build_leaves_no_graph_and_int8_settings_are_checked_first(
        trained: tuple[Path, dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    output, _ = trained
    cache = tmp_path / "cache"
    real_build = int8_module._build

    def killed(model, path: Path) -> None:
        real_build(model, path)  # the graph is written whole, then the job is "killed"
        raise KeyboardInterrupt

    monkeypatch.setattr(int8_module, "_build", killed)
    with pytest.raises(KeyboardInterrupt):
        int8_module.int8_graph(output / "model", load_ner_model(output / "model").model, cache)
    assert not list(cache.rglob("*.onnx"))  # nothing a later run could take for a finished graph
    monkeypatch.setattr(int8_module, "_build", real_build)
    graph = int8_module.int8_graph(output / "model", load_ner_model(output / "model").model, cache)
    assert graph.built and graph.path.is_file()

    assert resolve_device("auto", "int8").type == "cpu"  # even on a GPU machine: int8 runs on CPUs
    ner = load_ner_model(output / "model")
    with pytest.raises(InputError, match="precision=int8 needs a model loaded from its directory"):
        Predictor(NerModel(ner.model, ner.tokenizer, ner.info), device="cpu", precision="int8")
    common = {"model": str(output / "model"), "format": "jsonl", "input": str(tmp_path / "missing.jsonl"),
              "output": str(tmp_path / "out.jsonl")}
    for bad, message in (({"precision": "int4"}, "precision='int4': expected one of fp32, bf16, fp16, int8"),
                         ({"precision": "int8", "device": "cuda"}, "device=cuda")):
        with pytest.raises(InputError, match=re.escape(message)):
            predict(PredictConfig(**common, **bad))


def long_document(documents: list[Document], tokenizer, tokens: int) -> tuple[Document, list[int]]:
    """Notes joined (offsets shifted) until the text has `tokens` subwords; each entity's token index."""
    parts, entities, length = [], [], 0
    while len(tokenizer("".join(parts), add_special_tokens=False, verbose=False)["input_ids"]) < tokens:
        for document in documents:
            parts.append(document.text + "\n")
            entities += [Entity(start=e.start + length, end=e.end + length, type=e.type, category=e.category)
                         for e in document.entities]
            length += len(document.text) + 1
    text = "".join(parts)
    encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    starts = [start for start, _ in encoding["offset_mapping"]]
    token_index = [bisect.bisect_left(starts, e.start) for e in entities]
    return Document(id="long", text=text, entities=entities), token_index


def test_entities_far_into_a_long_note_are_found_and_a_20000_token_note_predicts(trained: tuple[Path, dict],
                                                                                 corpus: Path) -> None:
    output, _ = trained
    ner = load_ner_model(output / "model")
    test = read_corpus(corpus / "i2b2_2014" / "test", "i2b2_2014")
    document, token_index = long_document(test[:8], ner.tokenizer, 2_000)
    predictor = Predictor(ner, device="cpu", batch_size=8)
    prediction, = predictor.predict([document])
    far = [e for e, index in zip(document.entities, token_index, strict=True) if index > 1_500]
    assert len(far) > 20
    far_gold = Document(id="long", text=document.text, entities=far)
    far_pred = Document(id="long", text=document.text,
                        entities=[e for e in prediction.entities if e.start >= far[0].start])
    far_scores = evaluate_documents([far_gold], [far_pred], "jsonl")["strict"]["micro"]
    whole = evaluate_documents([document], [prediction], "jsonl")["strict"]["micro"]
    print(f"long note: recall past token 1,500 {far_scores['recall']:.3f}, whole note {whole['recall']:.3f}")
    assert far_scores["tp"] > 10 and far_scores["recall"] > whole["recall"] - 0.15

    huge, _ = long_document(test, ner.tokenizer, 20_000)
    prediction, = predictor.predict([huge])
    assert predictor.stats.tokens >= 20_000
    assert max(e.end for e in prediction.entities) > 0.9 * len(huge.text)


def test_mlp_head_model_loads_with_auto_classes_and_trust_remote_code(encoder: Path, tmp_path: Path) -> None:
    labels = label_vocabulary(["NAME", "DATE"], "BIO")
    model = build_model(encoder, labels, "mlp", head_layers=2, head_dropout=0.1)
    assert len(model.classifier) == 3  # Linear, ReLU, Linear: NeMo's 2-layer MLP
    tokenizer = AutoTokenizer.from_pretrained(encoder)
    save_ner_model(model, tokenizer, NerInfo(labels=labels, max_seq_length=64, stride=8), tmp_path / "mlp")
    ids = tokenizer("Seen by Dr. Lee on 2067-05-03.", return_tensors="pt")
    ours = load_ner_model(tmp_path / "mlp")
    with torch.no_grad():
        expected = ours.model(**ids).logits
    script = ("import sys, torch\n"
              "from transformers import AutoModelForTokenClassification as A, AutoTokenizer as T\n"
              "m = A.from_pretrained(sys.argv[1], trust_remote_code=True).eval()\n"
              "t = T.from_pretrained(sys.argv[1])\n"
              "assert type(m).__module__.startswith('transformers_modules'), type(m).__module__\n"
              "torch.save(m(**t(sys.argv[2], return_tensors='pt')).logits.detach(), sys.argv[3])\n")
    # A fresh interpreter outside the checkout: the directory's own modeling file defines the model.
    command = [sys.executable, "-c", script, str(tmp_path / "mlp"), "Seen by Dr. Lee on 2067-05-03.",
               str(tmp_path / "logits.pt")]
    result = subprocess.run(command, cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=300,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-2000:]
    assert torch.equal(torch.load(tmp_path / "logits.pt"), expected)


def weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(run / "model" / "model.safetensors")


def run_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "finetune", *arguments]


def test_same_seed_same_model_and_a_killed_run_resumes_to_the_same_model(encoder: Path,
                                                                          tmp_path: Path) -> None:
    data = make_corpora(tmp_path / "small", 24, ["i2b2_2014"])
    first, second = (finetune(settings(encoder, data / "i2b2_2014", tmp_path / name, epochs=4))
                     for name in "ab")
    a, b = weights(tmp_path / "a"), weights(tmp_path / "b")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert first["test"]["strict_micro"] == second["test"]["strict_micro"]

    common = ["task=deid_2014", f"model={encoder}", f"data_dir={data / 'i2b2_2014'}", "device=cpu", "seed=7",
              "task.dataset.max_seq_length=128", "task.dataset.stride=32", "task.head.kind=linear",
              "task.optim.lr=3e-3", "task.trainer.epochs=4", "task.trainer.early_stopping_patience=0",
              "task.trainer.logging_steps=50"]
    arguments = [*common, f"output_dir={tmp_path / 'killed'}"]
    reference = subprocess.run(run_command(*common, f"output_dir={tmp_path / 'reference'}"), cwd=ROOT,
                               env=ENV, capture_output=True, text=True, timeout=600)
    assert reference.returncode == 0, reference.stderr[-3000:]
    process = subprocess.Popen(run_command(*arguments), cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    checkpoints = tmp_path / "killed" / "checkpoints"
    while time.time() < deadline and not list(checkpoints.glob("checkpoint-*/trainer_state.json")):
        assert process.poll() is None, process.stderr.read()[-3000:]
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (tmp_path / "killed" / "model").exists()  # killed before the end

    refused = subprocess.run(run_command(*arguments), cwd=ROOT, env=ENV, capture_output=True, text=True,
                             timeout=600)
    assert refused.returncode == 2 and "resume=true" in refused.stderr
    resumed = subprocess.run(run_command(*arguments, "resume=true"), cwd=ROOT, env=ENV, capture_output=True,
                             text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "continuing from" in resumed.stderr
    # The same command uninterrupted (same threads as the killed one) gives the same weights.
    expected, got = weights(tmp_path / "reference"), weights(tmp_path / "killed")
    assert all(torch.equal(expected[k], got[k]) for k in expected)


def test_bad_settings_and_inputs_are_refused_before_training(
        encoder: Path, corpus: Path, trained: tuple[Path, dict], tmp_path: Path) -> None:
    output, _ = trained
    data = corpus / "i2b2_2014"

    def refused(match: str, config) -> None:
        with pytest.raises(InputError, match=match):
            finetune(config)

    refused("max_seq_length=1024 is above the model's 512 positions",
            settings(encoder, data, tmp_path / "o1", max_seq_length=1024))
    refused("model=.*has no labels for these corpus types: problem, test, treatment",
            settings(output / "model", corpus / "i2b2_2010", tmp_path / "o2", fmt="i2b2_2010",
                     recipe="i2b2_2010"))
    refused("never occur in the training split: NOPE",
            settings(encoder, data, tmp_path / "o3", types=["NOPE"]))
    (tmp_path / "empty" / "train").mkdir(parents=True)
    refused("no .xml files", settings(encoder, tmp_path / "empty", tmp_path / "o4"))
    empty_jsonl = tmp_path / "empty_jsonl"
    empty_jsonl.mkdir()
    write_jsonl([], empty_jsonl / "train.jsonl")
    refused("the train split has no documents",
            settings(encoder, empty_jsonl, tmp_path / "o5", fmt="jsonl", train="train.jsonl", test=None))
    refused("output_dir=.* is also an input", settings(encoder, data, data))
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    refused("not a fine-tuning output", settings(encoder, data, foreign))
    refused("scheme='BIOX'", settings(encoder, data, tmp_path / "o6", scheme="BIOX"))
    for name in ("o1", "o2", "o3", "o4", "o5", "o6"):
        assert not (tmp_path / name).exists()  # nothing was started
    assert (foreign / "notes.txt").read_text() == "keep me"

    with pytest.raises(InputError, match="has no NER labels"):
        predict(PredictConfig(model=str(encoder), input=str(data / "test"), format="i2b2_2014",
                              output=str(tmp_path / "p")))
    unknown = subprocess.run(run_command("task=deid_2014", f"model={encoder}", f"data_dir={data}",
                                         f"output_dir={tmp_path / 'o7'}", "task.dataset.nope=1"),
                             cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert unknown.returncode != 0 and "task.dataset.nope" in unknown.stderr
    assert not (tmp_path / "o7").exists()


def test_predict_command_on_plain_text_notes(trained: tuple[Path, dict], corpus: Path,
                                             tmp_path: Path) -> None:
    output, _ = trained
    notes = tmp_path / "notes"
    notes.mkdir()
    test = read_corpus(corpus / "i2b2_2014" / "test", "i2b2_2014")[:5]
    for document in test:
        (notes / f"{document.id}.txt").write_text(document.text, encoding="utf-8")
    command = [sys.executable, "-m", "finetune.predict", f"model={output / 'model'}", f"input={notes}",
               "format=txt", f"output={tmp_path / 'pred.jsonl'}", "device=cpu", "batch_size=4"]
    result = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["documents"] == 5 and summary["entities"] > 0
    predictions = read_corpus(tmp_path / "pred.jsonl", "jsonl")
    assert [d.id for d in predictions] == [d.id for d in test]
    assert evaluate_documents(test, predictions, "jsonl")["strict"]["micro"]["f1"] > 0.6
    for document in test:  # logs and progress never carry note text
        texts = [document.text[e.start:e.end] for e in document.entities if e.end - e.start > 6]
        assert not any(text in result.stderr for text in texts)
    again = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "already done by an identical run" in again.stderr  # skipped
    other = subprocess.run([*command, "decoding=argmax"], cwd=ROOT, env=ENV, capture_output=True, text=True,
                           timeout=300)
    assert other.returncode == 2 and "another decoding; set overwrite=true" in other.stderr


def test_two_process_ddp_run_under_torchrun(encoder: Path, tmp_path: Path) -> None:
    data = make_corpora(tmp_path / "ddp", 16, ["i2b2_2014"])
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
               "-m", "finetune", "task=deid_2014", f"model={encoder}", f"data_dir={data / 'i2b2_2014'}",
               "device=cpu", f"output_dir={tmp_path / 'run'}", "task.dataset.max_seq_length=128",
               "task.dataset.stride=32", "task.head.kind=linear", "task.trainer.epochs=1",
               "task.trainer.batch_size=4"]
    result = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "train_summary.json").read_text())
    # Each rank took half of the windows per step, and the dev metric saw every dev window once.
    assert summary["steps"] == -(-summary["windows"]["train"] // 8)
    assert summary["best_dev_strict_micro_f1"] is not None
    assert (tmp_path / "run" / "model" / "config.json").is_file()
