"""Relation extraction's foundations (issue 26, part 1): brat relations read and written, candidate
pairs with entity markers, and the n2c2 2018 track 2 style scores checked by hand."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from ner_models import make_corpora, make_encoder, settings
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from finetune.corpora.document import Document, Entity
from finetune.corpora.formats import read_corpus, write_corpus
from finetune.corpora.formats.report import FormatReport
from finetune.relations.candidates import MARKERS, NONE, Sentences, candidate_pairs, coverage, marked_text
from finetune.relations.data import classify, examples_of, with_relations
from finetune.relations.model import load_relation_model
from finetune.relations.predict import RelationPredictConfig, predict_relations
from finetune.relations.scoring import score_relations
from finetune.relations.train import RelationRecipe, RelationTrainConfig, train_relations
from finetune.training.train import finetune
from gatortron_common.logging import InputError
from synthetic.annotated import generate_corpus

TEXT = "Lasix 40 mg daily was given. He also takes Aspirin PO for pain."


def entity(identifier: str, kind: str, start: int, end: int) -> Entity:
    return Entity(start=start, end=end, type=kind, id=identifier)


def relation(identifier: str, kind: str, first: str, second: str) -> dict:
    return {"id": identifier, "type": kind, "args": {"Arg1": first, "Arg2": second}}


def gold_document() -> Document:
    entities = [entity("T1", "Drug", 0, 5), entity("T2", "Strength", 6, 11),
                entity("T3", "Frequency", 12, 17), entity("T4", "Drug", 43, 50),
                entity("T5", "Route", 51, 53), entity("T6", "Reason", 58, 62)]
    relations = [relation("R1", "Strength-Drug", "T2", "T1"), relation("R2", "Frequency-Drug", "T3", "T1"),
                 relation("R3", "Route-Drug", "T5", "T4")]
    return Document(id="note", text=TEXT, entities=entities, relations=relations)


def test_relation_scores_equal_a_hand_count() -> None:
    gold = gold_document()
    predicted = Document(id="note", text=TEXT, entities=[
        entity("T1", "Drug", 0, 5), entity("T2", "Strength", 6, 11),
        entity("T3", "Frequency", 13, 17),  # one character short: lenient only
        entity("T4", "Drug", 43, 50), entity("T6", "Reason", 58, 62), entity("T9", "Dosage", 6, 8)],
        relations=[relation("R1", "Strength-Drug", "T2", "T1"), relation("R2", "Frequency-Drug", "T3", "T1"),
                   relation("R3", "Dosage-Drug", "T9", "T4"), relation("R4", "Reason-Drug", "T6", "T7")])
    scores = score_relations([(gold, predicted)])
    # strict: Strength-Drug TP; Frequency-Drug FP + FN; Route-Drug FN; Dosage-Drug FP -> 1 / 2 / 2.
    strict = scores["strict"]
    assert (strict["micro"]["tp"], strict["micro"]["fp"], strict["micro"]["fn"]) == (1, 2, 2)
    assert strict["micro"]["precision"] == pytest.approx(1 / 3)
    assert strict["micro"]["f1"] == pytest.approx(1 / 3)
    assert strict["per_type"]["Frequency-Drug"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "tp": 0,
                                                    "fp": 1, "fn": 1}
    # macro over the four types present: precisions 1, 0, 0, 0 and recalls 1, 0, 0, 0.
    assert strict["macro"]["types"] == 4
    assert strict["macro"]["precision"] == pytest.approx(0.25)
    assert strict["macro"]["recall"] == pytest.approx(0.25)
    # lenient: the short Frequency argument overlaps -> 2 / 1 / 1.
    lenient = scores["lenient"]["micro"]
    assert (lenient["tp"], lenient["fp"], lenient["fn"]) == (2, 1, 1)
    assert lenient["f1"] == pytest.approx(2 / 3)
    assert scores["unresolved"] == {"gold": 0, "pred": 1}  # R4 names T7, which the prediction lacks


def test_gold_relations_through_the_brat_writer_score_perfectly(tmp_path: Path) -> None:
    documents = generate_corpus("n2c2_2018", seed=2, documents=12)
    assert sum(len(document.relations) for document in documents) > 100
    write_corpus(documents, tmp_path / "brat", "brat")
    assert "\nR1\t" in (tmp_path / "brat" / f"{documents[0].id}.ann").read_text()
    again = read_corpus(tmp_path / "brat", "brat")
    scores = score_relations(zip(sorted(documents, key=lambda d: d.id), again, strict=True))
    for view in ("strict", "lenient"):
        assert scores[view]["micro"]["f1"] == 1.0 and scores[view]["macro"]["f1"] == 1.0
        assert scores[view]["micro"]["fn"] == 0 and scores[view]["micro"]["fp"] == 0
    assert scores["unresolved"] == {"gold": 0, "pred": 0}


def test_a_malformed_relation_line_is_counted_and_skipped(tmp_path: Path) -> None:
    folder = tmp_path / "brat"
    folder.mkdir()
    (folder / "a.txt").write_text(TEXT)
    (folder / "a.ann").write_text("T1\tDrug 0 5\tLasix\nT2\tStrength 6 11\t40 mg\n"
                                  "R1\tStrength-Drug Arg1:T2 Arg2:T1\nR2\tStrength-Drug Arg1T2\n")
    report = FormatReport()
    document, = read_corpus(folder, "brat", report=report)
    assert [r["id"] for r in document.relations] == ["R1"]
    assert report.count("skip") == 1
    with pytest.raises(InputError, match="a.ann:4"):
        read_corpus(folder, "brat", strict=True)


def test_candidates_cover_gold_pairs_within_the_window_and_carry_their_labels() -> None:
    document = gold_document()
    pairs = candidate_pairs(document, max_sentence_distance=0)
    found = {(c.attribute.id, c.head.id): c.label for c in pairs}
    # Sentence 1 holds T1-T3, sentence 2 T4-T6: no pair crosses them at distance 0.
    assert found == {("T2", "T1"): "Strength-Drug", ("T3", "T1"): "Frequency-Drug",
                     ("T5", "T4"): "Route-Drug", ("T6", "T4"): NONE}
    assert coverage(document, pairs) == (3, 3)
    wider = candidate_pairs(document, max_sentence_distance=1)
    assert len(wider) == 8 and ("T2", "T4") in {(c.attribute.id, c.head.id) for c in wider}
    unlabelled = candidate_pairs(Document(id="x", text=TEXT, entities=document.entities))
    assert all(c.label is None for c in unlabelled)


def test_marked_text_holds_both_arguments_inside_their_markers_and_only_their_sentences() -> None:
    document = gold_document()
    sentences = Sentences(document.text)
    route = next(c for c in candidate_pairs(document, 0) if c.attribute.id == "T5")
    text = marked_text(document.text, route, sentences)
    start_1, end_1, start_2, end_2 = MARKERS
    assert f"{start_1} Route PO {end_1}" in text and f"{start_2} Drug Aspirin {end_2}" in text
    assert "Lasix" not in text
    assert text.split() == "He also takes [E2] Drug Aspirin [/E2] [E1] Route PO [/E1] for pain.".split()
    across = next(c for c in candidate_pairs(document, 1) if (c.attribute.id, c.head.id) == ("T2", "T4"))
    both = marked_text(document.text, across, sentences)
    assert both.startswith("Lasix") and both.rstrip().endswith("pain.")


def test_no_candidate_of_a_long_note_is_lost() -> None:
    notes = generate_corpus("n2c2_2018", seed=4, documents=15)
    separate = sum(len(candidate_pairs(note, 1)) for note in notes)
    parts, entities, relations, offset = [], [], [], 0
    for index, note in enumerate(notes):
        rename = {e.id: f"T{index}_{e.id}" for e in note.entities}
        entities += [Entity(start=e.start + offset, end=e.end + offset, type=e.type, id=rename[e.id])
                     for e in note.entities]
        relations += [relation(f"R{index}_{r['id']}", r["type"], rename[r["args"]["Arg1"]],
                               rename[r["args"]["Arg2"]]) for r in note.relations]
        parts.append(note.text + "\n\n")
        offset += len(note.text) + 2
    long_note = Document(id="long", text="".join(parts), entities=entities, relations=relations)
    pairs = candidate_pairs(long_note, 1)
    assert len(long_note.text) > 10_000 and coverage(long_note, pairs) == (len(relations), len(relations))
    # Joined notes add pairs across the seams only: never fewer than the notes had apart.
    assert len(pairs) >= separate


@pytest.fixture(scope="module")
def relation_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    root = tmp_path_factory.mktemp("relations")
    encoder = make_encoder(root, hidden=64)
    data = make_corpora(root / "corpora", 48, ["n2c2_2018"]) / "n2c2_2018"
    recipe = RelationRecipe(name="tiny", epochs=6, batch_size=16, lr=3e-3, max_seq_length=96)
    summary = train_relations(RelationTrainConfig(model=str(encoder), data_dir=str(data),
                                                  output_dir=str(root / "run"), task=recipe, seed=3))
    return root / "run", data, summary


def nearest_drug(documents: list[Document]) -> list[Document]:
    """A trivial baseline: every attribute linked to the nearest drug in its sentence."""
    predicted = []
    for document in documents:
        relations = []
        pairs = candidate_pairs(document, 0)
        for pair in pairs:
            others = [c for c in pairs if c.attribute is pair.attribute]
            if pair is min(others, key=lambda c: abs(c.head.start - c.attribute.start)):
                relations.append(relation(f"R{len(relations) + 1}", f"{pair.attribute.type}-{pair.head.type}",
                                          pair.attribute.id, pair.head.id))
        predicted.append(Document(id=document.id, text=document.text, entities=document.entities,
                                  relations=relations))
    return predicted


def test_a_tiny_relation_model_beats_the_trivial_baselines(relation_run: tuple[Path, Path, dict]) -> None:
    output, data, summary = relation_run
    test = read_corpus(data / "test", "brat")
    majority = score_relations([(d, Document(id=d.id, text=d.text, entities=d.entities)) for d in test])
    nearest = score_relations(zip(test, nearest_drug(test), strict=True))
    model_f1 = summary["test_strict_micro_f1"]
    baselines = {name: scores["strict"]["micro"]["f1"] for name, scores in
                 (("nearest drug", nearest), ("majority (NONE)", majority))}
    print(f"relations, strict micro F1: model {model_f1:.3f}, "
          + ", ".join(f"{name} {value:.3f}" for name, value in baselines.items()))
    assert summary["test_gold_covered"][0] == summary["test_gold_covered"][1] > 50
    assert model_f1 > baselines["majority (NONE)"] + 0.5
    scores = json.loads((output / "test_scores.json").read_text())
    assert scores["strict"]["micro"]["f1"] == model_f1 and scores["lenient"]["micro"]["f1"] >= model_f1


def test_the_saved_relation_model_reloads_with_the_auto_classes_and_predicts_the_same(
        relation_run: tuple[Path, Path, dict]) -> None:
    output, data, summary = relation_run
    test = read_corpus(data / "test", "brat")
    reloaded = load_relation_model(output / "model")
    assert reloaded.info.labels[0] == NONE
    assert all(reloaded.tokenizer.tokenize(f"{marker} x")[0] == marker for marker in MARKERS)
    examples = examples_of(test, reloaded)
    predicted = with_relations(test, examples, classify(reloaded, examples))
    assert score_relations(zip(test, predicted, strict=True))["strict"]["micro"]["f1"] == \
        summary["test_strict_micro_f1"]
    model = AutoModelForSequenceClassification.from_pretrained(output / "model").eval()
    tokenizer = AutoTokenizer.from_pretrained(output / "model")
    with torch.no_grad():
        logits = model(**tokenizer("Lasix [E2] 40 mg [/E2]", return_tensors="pt")).logits
    assert logits.shape[-1] == len(summary["labels"])


def test_predicted_relations_written_as_brat_score_as_the_run_did(relation_run: tuple[Path, Path, dict],
                                                                   tmp_path: Path) -> None:
    output, data, summary = relation_run
    result = predict_relations(RelationPredictConfig(model=str(output / "model"), input=str(data / "test"),
                                                     output=str(tmp_path / "pred"), device="cpu"))
    test = read_corpus(data / "test", "brat")
    written = read_corpus(tmp_path / "pred", "brat")
    assert result["documents"] == len(test) and result["relations"] > 50
    assert [d.entities for d in written] == [d.entities for d in test]  # the entities as given
    scores = score_relations(zip(test, written, strict=True))
    assert scores["strict"]["micro"]["f1"] == summary["test_strict_micro_f1"]
    with pytest.raises(InputError, match="output="):  # never the input, nor over an existing output
        predict_relations(RelationPredictConfig(model=str(output / "model"), input=str(data / "test"),
                                                output=str(tmp_path / "pred"), device="cpu"))


def test_end_to_end_relations_from_a_concept_extraction_models_entities(
        relation_run: tuple[Path, Path, dict], tmp_path: Path) -> None:
    output, data, summary = relation_run
    ner = finetune(settings(output.parent / "encoder", data, tmp_path / "ner", recipe="n2c2_2018",
                            fmt="brat", epochs=8))
    result = predict_relations(RelationPredictConfig(model=str(output / "model"), input=str(data / "test"),
                                                     output=str(tmp_path / "pred"), device="cpu",
                                                     entities=str(tmp_path / "ner" / "model")))
    test = read_corpus(data / "test", "brat")
    scores = score_relations(zip(test, read_corpus(tmp_path / "pred", "brat"), strict=True))
    end_to_end = scores["lenient"]["micro"]["f1"]
    strict = scores["strict"]["micro"]["f1"]
    print(f"end to end: concept F1 {ner['test']['strict_micro']['f1']:.3f}, relations lenient F1 "
          f"{end_to_end:.3f}, strict {strict:.3f} (gold entities: {summary['test_strict_micro_f1']:.3f})")
    assert result["entities_from"].endswith("model") and result["relations"] > 0
    assert 0.2 < end_to_end and strict <= summary["test_strict_micro_f1"]


def test_relation_settings_are_checked_before_any_work(relation_run: tuple[Path, Path, dict],
                                                       tmp_path: Path) -> None:
    output, data, _ = relation_run
    encoder = output.parent / "encoder"
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("not ours")
    for values, message in (({"task": RelationRecipe(epochs=0)}, "task.epochs=0"),
                            ({"data_dir": str(tmp_path)}, "no train/ folder"),
                            ({"output_dir": str(tmp_path / "busy")}, "output_dir"),
                            ({"output_dir": str(data / "run")}, "output_dir")):
        chosen = {"model": str(encoder), "data_dir": str(data), "output_dir": str(tmp_path / "new"), **values}
        with pytest.raises(InputError, match=message):
            train_relations(RelationTrainConfig(**chosen))
    assert not (tmp_path / "new").exists()
    (tmp_path / "a_file").write_text("not a folder")  # replaced only with overwrite=true, and then whole
    with pytest.raises(InputError, match="output_dir"):
        train_relations(RelationTrainConfig(model=str(encoder), data_dir=str(data),
                                            output_dir=str(tmp_path / "a_file")))
    summary = train_relations(RelationTrainConfig(model=str(encoder), data_dir=str(data),
                                                  task=RelationRecipe(epochs=1),
                                                  output_dir=str(tmp_path / "a_file"), overwrite=True))
    assert (tmp_path / "a_file" / "model" / "config.json").is_file() and summary["train_candidates"] > 0
    command = [sys.executable, "-m", "finetune.relations", f"model={tmp_path / 'nothing'}",
               f"data_dir={data}", f"output_dir={tmp_path / 'x'}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 2 and "model=" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_two_process_relations_run_under_torchrun(relation_run: tuple[Path, Path, dict],
                                                  tmp_path: Path) -> None:
    """Data-parallel training (the task commands share it): every rank trains on its share of the
    candidates, rank 0 alone writes the model, the scores and the summary."""
    output, data, _ = relation_run
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
               "-m", "finetune.relations", f"model={output.parent / 'encoder'}", f"data_dir={data}",
               f"output_dir={tmp_path / 'run'}", "device=cpu", "task.epochs=1", "task.batch_size=8",
               "task.max_seq_length=96"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    # Two ranks of 8 candidates a step: one epoch is ceil(candidates / 16) steps, not / 8.
    assert summary["steps"] == -(-summary["train_candidates"] // 16)
    assert (tmp_path / "run" / "model" / "config.json").is_file() and summary["test_strict_micro_f1"] >= 0
    assert sorted(path.name for path in (tmp_path / "run").iterdir()) == ["model", "relations_run.json",
                                                                         "summary.json", "test_scores.json"]
