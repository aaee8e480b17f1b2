"""Question answering (issue 26, part 3): emrQA in SQuAD form, long notes in overlapping windows,
answers chosen across windows, exact match and token F1 as SQuAD v1.1's script counts them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from ner_models import make_encoder
from transformers import AutoModelForQuestionAnswering, AutoTokenizer

from data_prep.sentences import ClinicalSentenceSplitter
from finetune.qa.model import best_spans, load_qa_model, predict_answers, whole_words
from finetune.qa.predict import QaPredictConfig, predict_qa_file
from finetune.qa.scoring import exact_match, normalize_answer, score_answers, token_f1
from finetune.qa.squad import Answer, Question, read_predictions, read_squad, write_predictions, write_squad
from finetune.qa.train import QaRecipe, QaTrainConfig, train_qa
from finetune.qa.windows import question_windows
from gatortron_common.logging import InputError, SkipReport
from synthetic.annotated.corpus import generate_emrqa


def test_exact_match_and_f1_equal_a_hand_computation() -> None:
    assert normalize_answer("The  Lasix, 40 mg!") == "lasix 40 mg"
    assert exact_match("the 40 mg.", "40 MG") == 1.0 and exact_match("40 mg daily", "40 mg") == 0.0
    # "40 mg daily" vs "40 mg": 2 shared tokens, precision 2/3, recall 1 -> F1 0.8.
    assert token_f1("40 mg daily", "40 mg") == pytest.approx(0.8)
    assert token_f1("mg mg", "mg") == pytest.approx(2 * 0.5 * 1 / 1.5)  # token counts, not sets
    questions = [Question("a", "q", "ctx", (Answer("40 mg", 0), Answer("forty milligrams", 0))),
                 Question("b", "q", "ctx", (Answer("chest pain", 0),)),
                 Question("c", "q", "ctx", (Answer("PO", 0),)),
                 Question("d", "q", "ctx", ())]  # no gold answer: not scored
    predictions = {"a": "forty milligrams", "b": "pain", "d": "anything"}
    scores = score_answers(questions, predictions)
    # a: EM 1, F1 1 (the second gold); b: EM 0, F1 2*1*.5/1.5 = 2/3; c: missing, 0 and 0.
    assert scores == {"exact_match": pytest.approx(100 / 3), "f1": pytest.approx(100 * (1 + 2 / 3) / 3),
                      "questions": 3, "missing": 1}


def test_the_reader_repairs_moved_answers_and_counts_bad_entries_by_place(tmp_path: Path) -> None:
    context = "Lasix 40 mg daily. Secret Smith takes Aspirin 81 mg."
    raw = {"data": [{"title": "n1", "paragraphs": [{"context": context, "qas": [
        {"id": "q1", "question": "Dosage of Lasix?", "answers": [{"text": "40 mg", "answer_start": 6}]},
        {"id": "q2", "question": "Dosage of Aspirin?", "answers": [{"text": "81 mg", "answer_start": 3}]},
        {"id": "q3", "question": "Who?", "answers": [{"text": "Secret Jones", "answer_start": 19}]},
        {"id": "q1", "question": "Again?", "answers": []},
        {"question": "No id"}]}, {"context": "", "qas": []}]}, "not an article"]}
    (tmp_path / "train.json").write_text(json.dumps(raw))
    report = SkipReport()
    questions = read_squad(tmp_path / "train.json", report)
    assert [q.id for q in questions] == ["q1", "q2", "q3"]
    assert questions[1].answers == (Answer("81 mg", context.index("81 mg")),)  # moved to its text, counted
    assert questions[2].answers == ()  # its text is not in the note: left out, the question kept
    counts = report.as_dict()
    assert report.total == 6 and "a question id seen before" in counts["by_reason"]
    assert "data[0].paragraphs[0].qas[2]" in json.dumps(counts) and "data[1]" in json.dumps(counts)
    assert "Secret" not in json.dumps(counts)
    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(raw).encode())  # a BOM is no JSON
    assert [q.id for q in read_squad(tmp_path / "bom.json")] == ["q1", "q2", "q3"]
    (tmp_path / "broken.json").write_text("{\"data\": [")
    with pytest.raises(InputError, match="broken.json: not JSON"):
        read_squad(tmp_path / "broken.json")


def test_gold_answers_written_as_predictions_score_perfectly(tmp_path: Path) -> None:
    questions = generate_emrqa(5, 6)
    write_squad(tmp_path / "test.json", questions)
    again = read_squad(tmp_path / "test.json")
    assert again == questions
    write_predictions(tmp_path / "gold.json", {q.id: q.answers[0].text for q in again})
    scores = score_answers(again, read_predictions(tmp_path / "gold.json"))
    assert scores["exact_match"] == 100.0 and scores["f1"] == 100.0 and scores["missing"] == 0
    assert scores["questions"] == len(questions) > 100


def test_windows_cover_the_whole_note_and_label_the_answer_where_a_window_holds_it(qa_run: tuple) -> None:
    output = qa_run[0]
    tokenizer = AutoTokenizer.from_pretrained(output / "model")
    questions = generate_emrqa(7, 3)
    windows = question_windows(tokenizer, questions, max_seq_length=96, doc_stride=24, max_query_length=8,
                               labelled=True)
    for index, question in enumerate(questions):
        mine = [w for w, owner in enumerate(windows.question_of) if owner == index]
        assert len(mine) > 2  # a note is several windows of a small model
        covered = {c for w in mine for span in windows.context_offsets[w] if span for c in range(*span)}
        assert all(c in covered for c, character in enumerate(question.context) if not character.isspace())
        labelled = [w for w in mine if windows.features[w]["start_positions"]]
        assert labelled, question.id  # some window holds the first answer whole
        for w in labelled:
            start, end = windows.features[w]["start_positions"], windows.features[w]["end_positions"]
            spans = windows.context_offsets[w]
            assert question.context[spans[start][0]:spans[end][1]] == question.answers[0].text
    assert windows.answers_in_a_window == windows.answers_total == len(questions)
    assert windows.questions_cut > 0  # max_query_length=8 cuts the longer questions


def test_the_best_span_lies_in_the_note_in_order_and_within_the_answer_length() -> None:
    offsets = [None, None, (0, 5), (6, 8), (9, 11), (12, 17), None]  # [CLS] q [SEP]-like layout
    start = torch.tensor([9.0, 8.0, 1.0, 3.0, 0.0, 2.5, 9.0])
    end = torch.tensor([9.0, 8.0, 0.0, 1.0, 4.0, 5.0, 9.0])
    # [CLS]/question/[SEP] positions score highest but lie outside the note; the best in-note pair
    # is start 3 + end 5 (3 + 5 = 8); with at most 2 subwords, start 5 + end 5 (2.5 + 5 = 7.5) beats
    # start 3 + end 4 (3 + 4 = 7); with one start tried, only start 0 or 6: none in the note.
    assert best_spans(start, end, offsets, n_best=7, max_answer_length=30) == (8.0, 6, 17)
    assert best_spans(start, end, offsets, n_best=7, max_answer_length=2) == (7.5, 12, 17)
    assert best_spans(start, end, offsets, n_best=1, max_answer_length=30) is None
    # start 2 + end 1 would score 18, but ends before it starts: 1 + 1 (0 + 9) wins over 2 + 2 (9 - 1).
    backwards = best_spans(torch.tensor([0.0, 0, 9, 0]), torch.tensor([0.0, 9, -1, 0]),
                           [None, (0, 1), (2, 3), None], n_best=4, max_answer_length=5)
    assert backwards == (9.0, 0, 1)


def test_an_answer_is_widened_to_whole_words() -> None:
    text = "for back pain, 40mg daily"
    assert whole_words(text, text.index("k pain"), text.index(",")) == (4, 13)  # "back pain"
    assert whole_words(text, text.index("40"), text.index("40") + 2) == (15, 19)  # "40mg", not "40"
    assert whole_words(text, 0, 3) == (0, 3) and whole_words(text, 20, 25) == (20, 25)  # already whole


@pytest.fixture(scope="module")
def qa_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    root = tmp_path_factory.mktemp("qa")
    encoder = make_encoder(root, hidden=64)
    data = root / "emrqa"
    data.mkdir()
    write_squad(data / "medication-train.json", generate_emrqa(0, 24))
    write_squad(data / "medication-test.json", generate_emrqa(1, 12))
    recipe = QaRecipe(name="tiny", epochs=4, batch_size=16, lr=3e-3, max_seq_length=128, doc_stride=32)
    summary = train_qa(QaTrainConfig(model=str(encoder), data_dir=str(data), output_dir=str(root / "run"),
                                     task=recipe, seed=3, device="cpu"))
    return root / "run", data, summary


def first_sentence(questions: list[Question]) -> dict[str, str]:
    """The trivial baseline: every answer is the note's first sentence."""
    splitter = ClinicalSentenceSplitter()
    answers = {}
    for question in questions:
        start, end = (splitter.spans(question.context) or [(0, len(question.context))])[0]
        answers[question.id] = question.context[start:end]
    return answers


def test_a_tiny_qa_model_beats_the_first_sentence_and_answers_from_later_windows(qa_run: tuple) -> None:
    output, data, summary = qa_run
    test = read_squad(data / "medication-test.json")
    baseline = score_answers(test, first_sentence(test))
    model = summary["test"]
    print(f"qa: model exact match {model['exact_match']:.1f} / F1 {model['f1']:.1f}; first sentence "
          f"{baseline['exact_match']:.1f} / {baseline['f1']:.1f} ({model['questions']} questions, "
          f"{model['windows']} windows)")
    assert model["exact_match"] > baseline["exact_match"] + 15 and model["f1"] > baseline["f1"] + 15
    assert summary["train_answers_in_a_window"][0] == summary["train_answers_in_a_window"][1] > 500
    predictions = read_predictions(output / "test_predictions.json")
    assert score_answers(test, predictions) == {key: model[key] for key in ("exact_match", "f1", "questions",
                                                                             "missing")}
    # Answers far into a note come from later windows: the choice is made across them.
    late = [q for q in test if q.answers[0].start > 400 and exact_match(predictions[q.id], q.answers[0].text)]
    assert len(late) > 10


def test_the_saved_qa_model_reloads_with_the_auto_classes_and_predicts_the_same(qa_run: tuple,
                                                                                tmp_path: Path) -> None:
    output, data, summary = qa_run
    test = read_squad(data / "medication-test.json")
    reloaded = load_qa_model(output / "model")
    assert reloaded.info.max_seq_length == 128 and reloaded.info.doc_stride == 32
    answers, _ = predict_answers(reloaded, test)
    assert answers == read_predictions(output / "test_predictions.json")
    model = AutoModelForQuestionAnswering.from_pretrained(output / "model").eval()
    tokenizer = AutoTokenizer.from_pretrained(output / "model")
    question = next(q for q in test if len(q.context) < 2000)
    with torch.no_grad():
        logits = model(**tokenizer(question.question, question.context[:200], return_tensors="pt"))
    assert logits.start_logits.shape == logits.end_logits.shape
    result = predict_qa_file(QaPredictConfig(model=str(output / "model"),
                                             input=str(data / "medication-test.json"),
                                             output=str(tmp_path / "answers.json"), device="cpu"))
    assert read_predictions(tmp_path / "answers.json") == answers
    assert result["scores"]["exact_match"] == pytest.approx(summary["test"]["exact_match"])
    with pytest.raises(InputError, match="output="):
        predict_qa_file(QaPredictConfig(model=str(output / "model"), input=str(data / "medication-test.json"),
                                        output=str(tmp_path / "answers.json")))


def test_qa_settings_are_checked_before_any_work(qa_run: tuple, tmp_path: Path) -> None:
    output, data, _ = qa_run
    base = {"model": str(output.parent / "encoder"), "data_dir": str(data),
            "output_dir": str(tmp_path / "new")}
    for values, message in (({"task": QaRecipe(doc_stride=0)}, "task.doc_stride=0"),
                            ({"task": QaRecipe(max_seq_length=64)}, "task.max_seq_length=64"),
                            ({"data_dir": str(tmp_path)}, "named for train"),
                            ({"output_dir": str(data / "run")}, "output_dir")):
        with pytest.raises(InputError, match=message):
            train_qa(QaTrainConfig(**{**base, **values}))
    assert not (tmp_path / "new").exists()
    command = [sys.executable, "-m", "finetune.qa", f"model={tmp_path / 'nothing'}", f"data_dir={data}",
               f"output_dir={tmp_path / 'x'}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 2 and "model=" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


HANDWRITTEN = Path(__file__).parent / "data" / "tasks" / "emrqa-test.json"  # by hand: other note styles


def test_hand_written_notes_are_windowed_answered_and_scored(qa_run: tuple) -> None:
    """Shorthand, tabs, en dashes and × in notes no template of ours wrote: every answer lies whole in
    some window, gold scores 100, and every answer the trained model gives is whole words of its note."""
    questions = read_squad(HANDWRITTEN)
    assert len(questions) == 9 and all(len(q.answers) == 1 for q in questions)
    assert score_answers(questions, {q.id: q.answers[0].text for q in questions})["exact_match"] == 100.0
    qa = load_qa_model(qa_run[0] / "model")
    windows = question_windows(qa.tokenizer, questions, max_seq_length=64, doc_stride=16, max_query_length=24,
                               labelled=True)
    assert windows.answers_in_a_window == windows.answers_total == 9
    answers, _ = predict_answers(qa, questions)
    for question in questions:
        answer, text = answers[question.id], question.context
        starts = [i for i in range(len(text)) if text.startswith(answer, i)]
        whole = [i for i in starts if whole_words(text, i, i + len(answer)) == (i, i + len(answer))]
        assert not answer or whole
