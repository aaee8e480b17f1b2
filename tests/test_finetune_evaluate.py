"""The evaluator: our strict/relaxed views, the official i2b2 2014 views, conlleval, the CLI.

Every expected number below was computed by hand from the inputs. The i2b2 2014 numbers were
also confirmed by running the official script (kotfic/i2b2_evaluation_scripts `evaluate.py phi`)
on the same two documents written as XML, and the conlleval report by conlleval.pl itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from finetune.corpora.document import Document, Entity
from finetune.evaluate import EvaluateConfig, evaluate
from finetune.scoring.bio_files import read_conll_pairs, read_nemo_pairs
from finetune.scoring.conlleval import conlleval, format_report
from finetune.scoring.documents import evaluate_documents
from finetune.scoring.entities import score_entities
from finetune.scoring.i2b2_2014 import is_hipaa, official_token_spans, score_i2b2_2014
from finetune.scoring.metrics import Counts, macro, micro
from finetune.scoring.pairing import pair_documents
from gatortron_common.logging import InputError

REPO = Path(__file__).resolve().parents[1]
SCORE_KEYS = {"precision", "recall", "f1", "tp", "fp", "fn"}


def harmonic(p: float, r: float) -> float:
    return 2 * p * r / (p + r)


def doc(doc_id: str, text: str, tags: list[tuple[str, str, int, int]]) -> Document:
    """A 2014-style document: tags are (category, TYPE, start, end)."""
    return Document(doc_id, text, [Entity(s, e, subtype, category=cat, id=f"P{i}")
                                   for i, (cat, subtype, s, e) in enumerate(tags)])


# ---- averages ---------------------------------------------------------------------------------

def test_micro_sums_counts_and_macro_averages_per_document_precision_and_recall():
    # Per document (P, R): (1, 1/4), (1/2, 1) and, for the empty document, (0, 0).
    documents = [Counts(tp=1, fp=0, fn=3), Counts(tp=1, fp=1, fn=0), Counts()]
    assert micro(documents) == {"precision": pytest.approx(2 / 3), "recall": pytest.approx(2 / 5),
                                "f1": pytest.approx(0.5), "tp": 2, "fp": 1, "fn": 3}
    averaged = macro(documents)
    assert averaged["precision"] == pytest.approx(1 / 2) and averaged["recall"] == pytest.approx(5 / 12)
    # F1 of the means (5/11), not the mean of per-document F1s ((2/5 + 2/3 + 0) / 3 = 16/45).
    assert averaged["f1"] == pytest.approx(5 / 11)
    assert averaged["precision_sd"] == pytest.approx((1 / 6) ** 0.5)  # population SD
    assert averaged["recall_sd"] == pytest.approx((13 / 72) ** 0.5)
    assert averaged["documents"] == 3


def test_macro_f1_is_undefined_when_every_document_scores_zero():
    averaged = macro([Counts(fn=2), Counts()])
    assert (averaged["precision"], averaged["recall"], averaged["f1"]) == (0.0, 0.0, None)
    assert micro([Counts(fn=2)])["f1"] == 0.0
    assert macro([])["precision"] is None


# ---- our strict / relaxed views ---------------------------------------------------------------

TEXT = "Pt Jane Roe, MRN 123-45, seen by Dr Ann Lee on 03/04/2067 in Boston.\n"


def test_strict_needs_exact_span_and_type_relaxed_needs_overlap_and_type():
    gold = Document("d1", TEXT, [Entity(3, 11, "PATIENT"), Entity(47, 57, "DATE"), Entity(61, 67, "CITY")])
    pred = Document("d1", TEXT, [Entity(3, 7, "PATIENT"), Entity(47, 57, "DATE"), Entity(61, 64, "HOSPITAL")])
    results = score_entities([(gold, pred)])
    assert results["strict"]["micro"] == {"precision": pytest.approx(1 / 3), "recall": pytest.approx(1 / 3),
                                          "f1": pytest.approx(1 / 3), "tp": 1, "fp": 2, "fn": 2}
    assert {t: (s["tp"], s["fp"], s["fn"]) for t, s in results["strict"]["per_type"].items()} == {
        "CITY": (0, 0, 1), "DATE": (1, 0, 0), "HOSPITAL": (0, 1, 0), "PATIENT": (0, 1, 1)}
    relaxed = results["relaxed"]
    assert (relaxed["micro"]["tp"], relaxed["micro"]["fp"], relaxed["micro"]["fn"]) == (2, 1, 1)
    assert relaxed["per_type"]["PATIENT"]["f1"] == 1.0 and relaxed["per_type"]["CITY"]["recall"] == 0.0


def test_relaxed_matches_one_to_one_largest_overlap_first():
    # Gold A=[0,10) B=[8,20); pred X=[5,12) overlaps A by 5 and B by 4, Y=[0,6) overlaps A by 6.
    # Largest overlap first: (A,Y)=6, then X can only take B -> 2 TP. Taking predictions in order
    # (X->A first) would leave Y and B unmatched.
    text = "x" * 30
    gold = Document("d", text, [Entity(0, 10, "T"), Entity(8, 20, "T")])
    pred = Document("d", text, [Entity(5, 12, "T"), Entity(0, 6, "T")])
    assert score_entities([(gold, pred)])["relaxed"]["micro"]["tp"] == 2
    # One gold entity, two overlapping predictions: one TP, one FP.
    twice = Document("d", text, [Entity(0, 4, "T"), Entity(2, 9, "T")])
    counts = score_entities([(Document("d", text, [Entity(0, 10, "T")]), twice)])["relaxed"]["micro"]
    assert (counts["tp"], counts["fp"], counts["fn"]) == (1, 1, 0)


def test_discontinuous_entities_match_on_all_fragments():
    text = "x" * 30
    gold = Document("d", text, [Entity(0, 15, "Reason", fragments=[(0, 5), (10, 15)])])
    same = Document("d", text, [Entity(0, 15, "Reason", fragments=[(0, 5), (10, 15)])])
    first_only = Document("d", text, [Entity(0, 5, "Reason")])
    whole = Document("d", text, [Entity(0, 15, "Reason")])
    assert score_entities([(gold, same)])["strict"]["micro"]["tp"] == 1
    for pred in (first_only, whole):
        results = score_entities([(gold, pred)])
        assert (results["strict"]["micro"]["tp"], results["relaxed"]["micro"]["tp"]) == (0, 1)


def test_identical_duplicate_predictions_count_once_as_tp_and_once_as_fp():
    gold = Document("d", TEXT, [Entity(47, 57, "DATE")])
    pred = Document("d", TEXT, [Entity(47, 57, "DATE"), Entity(47, 57, "DATE")])
    counts = score_entities([(gold, pred)])["strict"]["micro"]
    assert (counts["tp"], counts["fp"], counts["fn"]) == (1, 1, 0)


# ---- pairing ----------------------------------------------------------------------------------

def test_missing_prediction_counts_all_gold_as_false_negatives_and_is_reported():
    gold = [Document("a", TEXT, [Entity(3, 11, "PATIENT")]),
            Document("b", TEXT, [Entity(47, 57, "DATE"), Entity(61, 67, "CITY")])]
    pred = [Document("a", TEXT, [Entity(3, 11, "PATIENT")])]
    results = evaluate_documents(gold, pred, "jsonl")
    assert results["documents"]["missing_in_pred"] == ["b"]
    assert (results["strict"]["micro"]["tp"], results["strict"]["micro"]["fn"]) == (1, 2)
    assert results["strict"]["macro"]["recall"] == 0.5  # document b: P = R = 0


def test_extra_prediction_is_an_error_unless_allowed():
    gold = [Document("a", TEXT)]
    pred = [Document("a", TEXT), Document("zz", TEXT, [Entity(3, 11, "PATIENT")])]
    with pytest.raises(InputError, match=r"1 predicted document\(s\) have no gold.*zz.*allow_extra_pred"):
        pair_documents(gold, pred)
    pairs = pair_documents(gold, pred, allow_extra=True)
    assert pairs.extra == ["zz"] and len(pairs.pairs) == 1
    assert evaluate_documents(gold, pred, "jsonl", allow_extra_pred=True)["strict"]["micro"]["fp"] == 0


def test_different_text_or_duplicate_ids_are_clear_errors_without_the_text():
    with pytest.raises(InputError) as caught:
        pair_documents([Document("a", TEXT)], [Document("a", TEXT.replace("Jane", "Joan"))], pred_name="p/")
    assert "p/" in str(caught.value) and "'a'" in str(caught.value) and "Jane" not in str(caught.value)
    with pytest.raises(InputError, match="occurs twice"):
        pair_documents([Document("a", TEXT), Document("a", TEXT)], [])


def test_sentence_formats_pair_by_line_whatever_the_file_stem():
    gold = [Document("gold:1", "a b", [Entity(0, 1, "X")])]
    pred = [Document("pred:1", "a b", [Entity(0, 1, "X")])]
    assert evaluate_documents(gold, pred, "conll")["strict"]["micro"]["tp"] == 1
    with pytest.raises(InputError):
        evaluate_documents(gold, pred, "jsonl")  # file-per-document formats pair by the whole id


# ---- official i2b2 2014 views -----------------------------------------------------------------

TEXT_B = "Seen 2067-06-01 -- age 45.\n"
GOLD_A = [("NAME", "PATIENT", 3, 11), ("ID", "MEDICALRECORD", 17, 23), ("NAME", "DOCTOR", 36, 43),
          ("DATE", "DATE", 47, 57), ("LOCATION", "CITY", 61, 67)]
PRED_A = [("NAME", "PATIENT", 3, 12),        # end +1: Relaxed only
          ("ID", "IDNUM", 17, 23),           # wrong TYPE: Binary only; IDNUM is not HIPAA in the script
          ("NAME", "DOCTOR", 36, 43),        # exact, but DOCTOR is not HIPAA
          ("DATE", "DATE", 47, 57), ("DATE", "DATE", 47, 57),  # duplicate: a set counts it once
          ("LOCATION", "CITY", 61, 66)]      # end -1: Relaxed only
GOLD_B = [("DATE", "DATE", 5, 15), ("OTHER", "OTHER", 16, 18), ("AGE", "AGE", 23, 25)]
PRED_B = [("DATE", "date", 5, 15),           # Strict compares TYPE case-insensitively, Token does not
          ("OTHER", "OTHER", 16, 18),        # no [a-zA-Z0-9]: one empty token at offset 18
          ("AGE", "AGE", 22, 25)]            # start -1: not Relaxed (end only), same token though


@pytest.fixture(scope="module")
def official() -> dict:
    pairs = [(doc("100-01", TEXT, GOLD_A), doc("100-01", TEXT, PRED_A)),
             (doc("101-01", TEXT_B, GOLD_B), doc("101-01", TEXT_B, PRED_B))]
    return score_i2b2_2014(pairs)


# view: (label, TP, FP, FN, macro P, macro R); micro P/R/F1 follow from the counts.
OFFICIAL_EXPECTED = {
    "token": ("Token", 9, 6, 6, 0.55, 0.55),
    "strict": ("Strict", 4, 4, 4, 8 / 15, 8 / 15),
    "relaxed": ("Relaxed", 6, 2, 2, 11 / 15, 11 / 15),
    "hipaa_token": ("HIPPA Token", 6, 4, 6, 13 / 24, 7 / 16),
    "hipaa_strict": ("HIPAA Strict", 2, 3, 4, 5 / 12, 3 / 8),
    "hipaa_relaxed": ("HIPAA Relaxed", 4, 1, 2, 3 / 4, 5 / 8),
    "binary_token": ("Binary Token", 14, 1, 1, 0.95, 0.95),
    "binary_strict": ("Binary Strict", 5, 3, 3, 19 / 30, 19 / 30),
    "binary_hipaa_token": ("Binary HIPPA Token", 9, 1, 3, 11 / 12, 13 / 16),
    "binary_hipaa_strict": ("Binary HIPAA Strict", 2, 3, 4, 5 / 12, 3 / 8),
}


@pytest.mark.parametrize("view", sorted(OFFICIAL_EXPECTED))
def test_official_view_numbers(official, view):
    label, tp, fp, fn, macro_p, macro_r = OFFICIAL_EXPECTED[view]
    scores = official["views"][view]
    assert scores["label"] == label
    p, r = tp / (tp + fp), tp / (tp + fn)
    assert scores["micro"] == {"precision": pytest.approx(p), "recall": pytest.approx(r),
                               "f1": pytest.approx(harmonic(p, r)), "tp": tp, "fp": fp, "fn": fn}
    assert scores["macro"]["precision"] == pytest.approx(macro_p)
    assert scores["macro"]["recall"] == pytest.approx(macro_r)
    assert scores["macro"]["f1"] == pytest.approx(harmonic(macro_p, macro_r))
    assert scores["macro"]["documents"] == 2


def test_official_category_views(official):
    name = official["by_category"]["NAME"]
    assert name["strict"]["label"] == "NAME Strict"
    assert [name["strict"]["micro"][key] for key in ("tp", "fp", "fn")] == [1, 1, 1]
    assert name["strict"]["macro"]["precision"] == 0.25  # document 101-01 has no NAME: P = 0 there
    # The script labels its per-category HIPAA strict view "Binary HIPAA Strict"; it is typed.
    assert name["hipaa_strict"]["label"] == "NAME Binary HIPAA Strict"
    ident = official["by_category"]["ID"]["hipaa_token"]
    assert (ident["label"], ident["micro"]["tp"], ident["micro"]["fn"], ident["macro"]["f1"]) == (
        "ID HIPPA Token", 0, 2, None)  # the script prints nan there
    other = official["by_category"]["OTHER"]["token"]
    assert (other["micro"]["tp"], other["micro"]["fp"], other["macro"]["recall"]) == (1, 0, 0.5)
    assert list(official["by_category"]) == ["NAME", "PROFESSION", "LOCATION", "AGE", "DATE", "CONTACT", "ID",
                                             "OTHER"]


def test_official_subtype_views_keep_one_type_as_written(official):
    date = official["by_subtype"]["DATE"]["strict"]
    # "date" (lower case) is another subtype here: document 101-01 has a DATE gold tag only.
    assert (date["micro"]["tp"], date["micro"]["fp"], date["micro"]["fn"], date["label"]) == (1, 0, 1, None)
    assert date["macro"]["precision"] == 0.5
    assert "date" in official["by_subtype"]


def test_official_relaxed_uses_the_scripts_set_semantics():
    text = "Jane Roe Smith Jones was seen.\n"
    # One system tag within 2 of two gold ends (10, 14): the smaller set is walked, TP = 1, FN = 0.
    tie = score_i2b2_2014([(doc("1-1", text, [("NAME", "PATIENT", 0, 10), ("NAME", "PATIENT", 0, 14)]),
                            doc("1-1", text, [("NAME", "PATIENT", 0, 12)]))])["views"]["relaxed"]["micro"]
    assert (tie["tp"], tie["fp"], tie["fn"]) == (1, 0, 0)
    # Sets of equal size: the system set is walked, so its one matching tag gives TP = 1 (walking
    # the gold set would find two).
    even = score_i2b2_2014([(doc("1-1", text, [("NAME", "PATIENT", 0, 10), ("NAME", "PATIENT", 0, 14)]),
                             doc("1-1", text, [("NAME", "PATIENT", 0, 12), ("NAME", "PATIENT", 15, 20)]))])
    counts = even["views"]["relaxed"]["micro"]
    assert (counts["tp"], counts["fp"], counts["fn"]) == (1, 1, 0)
    # Gold ends 10 and 12 collapse into one set member; system ends 11 and 14 stay two.
    dedupe = score_i2b2_2014([(doc("1-1", text, [("NAME", "PATIENT", 0, 10), ("NAME", "PATIENT", 0, 12)]),
                               doc("1-1", text, [("NAME", "PATIENT", 0, 11), ("NAME", "PATIENT", 0, 14)]))])
    counts = dedupe["views"]["relaxed"]["micro"]
    assert (counts["tp"], counts["fp"], counts["fn"]) == (1, 1, 0)


def test_token_spans_follow_the_official_tokenizer():
    assert official_token_spans(TEXT, 3, 12) == ((3, 7), (8, 11))  # "Jane Roe," : the comma is no token
    assert official_token_spans(TEXT, 47, 57) == ((47, 49), (50, 52), (53, 57))
    assert official_token_spans(TEXT_B, 16, 18) == ((18, 18),)  # "--": one empty token at the end
    assert official_token_spans("Dr Müller", 3, 9) == ((3, 4), (5, 9))  # only ASCII letters and digits


def test_hipaa_subset_is_the_scripts_prefix_patterns():
    assert is_hipaa("NAME", "PATIENT") and not is_hipaa("NAME", "DOCTOR")
    # ID/IDNUM is out: the script's pattern "IDNUM " (trailing space) never matches.
    assert is_hipaa("ID", "MEDICALRECORD") and not is_hipaa("ID", "IDNUM")
    assert is_hipaa("DATE", "date") and is_hipaa("AGE", "AGE")
    assert is_hipaa("LOCATION", "ZIP") and not is_hipaa("LOCATION", "HOSPITAL")
    assert not is_hipaa("CONTACT", "URL") and not is_hipaa("PROFESSION", "PROFESSION")


def test_official_views_leave_out_missing_documents_and_unknown_tag_names():
    gold = [doc("1-1", TEXT, [("DATE", "DATE", 47, 57), ("FOO", "X", 3, 11)]), doc("2-1", TEXT, GOLD_A)]
    pred = [doc("1-1", TEXT, [("DATE", "DATE", 47, 57), ("FOO", "X", 3, 7)])]
    results = evaluate_documents(gold, pred, "i2b2_2014")
    strict = results["i2b2_2014"]["views"]["strict"]
    assert results["i2b2_2014"]["documents"] == 1
    assert (strict["micro"]["tp"], strict["micro"]["fp"], strict["micro"]["fn"]) == (1, 0, 0)
    assert results["strict"]["micro"]["fn"] == 1 + 5  # ours: FOO tag missed, document 2-1 missing


# ---- conlleval --------------------------------------------------------------------------------

SENTENCES = [
    (["B-PER", "I-PER", "O", "B-LOC", "O"], ["B-PER", "I-PER", "O", "B-LOC", "O"]),
    # I- after O starts a chunk; B-LOC B-LOC is two chunks where gold has one.
    (["O", "I-PER", "I-PER", "O", "B-LOC", "I-LOC"], ["O", "B-PER", "I-PER", "O", "B-LOC", "B-LOC"]),
    # A type change (B-PER I-LOC) ends one chunk and starts another.
    (["B-PER", "I-LOC", "O"], ["B-PER", "I-PER", "O"]),
]
CONLLEVAL_REPORT = """processed 14 tokens with 6 phrases; found: 6 phrases; correct: 3.
accuracy:  78.57%; precision:  50.00%; recall:  50.00%; FB1:  50.00
              LOC: precision:  33.33%; recall:  33.33%; FB1:  33.33  3
              PER: precision:  66.67%; recall:  66.67%; FB1:  66.67  3
"""


def test_conlleval_on_a_hand_built_sequence():
    result = conlleval(SENTENCES)
    assert format_report(result) == CONLLEVAL_REPORT
    scores = result.as_dict()
    assert (scores["tokens"], scores["phrases"], scores["found"], scores["correct"]) == (14, 6, 6, 3)
    assert scores["accuracy"] == pytest.approx(11 / 14)
    assert scores["per_type"]["PER"] == {"precision": pytest.approx(2 / 3), "recall": pytest.approx(2 / 3),
                                         "f1": pytest.approx(2 / 3), "tp": 2, "fp": 1, "fn": 1, "found": 3}


def test_conlleval_splits_labels_at_the_first_hyphen():
    result = conlleval([(["B-LOCATION-OTHER", "I-LOCATION-OTHER"], ["B-LOCATION-OTHER", "I-LOCATION-OTHER"])])
    assert result.types() == ["LOCATION-OTHER"] and result.correct_chunks == 1


def test_label_file_readers_and_their_errors(tmp_path):
    for side, labels in (("gold", [s[0] for s in SENTENCES]), ("pred", [s[1] for s in SENTENCES])):
        (tmp_path / side).mkdir()
        (tmp_path / side / "labels_test.txt").write_text("".join(" ".join(x) + "\n" for x in labels))
    assert read_nemo_pairs(tmp_path / "gold", tmp_path / "pred", "test") == SENTENCES
    gold, pred = tmp_path / "gold.conll", tmp_path / "pred.conll"
    gold.write_text("-DOCSTART- O\n\nJane B-PER\nRoe I-PER\n\nseen O\n")
    pred.write_text("-DOCSTART- O\n\nJane B-PER\nRoe O\n\nseen O\n")
    expected = [(["O"], ["O"]), (["B-PER", "I-PER"], ["B-PER", "O"]), (["O"], ["O"])]
    assert read_conll_pairs(gold, pred) == expected
    pred.write_text("-DOCSTART-\n\nJane B-PER\nRoe O\n\nseen O\n")
    gold.write_text("-DOCSTART-\n\nJane B-PER\nRoe I-PER\n\nseen O\n")
    assert read_conll_pairs(gold, pred) == expected[1:]  # a bare -DOCSTART- line is a sentence break
    pred.write_text("-DOCSTART-\n\nJane B-PER\nRob O\n\nseen O\n")
    with pytest.raises(InputError, match=r"pred\.conll:4: not the same token as .*gold\.conll:4") as caught:
        read_conll_pairs(gold, pred)
    assert "Rob" not in str(caught.value) and "Roe" not in str(caught.value)
    (tmp_path / "pred" / "labels_test.txt").write_text("O\n")
    with pytest.raises(InputError, match="1 lines, but"):
        read_nemo_pairs(tmp_path / "gold", tmp_path / "pred", "test")


# ---- results shape and the command line -------------------------------------------------------

def _write_2014(directory: Path, doc_id: str, text: str, tags: list[tuple[str, str, int, int]]) -> None:
    directory.mkdir(exist_ok=True)
    lines = [f'<{cat} id="P{i}" start="{s}" end="{e}" text="{text[s:e]}" TYPE="{subtype}" comment="" />'
             for i, (cat, subtype, s, e) in enumerate(tags)]
    (directory / f"{doc_id}.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8" ?>\n<deIdi2b2>\n<TEXT><![CDATA[' + text + "]]></TEXT>\n<TAGS>\n"
        + "\n".join(lines) + "\n</TAGS>\n</deIdi2b2>\n", encoding="utf-8")


def test_results_json_shape(official):
    results = evaluate_documents([doc("1-1", TEXT, GOLD_A)], [doc("1-1", TEXT, PRED_A)], "i2b2_2014")
    assert set(results) == {"format", "documents", "strict", "relaxed", "i2b2_2014"}
    for view in ("strict", "relaxed"):
        assert set(results[view]) == {"micro", "macro", "per_type"}
        assert set(results[view]["micro"]) == SCORE_KEYS and SCORE_KEYS <= set(results[view]["macro"])
        assert all(set(scores) == SCORE_KEYS for scores in results[view]["per_type"].values())
    assert list(official["views"]) == list(OFFICIAL_EXPECTED)
    assert set(official["by_category"]["NAME"]) == {"token", "strict", "relaxed", "hipaa_token",
                                                    "hipaa_strict", "hipaa_relaxed"}
    json.dumps(results, allow_nan=False)  # no NaN: undefined values are null


def test_cli_scores_2014_xml_writes_json_and_prints_no_text(tmp_path):
    _write_2014(tmp_path / "gold", "100-01", TEXT, GOLD_A)
    _write_2014(tmp_path / "pred", "100-01", TEXT, PRED_A)
    _write_2014(tmp_path / "gold", "101-01", TEXT_B, GOLD_B)
    # The reader refuses TYPEs outside the guidelines ("date"), so the prediction says DATE here.
    upper = [(cat, subtype.upper(), start, end) for cat, subtype, start, end in PRED_B]
    _write_2014(tmp_path / "pred", "101-01", TEXT_B, upper)
    out = tmp_path / "scores.json"
    run = subprocess.run([sys.executable, "-m", "finetune.evaluate", f"gold={tmp_path / 'gold'}",
                          f"pred={tmp_path / 'pred'}", "format=i2b2_2014", f"output_json={out}"],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    results = json.loads(out.read_text())
    assert results["documents"]["scored"] == 2
    views = results["i2b2_2014"]["views"]
    assert [views["strict"]["micro"][k] for k in ("tp", "fp", "fn")] == [4, 4, 4]
    assert [views["token"]["micro"][k] for k in ("tp", "fp", "fn")] == [12, 3, 3]  # "DATE" tokens match now
    assert "Strict" in run.stdout and "HIPAA Relaxed" in run.stdout
    for text in ("Jane", "Roe", "Boston", "Ann Lee", "03/04/2067", "123-45"):
        assert text not in run.stdout and text not in run.stderr


def test_nemo_run_adds_conlleval_and_bad_settings_are_input_errors(tmp_path, capsys):
    for side, labels in (("gold", [s[0] for s in SENTENCES]), ("pred", [s[1] for s in SENTENCES])):
        (tmp_path / side).mkdir()
        (tmp_path / side / "text_test.txt").write_text("".join(" ".join("w" * len(x)) + "\n" for x in labels))
        (tmp_path / side / "labels_test.txt").write_text("".join(" ".join(x) + "\n" for x in labels))
    out = tmp_path / "out.json"
    results = evaluate(EvaluateConfig(gold=str(tmp_path / "gold"), pred=str(tmp_path / "pred"), format="nemo",
                                      output_json=str(out)))
    assert json.loads(out.read_text())["conlleval"]["correct"] == 3
    assert (results["conlleval"]["precision"], results["conlleval"]["recall"]) == (0.5, 0.5)
    assert CONLLEVAL_REPORT.rstrip("\n") in capsys.readouterr().out
    with pytest.raises(InputError, match="format=xml: unknown"):
        evaluate(EvaluateConfig(gold=str(tmp_path / "gold"), pred=str(tmp_path / "pred"), format="xml"))
    with pytest.raises(InputError, match="pred=.*no such file"):
        evaluate(EvaluateConfig(gold=str(tmp_path / "gold"), pred=str(tmp_path / "nope"), format="nemo"))


def test_cli_reports_a_missing_setting_with_exit_status_2(tmp_path):
    run = subprocess.run([sys.executable, "-m", "finetune.evaluate", f"gold={tmp_path}", f"pred={tmp_path}"],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "missing required setting format=" in run.stderr
