"""Where finetune.convert, predict and train write: the one output rule (gatortron_common.outputs),
JSONL records kept whole through predict and convert, and resume refused with other settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ner_models import make_encoder, settings
from transformers import AutoTokenizer

from finetune.convert import ConvertConfig, convert
from finetune.corpora.document import Document, Entity, read_jsonl
from finetune.corpora.formats import write_corpus
from finetune.models.ner import NerInfo, build_model, save_ner_model
from finetune.predict import PredictConfig, predict
from finetune.predict import validate as validate_predict
from finetune.tagging.labels import label_vocabulary
from finetune.training.train import check_output_dir, start_output
from gatortron_common.logging import InputError
from gatortron_common.outputs import check_output_path, refuse_output_that_is_input

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
RECORDS = [  # extra keys around the canonical ones, an int id, a nested value
    {"note_id": "n1", "id": 7, "patient": {"mrn": "X1"}, "text": "Seen by Dr. Lee today.", "entities": [],
     "source": "clinic"},
    {"id": "b", "text": "Seen again on Monday.", "site": 3},
]


def put(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def corpus(path: Path) -> Path:
    write_corpus([Document("d1", "Seen by Dr. Lee today.", [Entity(12, 15, "DOCTOR", category="NAME")])],
                 path, "jsonl")
    return path


def records(path: Path) -> Path:
    return put(path, "".join(json.dumps(record) + "\n" for record in RECORDS))


def jsonl_to(source: Path, output_format: str, output: Path, **values: object) -> dict:
    return convert(ConvertConfig(input=str(source), format="jsonl", output_format=output_format,
                                 output=str(output), **values))


def run_module(name: str, *arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", name, *arguments], cwd=cwd, env=ENV, capture_output=True,
                          text=True, timeout=300)


def one_error_line(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 2, done.stderr[-3000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    return lines[0]


@pytest.fixture(scope="module")
def ner_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained tiny NER model (predictions are arbitrary; these tests check where they go)."""
    root = tmp_path_factory.mktemp("outputs_model")
    encoder = make_encoder(root, hidden=32, layers=1, positions=128)
    labels = label_vocabulary(["DOCTOR", "DATE"], "BIO")
    model = build_model(encoder, labels, "linear")
    save_ner_model(model, AutoTokenizer.from_pretrained(encoder), NerInfo(labels=labels, max_seq_length=64,
                                                                         stride=8), root / "model")
    return root / "model"


# ---------------------------------------------------------------- item 1: convert and overwrite

def test_convert_refuses_a_folder_of_notes_or_an_unrelated_file_without_overwrite(tmp_path):
    source = corpus(tmp_path / "train.jsonl")
    notes = put(tmp_path / "notes" / "a.txt", "keep me")
    unrelated = put(tmp_path / "mine.jsonl", "keep me too")
    with pytest.raises(InputError, match=r"output=.*notes is a non-empty directory.*overwrite=true"):
        jsonl_to(source, "brat", notes.parent)
    with pytest.raises(InputError, match=r"output=.*mine.jsonl is an existing file.*overwrite=true"):
        jsonl_to(source, "jsonl", unrelated)
    assert notes.read_text() == "keep me" and unrelated.read_text() == "keep me too"
    jsonl_to(source, "jsonl", unrelated, overwrite=True)
    assert [d.id for d in read_jsonl(unrelated)] == ["d1"]
    (tmp_path / "empty").mkdir()  # an empty directory is used as it is
    jsonl_to(source, "brat", tmp_path / "empty")
    assert (tmp_path / "empty" / "d1.ann").is_file()


def test_convert_folder_where_a_file_goes_is_refused_before_reading_and_replaced_with_overwrite(tmp_path):
    source = corpus(tmp_path / "train.jsonl")
    (tmp_path / "out").mkdir()
    with pytest.raises(InputError, match=r"output=.*out is an existing directory, but the conll output is a "
                                         r"file.*overwrite=true"):
        jsonl_to(tmp_path / "missing.jsonl", "conll", tmp_path / "out")  # before the input is read
    put(tmp_path / "out" / "old.txt", "old")
    jsonl_to(source, "conll", tmp_path / "out", overwrite=True)
    assert (tmp_path / "out").is_file() and "B-DOCTOR" in (tmp_path / "out").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "train.jsonl"]  # no staging left behind


def test_convert_output_inside_the_input_folder_is_refused_even_with_overwrite(tmp_path):
    source = tmp_path / "brat"
    write_corpus([Document("d1", "Seen by Dr. Lee.", [Entity(12, 15, "DOCTOR")])], source, "brat")
    with pytest.raises(InputError, match="lies inside the input directory"):
        convert(ConvertConfig(input=str(source), format="brat", output_format="jsonl",
                              output=str(source / "all.jsonl"), overwrite=True))
    assert sorted(p.name for p in source.iterdir()) == ["d1.ann", "d1.txt"]


def test_convert_adds_nemo_splits_to_a_nemo_folder_and_replaces_one_only_with_overwrite(tmp_path):
    source, nemo = corpus(tmp_path / "train.jsonl"), tmp_path / "nemo"
    for split in ("train", "dev"):
        jsonl_to(source, "nemo", nemo, write_options={"split": split})
    put(nemo / "labels_dev.txt", "O\n")  # marks the dev split
    with pytest.raises(InputError, match="already holds the nemo dev split; pass overwrite=true"):
        jsonl_to(source, "nemo", nemo, write_options={"split": "dev"})
    jsonl_to(source, "nemo", nemo, write_options={"split": "train"}, overwrite=True)
    assert sorted(p.name for p in nemo.iterdir()) == ["labels_dev.txt", "labels_train.txt", "text_dev.txt",
                                                     "text_train.txt"]
    assert (nemo / "labels_dev.txt").read_text() == "O\n"  # the other split is kept


def test_convert_command_line_refusal_is_one_line_and_overwrite_is_a_setting(tmp_path):
    source = corpus(tmp_path / "train.jsonl")
    notes = put(tmp_path / "notes" / "a.txt", "keep me")
    common = [f"input={source}", "format=jsonl", "output_format=brat", f"output={notes.parent}"]
    assert "overwrite=true" in one_error_line(run_module("finetune.convert", *common, cwd=tmp_path))
    assert notes.read_text() == "keep me"
    done = run_module("finetune.convert", *common, "overwrite=true", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.name for p in notes.parent.iterdir()) == ["d1.ann", "d1.txt"]


# ---------------------------------------------------------------- item 2: never inside an input

def test_shared_rule_refuses_an_output_inside_an_input_directory_only_when_asked(tmp_path):
    data = put(tmp_path / "data" / "a.txt", "x").parent
    refuse_output_that_is_input(data / "out.jsonl", [data], "output")  # the default is unchanged
    with pytest.raises(InputError, match=r"output=.*out.jsonl lies inside the input directory"):
        refuse_output_that_is_input(data / "out.jsonl", [data], "output", within_inputs=True)
    with pytest.raises(InputError, match="lies inside the input directory"):
        check_output_path(data / "sub" / "out", "output", True, lambda _: False, inputs=[data],
                          within_inputs=True)


def _predict(tmp: Path, output: Path, **values: object) -> PredictConfig:
    model = put(tmp / "model" / "config.json", "{}").parent
    notes = put(tmp / "notes" / "a.txt", "note\n").parent
    return PredictConfig(**{"model": str(model), "input": str(notes), "format": "txt", "output": str(output),
                            "overwrite": True, **values})


@pytest.mark.parametrize("where", ["notes", "model"])
def test_predict_output_inside_the_input_or_model_folder_is_refused(tmp_path, where):
    with pytest.raises(InputError, match="lies inside the input directory"):
        validate_predict(_predict(tmp_path, tmp_path / where / "preds.jsonl"))


@pytest.mark.parametrize("inside", ["data", "model"])
def test_train_output_dir_inside_the_data_or_model_dir_is_refused(tmp_path, inside):
    model = put(tmp_path / "model" / "config.json", "{}").parent
    data = put(tmp_path / "data" / "train.jsonl", "").parent
    target = tmp_path / inside / "run"
    with pytest.raises(InputError, match=r"output_dir=.*run lies inside the input directory"):
        check_output_dir(_with(settings(model, data, target), overwrite=True))
    assert not target.exists()


def _with(config: object, **values: object) -> object:
    """`config` with some attributes set (the ner_models helper leaves them at their defaults)."""
    for key, value in values.items():
        setattr(config, key, value)
    return config


# ---------------------------------------------------------------- item 3: JSONL keeps the record

def test_convert_jsonl_to_jsonl_keeps_every_key_in_order_and_the_id_type(tmp_path):
    source = records(tmp_path / "in.jsonl")
    jsonl_to(source, "jsonl", tmp_path / "o")
    written = [json.loads(line) for line in (tmp_path / "o").read_text().splitlines()]
    assert written == [RECORDS[0], {**RECORDS[1], "entities": []}]  # a missing canonical key comes last
    assert [list(r) for r in written] == [list(RECORDS[0]), ["id", "text", "site", "entities"]]
    assert written[0]["id"] == 7


def test_predict_jsonl_keeps_every_other_key_in_order_and_the_id_type(ner_model, tmp_path):
    source = records(tmp_path / "in.jsonl")
    predict(PredictConfig(model=str(ner_model), input=str(source), format="jsonl",
                          output=str(tmp_path / "preds.jsonl"), device="cpu"))
    written = [json.loads(line) for line in (tmp_path / "preds.jsonl").read_text().splitlines()]
    assert [r["id"] for r in written] == [7, "b"]
    for record, source_record in zip(written, RECORDS, strict=True):
        assert [k for k in record if k != "entities"] == [k for k in source_record if k != "entities"]
        assert {k: v for k, v in record.items() if k != "entities"} == \
            {k: v for k, v in source_record.items() if k != "entities"}
    assert list(written[0]) == list(RECORDS[0])  # entities stay where they were


# ---------------------------------------------------------------- item 5: file versus folder

def test_predict_checks_a_folder_where_a_file_goes_before_any_work(tmp_path):
    (tmp_path / "out").mkdir()
    for fmt in ("jsonl", "conll"):
        with pytest.raises(InputError, match=rf"output=.*out is an existing directory, but the {fmt} output "
                                             rf"is a file"):
            validate_predict(_predict(tmp_path, tmp_path / "out", output_format=fmt, overwrite=False))


def test_predict_with_overwrite_replaces_a_folder_by_a_conll_file(ner_model, tmp_path):
    source = records(tmp_path / "in.jsonl")
    old = put(tmp_path / "out" / "old.txt", "old")
    predict(PredictConfig(model=str(ner_model), input=str(source), format="jsonl", output_format="conll",
                          output=str(old.parent), overwrite=True, device="cpu"))
    assert old.parent.is_file() and len(old.parent.read_text().split("\n\n")) >= 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out", "out.done.json"]  # + its marker


# ---------------------------------------------------------------- item 4: resume with other settings

def _run_dir(tmp: Path) -> tuple[Path, Path, Path]:
    model = tmp / "encoder"
    model.mkdir()
    data = put(tmp / "data" / "train" / "a.xml", "x").parent.parent
    output = tmp / "run"
    start_output(settings(model, data, output))  # an earlier run's marker and recorded settings
    return model, data, output


def test_resume_with_other_optimisation_settings_is_refused_naming_each_key(tmp_path):
    model, data, output = _run_dir(tmp_path)
    same = _with(settings(model, data, output), resume=True)
    check_output_dir(same)  # the same settings continue
    _with(same.task.trainer, eval_batch_size=3, logging_steps=1)  # not part of the optimisation
    check_output_dir(same)
    other = _with(settings(model, data, output, lr=1e-4, max_seq_length=64), resume=True)
    _with(other.task.trainer, batch_size=4)
    with pytest.raises(InputError) as caught:
        check_output_dir(other)
    message = str(caught.value)
    for key in ("task.optim.lr", "task.trainer.batch_size", "task.dataset.max_seq_length"):
        assert key in message
    assert "eval_batch_size" not in message and "\n" not in message


def test_resume_refusal_on_the_command_line_is_one_line_exit_2(tmp_path):
    from transformers import MegatronBertConfig

    model, data, output = _run_dir(tmp_path)
    MegatronBertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                       intermediate_size=64, max_position_embeddings=512).save_pretrained(model)
    done = run_module("finetune", "task=deid_2014", f"model={model}", f"data_dir={data}",
                      f"output_dir={output}", "device=cpu", "resume=true", "task.optim.lr=1e-3", cwd=tmp_path)
    line = one_error_line(done)
    assert "resume=true: settings differ" in line and "task.optim.lr (was 0.003, now 0.001)" in line
    assert sorted(p.name for p in output.iterdir()) == ["finetune_run.json"]
