"""Sentence-pair tasks (issue 26, part 2): clinical STS (regression, Pearson/Spearman) and MedNLI
(three classes, accuracy and per-class F1), read from the releases' own layouts, scored as a hand
computation says, trained tiny and reloaded with the Auto classes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from ner_models import make_encoder
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from finetune.pairs.model import encode_pairs, load_pair_model, predict_pairs
from finetune.pairs.predict import PairPredictConfig, predict_pair_file
from finetune.pairs.readers import find_split, read_mednli, read_pairs, read_predictions, read_sts
from finetune.pairs.scoring import score_mednli, score_sts
from finetune.pairs.train import PairRecipe, PairTrainConfig, train_pairs
from gatortron_common.logging import InputError, SkipReport
from synthetic.annotated.sentence_pairs import (
    generate_mednli,
    generate_sts,
    write_mednli_release,
    write_sts_release,
)


def test_sts_scores_equal_a_hand_computation() -> None:
    gold, predicted = [0.0, 1.0, 2.0, 5.0], [1.0, 1.0, 3.0, 3.0]
    # Pearson by hand: gold mean 2, predicted mean 2; deviations (-2,-1,0,3) and (-1,-1,1,1):
    # covariance sum 2+1+0+3 = 6; sums of squares 14 and 4 -> r = 6 / sqrt(56).
    scores = score_sts(gold, predicted)
    assert scores["pearson"] == pytest.approx(6 / 56 ** 0.5)
    # Spearman: gold ranks (1,2,3,4); predicted ranks with the ties averaged (1.5,1.5,3.5,3.5):
    # deviations (-1.5,-.5,.5,1.5) and (-1,-1,1,1) -> 4 / sqrt(5 * 4).
    assert scores["spearman"] == pytest.approx(4 / 20 ** 0.5)
    assert scores["mse"] == pytest.approx((1 + 0 + 1 + 4) / 4) and scores["pairs"] == 4
    constant = score_sts(gold, [2.5] * 4)  # the mean-score baseline has no correlation at all
    assert constant["pearson"] is None and constant["spearman"] is None


def test_mednli_scores_equal_a_hand_computation() -> None:
    gold = ["entailment", "entailment", "contradiction", "neutral", "neutral"]
    predicted = ["entailment", "neutral", "contradiction", "neutral", "entailment"]
    scores = score_mednli(gold, predicted)
    assert scores["accuracy"] == pytest.approx(3 / 5)
    # entailment: TP 1, FP 1, FN 1 -> P = R = F1 = 1/2; contradiction: all 1; neutral: TP 1, FP 1, FN 1.
    assert scores["per_class"]["entailment"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "tp": 1, "fp": 1,
                                                 "fn": 1, "support": 2}
    assert scores["per_class"]["contradiction"]["f1"] == 1.0
    assert scores["macro"]["f1"] == pytest.approx((0.5 + 1.0 + 0.5) / 3)


def test_readers_take_the_release_layouts_and_name_bad_lines_without_their_text(tmp_path: Path) -> None:
    folder = write_sts_release(tmp_path / "sts", generate_sts(1, 5), generate_sts(2, 4))
    train = read_sts(find_split(folder, "sts", "train"))
    test = read_sts(find_split(folder, "sts", "test"))  # scores from clinicalSTS2019.test.gs.sim.txt
    assert len(train) == 5 and len(test) == 4 and all(isinstance(p.label, float) for p in train + test)
    assert [p.label for p in test] == pytest.approx([p.label for p in generate_sts(2, 4)])
    bad = tmp_path / "bad.train.txt"
    bad.write_text("Secret Smith took aspirin.\tAspirin taken.\t3.5\nonly one column\n"
                   "Secret Smith A\tSecret Smith B\tseven\nA\tB\t9\n\t\t2\n")
    report = SkipReport()
    assert [p.label for p in read_sts(bad, report=report)] == [3.5]
    # A BOM, CRLF line ends and a form feed inside a sentence neither break a line nor shift the numbers.
    odd = tmp_path / "odd.train.txt"
    odd.write_bytes("\ufeffA\fB\tC\t1.5\r\nD\tE\t9\r\nF\tG\t2\r\n".encode())
    odd_report = SkipReport()
    assert [(p.sentence1, p.label) for p in read_sts(odd, report=odd_report)] == [("A\fB", 1.5), ("F", 2.0)]
    assert odd_report.examples == {"the score is not a number from 0 to 5": [f"{odd}:2"]}
    assert report.total == 4 and "bad.train.txt:2" in json.dumps(report.as_dict())
    assert "Secret" not in json.dumps(report.as_dict())
    with pytest.raises(InputError, match="bad.train.txt:2"):
        read_sts(bad, report=SkipReport(strict=True))
    (folder / "clinicalSTS2019.test.gs.sim.txt").write_text("1.0\n")
    with pytest.raises(InputError, match="1 scores for the 4 pairs"):
        read_sts(folder / "clinicalSTS2019.test.txt")
    mednli = write_mednli_release(tmp_path / "mednli", {"train": generate_mednli(1, 6), "dev": [],
                                                         "test": generate_mednli(2, 3)})
    assert [path.name for path in (find_split(mednli, "mednli", s) for s in ("train", "dev", "test"))] == \
        ["mli_train_v1.jsonl", "mli_dev_v1.jsonl", "mli_test_v1.jsonl"]
    lines = (mednli / "mli_train_v1.jsonl").read_text().splitlines()
    lines[1] = '{"sentence1": "Secret Smith", "sentence2": "x", "gold_label": "maybe"}'
    lines[2] = "{not json"
    (mednli / "mli_train_v1.jsonl").write_text("\n".join(lines) + "\n")
    report = SkipReport()
    assert len(read_mednli(mednli / "mli_train_v1.jsonl", report)) == 4
    assert report.total == 2 and "mli_train_v1.jsonl:2" in str(report.examples)
    assert "Secret" not in json.dumps(report.as_dict())


def test_gold_labels_written_as_predictions_score_perfectly(tmp_path: Path) -> None:
    folder = write_sts_release(tmp_path / "sts", generate_sts(1, 3), generate_sts(3, 40))
    gold = read_pairs(folder / "clinicalSTS2019.test.txt", "sts")
    written = read_predictions(folder / "clinicalSTS2019.test.gs.sim.txt", "sts", len(gold))
    scores = score_sts([p.label for p in gold], written)
    assert scores["pearson"] == pytest.approx(1.0) and scores["spearman"] == pytest.approx(1.0)
    assert scores["mse"] == pytest.approx(0.0, abs=1e-8)
    folder = write_mednli_release(tmp_path / "mednli", {"test": generate_mednli(3, 30)})
    gold = read_pairs(folder / "mli_test_v1.jsonl", "mednli")
    written = read_predictions(folder / "mli_test_v1.jsonl", "mednli", len(gold))
    scores = score_mednli([p.label for p in gold], written)
    assert scores["accuracy"] == 1.0 and all(c["f1"] == 1.0 for c in scores["per_class"].values())
    with pytest.raises(InputError, match="30 predictions for 31 pairs"):
        read_predictions(folder / "mli_test_v1.jsonl", "mednli", 31)


@pytest.fixture(scope="module")
def pair_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path, dict]]:
    root = tmp_path_factory.mktemp("pairs")
    encoder = make_encoder(root, hidden=64)
    sts = write_sts_release(root / "sts", generate_sts(0, 2000), generate_sts(1, 200))
    mednli = write_mednli_release(root / "mednli", {"train": generate_mednli(0, 1200),
                                                    "dev": generate_mednli(1, 90),
                                                    "test": generate_mednli(2, 210)})
    runs = {}
    for task, data, epochs in (("sts", sts, 8), ("mednli", mednli, 6)):
        recipe = PairRecipe(name=task, corpus=task, epochs=epochs, batch_size=16, lr=2e-3, max_seq_length=64)
        summary = train_pairs(PairTrainConfig(model=str(encoder), data_dir=str(data),
                                              output_dir=str(root / "runs" / task), task=recipe, seed=3,
                                              device="cpu"))
        runs[task] = (root / "runs" / task, data, summary)
    return runs


def test_a_tiny_sts_model_beats_the_mean_score(pair_runs: dict) -> None:
    output, data, summary = pair_runs["sts"]
    gold = [p.label for p in read_pairs(data / "clinicalSTS2019.test.txt", "sts")]
    train = [p.label for p in read_pairs(data / "clinicalSTS2019.train.txt", "sts")]
    baseline = score_sts(gold, [sum(train) / len(train)] * len(gold))
    model = summary["test"]
    print(f"sts: model Pearson {model['pearson']:.3f} / Spearman {model['spearman']:.3f} / MSE "
          f"{model['mse']:.3f}; mean score: Pearson undefined (constant) / MSE {baseline['mse']:.3f}")
    assert baseline["pearson"] is None  # a constant has no correlation: counted as 0
    assert model["pearson"] > 0.5 and model["mse"] < 0.75 * baseline["mse"]
    written = read_predictions(output / "test_predictions.gs.sim.txt", "sts", len(gold))
    assert score_sts(gold, written)["pearson"] == pytest.approx(model["pearson"], abs=1e-4)


def test_a_tiny_mednli_model_beats_the_majority_class(pair_runs: dict) -> None:
    _, data, summary = pair_runs["mednli"]
    gold = [p.label for p in read_pairs(data / "mli_test_v1.jsonl", "mednli")]
    train = [p.label for p in read_pairs(data / "mli_train_v1.jsonl", "mednli")]
    majority = max(set(train), key=train.count)
    baseline = score_mednli(gold, [majority] * len(gold))["accuracy"]
    model = summary["test"]["accuracy"]
    print(f"mednli: model accuracy {model:.3f} (macro F1 {summary['test']['macro']['f1']:.3f}); "
          f"majority class {baseline:.3f}")
    assert model > baseline + 0.25 and summary["dev"]["pairs"] == 90


@pytest.mark.parametrize("task", ["sts", "mednli"])
def test_the_saved_pair_model_reloads_with_the_auto_classes_and_predicts_the_same(pair_runs: dict, task: str,
                                                                                  tmp_path: Path) -> None:
    output, data, summary = pair_runs[task]
    test_file = find_split(data, task, "test")
    pairs = read_pairs(test_file, task)
    reloaded = load_pair_model(output / "model")
    assert reloaded.task == task
    predicted = predict_pairs(reloaded, encode_pairs(reloaded, pairs))
    model = AutoModelForSequenceClassification.from_pretrained(output / "model").eval()
    tokenizer = AutoTokenizer.from_pretrained(output / "model")
    with torch.no_grad():
        logits = model(**tokenizer(pairs[0].sentence1, pairs[0].sentence2, return_tensors="pt")).logits
    if task == "sts":
        assert logits.shape == (1, 1)
        assert float(logits[0, 0].clamp(0, 5)) == pytest.approx(predicted[0], abs=1e-4)
    else:
        assert model.config.id2label[int(logits.argmax())] == predicted[0]
    result = predict_pair_file(PairPredictConfig(model=str(output / "model"), input=str(test_file),
                                                 output=str(tmp_path / "pred"), device="cpu"))
    written = read_predictions(tmp_path / "pred", task, len(pairs))
    if task == "sts":
        assert written == pytest.approx(predicted, abs=1e-4)
        assert result["scores"]["pearson"] == pytest.approx(summary["test"]["pearson"], abs=1e-4)
    else:
        assert written == predicted and result["scores"] == summary["test"]
    with pytest.raises(InputError, match="output="):  # never over an existing output, nor the input
        predict_pair_file(PairPredictConfig(model=str(output / "model"), input=str(test_file),
                                            output=str(test_file), overwrite=True))


def test_pair_settings_are_checked_before_any_work(pair_runs: dict, tmp_path: Path) -> None:
    output, data, _ = pair_runs["sts"]
    encoder = output.parents[1] / "encoder"
    base = {"task": PairRecipe(corpus="sts"), "model": str(encoder), "data_dir": str(data),
            "output_dir": str(tmp_path / "new")}
    for values, message in (({"task": PairRecipe(corpus="squad")}, "task.corpus='squad'"),
                            ({"task": PairRecipe(corpus="sts", epochs=0)}, "task.epochs=0"),
                            ({"data_dir": str(tmp_path)}, "no train file"),
                            ({"task": PairRecipe(corpus="sts", max_seq_length=4096)},
                             "task.max_seq_length=4096"),
                            ({"output_dir": str(data / "run")}, "output_dir")):
        with pytest.raises(InputError, match=message):
            train_pairs(PairTrainConfig(**{**base, **values}))
    assert not (tmp_path / "new").exists()
    # The recipe comes from configs/finetune/task/sts.yaml; its keys are overridden as task.<key>.
    command = [sys.executable, "-m", "finetune.pairs", "task=sts", "task.epochs=0", f"model={encoder}",
               f"data_dir={data}", f"output_dir={tmp_path / 'x'}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 2 and "task.epochs=0" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


HANDWRITTEN = Path(__file__).parent / "data" / "tasks"  # written by hand, not by synthetic/: other styles


def test_hand_written_pairs_in_the_release_layouts_read_score_and_predict(pair_runs: dict) -> None:
    """Clinical shorthand, CRLF line ends, MedNLI's parse fields: read whole, gold scores perfectly,
    and the trained models predict every pair (a tiny model's quality on them is not asserted)."""
    report = SkipReport()
    sts_train = read_pairs(find_split(HANDWRITTEN, "sts", "train"), "sts", report)
    sts_test = read_pairs(find_split(HANDWRITTEN, "sts", "test"), "sts", report)
    mednli = read_pairs(find_split(HANDWRITTEN, "mednli", "test"), "mednli", report)
    assert (len(sts_train), len(sts_test), len(mednli), report.total) == (8, 4, 9, 0)
    assert not any(p.sentence2.endswith("\r") for p in sts_train) and mednli[0].id == "hw-0"
    gold = [p.label for p in sts_test]
    assert score_sts(gold, gold)["pearson"] == pytest.approx(1.0)
    for task, pairs in (("sts", sts_test), ("mednli", mednli)):
        model = load_pair_model(pair_runs[task][0] / "model")
        predicted = predict_pairs(model, encode_pairs(model, pairs))
        assert len(predicted) == len(pairs)
        if task == "sts":
            assert all(0 <= value <= 5 for value in predicted)
        else:
            assert set(predicted) <= {"entailment", "contradiction", "neutral"}
