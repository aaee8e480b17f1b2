"""`python -m finetune.deid` in tag and spans modes: PHI found by the model or the rules is replaced,
every other byte and the input's layout are kept, the span file holds no PHI text, and the rules
catch what a deliberately weak model misses."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from ner_models import make_corpora, make_encoder
from transformers import AutoTokenizer

from finetune.corpora.document import Document, Entity
from finetune.corpora.formats import read_corpus
from finetune.corpora.formats.i2b2_2014 import CATEGORY_OF
from finetune.deid.audit import audit
from finetune.deid.rules import PhiSpan
from finetune.deid.tool import DeidConfig, RuleConfig, deidentify
from finetune.models.ner import NerInfo, build_model, save_ner_model
from finetune.tagging.labels import label_vocabulary
from gatortron_common.logging import InputError
from synthetic.annotated import generate_corpus

ROOT = Path(__file__).resolve().parents[1]
SHAPED = ("PHONE", "FAX", "EMAIL", "URL", "IPADDR", "SSN", "MEDICALRECORD", "ACCOUNT")


@pytest.fixture(scope="module")
def weak_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real de-id model directory whose head never leaves O: it misses every PHI span."""
    root = tmp_path_factory.mktemp("weak")
    encoder = make_encoder(root, hidden=32)
    labels = label_vocabulary(sorted(CATEGORY_OF), "BIO")
    model = build_model(encoder, labels, "linear")
    with torch.no_grad():
        model.classifier.bias[0] = 50.0
    info = NerInfo(labels=labels, categories=dict(CATEGORY_OF), max_seq_length=128, stride=16)
    save_ner_model(model, AutoTokenizer.from_pretrained(encoder), info, root / "model")
    return root / "model"


@pytest.fixture(scope="module")
def notes() -> list:
    return generate_corpus("i2b2_2014", seed=3, documents=6)


def write_tsv(path: Path, notes: list) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(["NOTE_ID", "PATIENT_ID", "NOTE_TEXT", "CLINIC"])
        for index, note in enumerate(notes):
            writer.writerow([f"N{index}", f"P{index % 2}", note.text, "cardiology\tnorth"])


def read_tsv(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle, delimiter="\t"))


def spans_by_record(path: Path, key: str = "record") -> dict:
    grouped: dict = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        grouped.setdefault(record[key], []).append(record)
    return grouped


def check_tagged(original: str, tagged: str, spans: list[dict], template: str = "[**{category}**]") -> None:
    """Outside the spans, every character is the original's, in order; each span became its tag."""
    position, cursor = 0, 0
    for span in sorted(spans, key=lambda s: s["start"]):
        between = original[position:span["start"]]
        assert tagged[cursor:cursor + len(between)] == between
        cursor += len(between)
        tag = template.format(category=span["category"], subtype=span["subtype"])
        assert tagged[cursor:cursor + len(tag)] == tag
        cursor += len(tag)
        position = span["end"]
    assert tagged[cursor:] == original[position:]


def test_tag_mode_on_tsv_keeps_layout_and_every_untouched_byte(weak_model: Path, notes: list,
                                                                tmp_path: Path) -> None:
    source = tmp_path / "notes.tsv"
    write_tsv(source, notes)
    summary = deidentify(DeidConfig(model=str(weak_model), input=str(source),
                                    output=str(tmp_path / "out.tsv"),
                                    device="cpu"))
    before, after = read_tsv(source), read_tsv(tmp_path / "out.tsv")
    assert after[0] == before[0] and len(after) == len(before) == len(notes) + 1
    spans = spans_by_record(tmp_path / "out.tsv.spans.jsonl")
    for index, (old, new, note) in enumerate(zip(before[1:], after[1:], notes, strict=True)):
        assert (new[0], new[1], new[3]) == (old[0], old[1], old[3])  # other columns untouched
        check_tagged(old[2], new[2], spans.get(index, []))
        for entity in note.entities:  # the rules found every fixed-shape identifier: none survives
            if entity.type in SHAPED:
                assert note.text[entity.start:entity.end] not in new[2]
    assert summary["notes"] == len(notes) and summary["spans_by_source"].get("model", 0) == 0
    assert set(summary["spans_per_category"]) >= {"CONTACT", "ID", "DATE"}


def test_int8_deid_writes_what_fp32_writes_and_reports_the_models_share(weak_model: Path, notes: list,
                                                                          tmp_path: Path) -> None:
    source = tmp_path / "notes.tsv"
    write_tsv(source, notes)
    runs = {precision: deidentify(DeidConfig(model=str(weak_model), input=str(source), device="cpu",
                                             output=str(tmp_path / f"{precision}.tsv"), precision=precision,
                                             int8_cache=str(tmp_path / "cache")))
            for precision in ("fp32", "int8")}
    assert (tmp_path / "int8.tsv").read_bytes() == (tmp_path / "fp32.tsv").read_bytes()
    assert list(Path(tmp_path / "cache").glob("*/model.int8.onnx"))
    for precision, summary in runs.items():
        prediction = summary["prediction"]
        assert prediction["precision"] == precision and prediction["documents"] == len(notes)
        assert 0 < prediction["seconds"] <= summary["seconds"] and prediction["tokens_per_second"] > 0
        assert summary["characters"] == sum(len(note.text) for note in notes)


def test_rules_catch_what_the_weak_model_misses(weak_model: Path, notes: list, tmp_path: Path) -> None:
    source = tmp_path / "notes.tsv"
    write_tsv(source, notes)
    deidentify(DeidConfig(model=str(weak_model), input=str(source), output=str(tmp_path / "bare.tsv"),
                          device="cpu", rules=RuleConfig(enabled=[])))
    bare = read_tsv(tmp_path / "bare.tsv")
    phones = [n.text[e.start:e.end] for n in notes for e in n.entities if e.type in ("PHONE", "EMAIL", "SSN")]
    # The weak model alone keeps every one of them.
    assert phones and all(any(phone in row[2] for row in bare[1:]) for phone in phones)
    assert (tmp_path / "bare.tsv.spans.jsonl").read_text() == ""


def test_jsonl_and_text_folder_layouts_and_a_span_file_without_phi(weak_model: Path, notes: list,
                                                                   tmp_path: Path) -> None:
    jsonl = tmp_path / "notes.jsonl"
    jsonl.write_text("".join(json.dumps({"id": i, "note": n.text, "meta": {"unit": "ICU"}}) + "\n"
                             for i, n in enumerate(notes)), encoding="utf-8")
    deidentify(DeidConfig(model=str(weak_model), input=str(jsonl), output=str(tmp_path / "out.jsonl"),
                          text_key="note", device="cpu", template="[**{subtype}**]"))
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [list(r) for r in rows] == [["id", "note", "meta"]] * len(notes)
    assert [r["id"] for r in rows] == list(range(len(notes))) and rows[0]["meta"] == {"unit": "ICU"}
    assert "[**PHONE**]" in rows[0]["note"]
    span_text = (tmp_path / "out.jsonl.spans.jsonl").read_text()
    secrets = {n.text[e.start:e.end] for n in notes for e in n.entities if e.end - e.start > 5}
    assert not any(secret in span_text for secret in secrets)

    folder = tmp_path / "txt"
    folder.mkdir()
    for index, note in enumerate(notes):
        (folder / f"note_{index}.txt").write_text(note.text, encoding="utf-8")
    summary = deidentify(DeidConfig(model=str(weak_model), input=str(folder),
                                    output=str(tmp_path / "txt_out"),
                                    device="cpu", include_text=True, mode="tag"))
    names = sorted(p.name for p in folder.iterdir())
    assert sorted(p.name for p in (tmp_path / "txt_out").iterdir()) == names
    spans = spans_by_record(tmp_path / "txt_out.spans.jsonl", "document")
    for file in folder.iterdir():
        tagged = (tmp_path / "txt_out" / file.name).read_text()
        check_tagged(file.read_text(), tagged, spans.get(file.name, []))
        assert all(s["text"] == file.read_text()[s["start"]:s["end"]] for s in spans.get(file.name, []))
    assert summary["notes"] == len(notes)

    only = deidentify(DeidConfig(model=None, input=str(folder), output=str(tmp_path / "only.jsonl"),
                                 mode="spans"))
    assert only["output"] is None and (tmp_path / "only.jsonl").is_file() and not (tmp_path / "only").exists()


def test_bad_settings_are_refused_before_any_work(weak_model: Path, notes: list, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GATORTRON_DEID_SECRET", raising=False)
    source = tmp_path / "notes.tsv"
    write_tsv(source, notes)

    def refused(match: str, **settings) -> None:
        values = {"model": str(weak_model), "input": str(source), "output": str(tmp_path / "o.tsv"),
                  **settings}
        with pytest.raises(InputError, match=match):
            deidentify(DeidConfig(**values))

    refused("mode=redact: expected one of tag, surrogate, spans", mode="redact")
    refused("mode=surrogate needs a secret", mode="surrogate")
    refused("is also an input", output=str(source))
    refused("no column text_column=TEXT", text_column="TEXT")
    refused("template: only", template="[**{name}**]")
    refused("threshold: unknown categories PHONE", threshold={"PHONE": 0.5})
    refused("unknown rule", rules=RuleConfig(enabled=["zip"]))
    assert not (tmp_path / "o.tsv").exists() and not (tmp_path / "o.tsv.spans.jsonl").exists()
    (tmp_path / "o.tsv").write_text("precious\n")
    refused("is an existing file that is not a de-identification output; choose a new path, or pass "
            "overwrite=true")
    assert (tmp_path / "o.tsv").read_text() == "precious\n"


def test_command_line_logs_carry_no_phi(weak_model: Path, notes: list, tmp_path: Path) -> None:
    source = tmp_path / "notes.tsv"
    write_tsv(source, notes)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-m", "finetune.deid", f"model={weak_model}", f"input={source}",
                             f"output={tmp_path / 'out.tsv'}", "device=cpu"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout)["notes"] == len(notes)
    secrets = {n.text[e.start:e.end] for n in notes for e in n.entities if e.end - e.start > 5}
    assert not any(secret in result.stdout + result.stderr for secret in secrets)


def test_surrogate_mode_shifts_a_patients_dates_by_one_offset_across_notes(
        weak_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "notes.csv"
    rows = [("P1", "Seen 2067-05-03, call 352-555-0101."), ("P2", "Seen 2067-05-03."),
            ("P1", "Back on 2067-05-10; SSN 987-65-4321.")]
    with open(source, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["MRN", "NOTE_TEXT"])
        writer.writerows(rows)

    def run(secret: str, name: str) -> list[str]:
        monkeypatch.setenv("GATORTRON_DEID_SECRET", secret)
        deidentify(DeidConfig(model=str(weak_model), input=str(source), output=str(tmp_path / name),
                              mode="surrogate", patient_key="MRN", device="cpu"))
        with open(tmp_path / name, encoding="utf-8", newline="") as handle:
            return [row["NOTE_TEXT"] for row in csv.DictReader(handle)]

    first, again, other = run("one" * 6, "a.csv"), run("one" * 6, "b.csv"), run("two" * 6, "c.csv")
    assert first == again and first != other  # the secret decides, and only the secret
    dates = [re.findall(r"\d{4}-\d{2}-\d{2}", text) for text in first]
    shifted = [dt.date.fromisoformat(d[0]) for d in dates]
    assert "2067-05-03" not in first[0] and "2067-05-10" not in first[2]
    assert (shifted[2] - shifted[0]).days == 7  # one patient, one offset: the interval holds
    assert re.fullmatch(r"Seen \d{4}-\d{2}-\d{2}, call \d{3}-\d{3}-\d{4}\.", first[0])
    assert "352-555-0101" not in first[0] and "987-65-4321" not in first[2]


def test_residual_phi_counts_on_a_hand_made_case() -> None:
    text = "John Smith called 352-555-0101 on 2067-05-03."
    entities = [Entity(0, 10, "PATIENT", "NAME"), Entity(18, 30, "PHONE", "CONTACT"),
                Entity(34, 44, "DATE", "DATE")]
    gold = [Document(id="n1", text=text, entities=entities)]
    found = {"n1": [PhiSpan(0, 4, "NAME", "PATIENT", 0.9, ("model",)),
                    PhiSpan(18, 30, "CONTACT", "PHONE", 0.9, ("rule:phone",)),
                    PhiSpan(34, 38, "DATE", "DATE", 0.9, ("model",))]}
    report = audit(gold, found)
    residual, categories = report["residual_phi"], report["residual_phi"]["per_category"]
    assert categories["NAME"] == {"spans": 1, "spans_left": 1, "spans_left_share": 1.0, "tokens": 2,
                                  "tokens_left": 1, "tokens_left_share": 0.5}
    assert categories["CONTACT"]["spans_left"] == 0 and categories["CONTACT"]["tokens"] == 3
    assert categories["DATE"]["tokens_left"] == 2 and categories["DATE"]["spans_left"] == 1
    overall = residual["all"]
    assert (overall["spans_left"], overall["tokens"], overall["tokens_left"]) == (2, 8, 3)
    assert report["scores"]["strict"]["micro"]["tp"] == 1 and "i2b2_2014" in report["scores"]


def test_i2b2_xml_in_xml_out_with_an_audit(weak_model: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = make_corpora(tmp_path / "corpora", 8, ["i2b2_2014"])
    xml = corpus / "i2b2_2014" / "train"
    monkeypatch.setenv("GATORTRON_DEID_SECRET", "k" * 16)
    summary = deidentify(DeidConfig(model=str(weak_model), input=str(xml), output=str(tmp_path / "deid_xml"),
                                    mode="surrogate", gold=str(xml), device="cpu"))
    written = read_corpus(tmp_path / "deid_xml", "i2b2_2014")
    original = read_corpus(xml, "i2b2_2014")
    assert [d.id for d in written] == [d.id for d in original]
    for before, after in zip(original, written, strict=True):
        assert after.entities and all(after.text[e.start:e.end] != "" for e in after.entities)
        for entity in before.entities:  # shaped identifiers were found by the rules and replaced
            if entity.type in ("PHONE", "SSN", "EMAIL"):
                assert before.text[entity.start:entity.end] not in after.text
    report = json.loads((tmp_path / "deid_xml.spans.audit.json").read_text())
    residual = report["residual_phi"]["per_category"]
    assert residual["CONTACT"]["tokens_left"] < residual["CONTACT"]["tokens"] * 0.05
    # the weak model finds no names; the name rules (context, lists) find most
    assert residual["NAME"]["spans_left"] < residual["NAME"]["spans"] * 0.5
    assert summary["audit"]["residual_phi"] == report["residual_phi"]["all"]


def test_shards_split_the_notes_and_a_rerun_skips_finished_shards(weak_model: Path, notes: list,
                                                                  tmp_path: Path) -> None:
    source = tmp_path / "notes.tsv"
    write_tsv(source, notes)
    output = str(tmp_path / "out_{shard}.tsv")
    counts = []
    for index in (0, 1):
        summary = deidentify(DeidConfig(model=str(weak_model), input=str(source), output=output, device="cpu",
                                        shard_index=index, shard_count=2))
        assert summary["shard"] == {"index": index, "count": 2}
        counts.append(summary["notes"])
    shards = [read_tsv(tmp_path / f"out_{index}.tsv") for index in (0, 1)]
    # contiguous parts: the shards' rows joined in order are the notes in order, each shard holds some
    assert [row[0] for shard in shards for row in shard[1:]] == [f"N{i}" for i in range(len(notes))]
    assert all(counts) and sum(counts) == len(notes) and all(shard[0] == shards[0][0] for shard in shards)
    before = (tmp_path / "out_0.tsv").stat().st_mtime_ns
    again = deidentify(DeidConfig(model=str(weak_model), input=str(source), output=output, device="cpu",
                                  shard_index=0, shard_count=2))
    assert again["skipped"] and (tmp_path / "out_0.tsv").stat().st_mtime_ns == before
    (tmp_path / "out_1.tsv.spans.done.json").unlink()  # as if killed before the run finished
    with pytest.raises(InputError, match="is an existing file that is not a de-identification output"):
        deidentify(DeidConfig(model=str(weak_model), input=str(source), output=output, device="cpu",
                              shard_index=1, shard_count=2))
    with pytest.raises(InputError, match=r"output must contain \{shard\}"):
        deidentify(DeidConfig(model=str(weak_model), input=str(source), output=str(tmp_path / "x.tsv"),
                              shard_index=0, shard_count=2))


def test_brat_span_files_name_each_note_and_hold_offsets_not_text(weak_model: Path, notes: list,
                                                                   tmp_path: Path) -> None:
    folder = tmp_path / "txt"
    folder.mkdir()
    for index, note in enumerate(notes[:3]):
        (folder / f"note_{index}.txt").write_text(note.text, encoding="utf-8")
    deidentify(DeidConfig(model=str(weak_model), input=str(folder), output=str(tmp_path / "out"),
                          device="cpu", spans_format="brat"))
    spans = tmp_path / "out.spans"
    assert sorted(p.name for p in spans.iterdir()) == ["note_0.ann", "note_1.ann", "note_2.ann"]
    jsonl = tmp_path / "again.spans.jsonl"
    deidentify(DeidConfig(model=str(weak_model), input=str(folder), output=str(tmp_path / "again"),
                          device="cpu"))
    first_note = spans_by_record(jsonl, "document")["note_0.txt"]
    expected = [(s["subtype"], s["start"], s["end"]) for s in first_note]
    lines = (spans / "note_0.ann").read_text().splitlines()
    entities = [line.split("\t") for line in lines if line.startswith("T")]
    assert [(kind, int(start), int(end)) for _, kind_span, _ in entities
            for kind, start, end in [kind_span.split()]] == expected
    assert all(text == "" for _, _, text in entities)
    assert all("sources=" in line for line in lines if line.startswith("#"))


SECRET = "test-secret-0123456789abcdef"


def write_rows(path: Path, texts: list[str], delimiter: str = "\t") -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter, lineterminator="\n")
        writer.writerow(["NOTE_ID", "NOTE_TEXT"])
        writer.writerows([f"N{index}", text] for index, text in enumerate(texts))
    return path


def test_settings_that_weaken_privacy_are_refused_before_the_model_loads(tmp_path: Path) -> None:
    source = write_rows(tmp_path / "notes.tsv", ["Seen 2067-05-03, call 352-555-0101."] * 3)
    not_a_model = tmp_path / "empty_model"
    not_a_model.mkdir()  # loading it would fail: every refusal below must come first

    def refused(match: str, **settings) -> None:
        values = {"model": str(not_a_model), "input": str(source), "output": str(tmp_path / "o.tsv"),
                  "secret": SECRET, **settings}
        with pytest.raises(InputError, match=match):
            deidentify(DeidConfig(**values))

    refused(r"threshold.NAME=7.*\[0, 1\]", threshold={"NAME": 7})
    refused(r"threshold.DATE=-0.5", threshold={"DATE": -0.5})
    refused(r"default_threshold=1.5", default_threshold=1.5)
    refused("secret: shorter than 128 bits", mode="surrogate", secret="a")
    refused("secret: shorter than 128 bits", mode="surrogate", secret="fifteen-bytes!!")
    refused("chunk_documents=0: must be at least 1", chunk_documents=0)
    refused("chunk_documents=-3: must be at least 1", chunk_documents=-3)
    refused("no column patient_key=PATIENT", patient_key="PATIENT")
    refused("patient_key: txt notes have no fields", input=str(tmp_path), output=str(tmp_path.parent / "x"),
            patient_key="MRN")
    header_only = tmp_path / "header_only.tsv"
    header_only.write_text("NOTE_ID\tNOTE_TEXT\n", encoding="utf-8")
    refused("holds no notes", input=str(header_only))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    refused("holds no notes", input=str(empty), output=str(tmp_path / "o.jsonl"))
    assert not list(tmp_path.glob("o.*"))


def test_a_bad_setting_on_the_command_line_is_one_line_and_exit_2(tmp_path: Path) -> None:
    source = write_rows(tmp_path / "notes.tsv", ["Seen 2067-05-03."])
    result = subprocess.run([sys.executable, "-m", "finetune.deid", "model=null", f"input={source}",
                             f"output={tmp_path / 'o.tsv'}", "+threshold.NAME=7"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].endswith(
        "ERROR finetune.deid: threshold.NAME=7.0: a model score threshold must lie in [0, 1]"), lines


def test_outputs_that_would_overwrite_notes_or_die_late_are_refused_first(weak_model: Path,
                                                                            tmp_path: Path) -> None:
    source = write_rows(tmp_path / "notes.tsv", ["Seen 2067-05-03."] * 2)
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "keep.txt").write_text("precious\n")
    gold = tmp_path / "gold"
    gold.mkdir()
    (gold / "1.xml").write_text("<x/>")

    def refused(match: str, **settings) -> None:
        values = {"model": None, "input": str(source), "output": str(tmp_path / "o.tsv"), **settings}
        with pytest.raises(InputError, match=match):
            deidentify(DeidConfig(**values))

    refused("spans=.* is the output itself", spans=str(tmp_path / "o.tsv"))
    # A file output onto an existing folder: refused before the work, even with overwrite=true.
    refused("is a folder, but a file is written there", output=str(folder), overwrite=True)
    refused("is a folder, but a file is written there", spans=str(folder), overwrite=True)
    assert (folder / "keep.txt").read_text() == "precious\n"
    inside = "lies inside the input directory"
    refused(inside, model=str(weak_model), output=str(weak_model / "sub" / "o.tsv"))
    refused(inside, input=str(tmp_path), output=str(tmp_path / "deid" / "o"), input_format="txt")
    refused(inside, output=str(gold / "o.tsv"), gold=str(gold), input=str(tmp_path), input_format="txt")


def test_a_rerun_skips_only_an_identical_finished_run_and_clears_stale_partials(tmp_path: Path) -> None:
    source = write_rows(tmp_path / "notes.tsv", ["Seen 2067-05-03, call 352-555-0101."] * 3)
    output = tmp_path / "o.tsv"
    stale = tmp_path / ".o.tsv.x1y2z3.partial"
    stale.write_bytes(b"\0" * 4096)  # what a killed run leaves
    settings = {"model": None, "input": str(source), "output": str(output)}
    first = deidentify(DeidConfig(**settings))
    assert first["notes"] == 3 and not stale.exists()
    assert deidentify(DeidConfig(**settings))["skipped"]

    def refused(match: str, **changed) -> None:
        with pytest.raises(InputError, match=match):
            deidentify(DeidConfig(**{**settings, **changed}))

    refused("another mode", mode="surrogate", secret=SECRET)
    refused("another template", template="[**{subtype}**]")
    refused("another rules", rules=RuleConfig(enabled=["date"]))
    write_rows(source, ["Seen 2067-05-03, call 352-555-0101."] * 4)  # another input at the same path
    refused("another input input")
    write_rows(source, ["Seen 2067-05-03, call 352-555-0101."] * 3)
    os.utime(source, ns=(0, 0))
    refused("another input input")
    deidentify(DeidConfig(**settings, overwrite=True))
    output.unlink()
    refused("output .* is missing")
    assert deidentify(DeidConfig(**settings, overwrite=True))["notes"] == 3 and output.is_file()


def test_span_records_are_positions_in_the_input_across_shards(tmp_path: Path) -> None:
    source = write_rows(tmp_path / "notes.tsv", [f"Seen 2067-05-0{day}." for day in range(1, 7)])
    for index in (0, 1):
        deidentify(DeidConfig(model=None, input=str(source), output=str(tmp_path / "o_{shard}.tsv"),
                              shard_index=index, shard_count=2))
        records = spans_by_record(tmp_path / f"o_{index}.tsv.spans.jsonl")
        assert sorted(records) == [index * 3, index * 3 + 1, index * 3 + 2]  # contiguous parts
        assert all(span["document"] == f"notes.tsv:{record + 2}"
                   for record, spans in records.items() for span in spans)


def test_a_jsonl_shard_reads_only_its_own_lines(tmp_path: Path) -> None:
    """Shard 0 never reads the broken last line (shard 1's); shard 1 names it; positions are global."""
    source = tmp_path / "notes.jsonl"
    lines = [json.dumps({"text": f"Seen 2067-05-0{day}."}) for day in range(1, 7)]
    source.write_text("\n".join(lines) + "\n\n{not json\n", encoding="utf-8")
    settings = {"model": None, "input": str(source), "output": str(tmp_path / "o_{shard}.jsonl"),
                "shard_count": 2}
    summary = deidentify(DeidConfig(**settings, shard_index=0))
    records = spans_by_record(tmp_path / "o_0.jsonl.spans.jsonl")
    assert summary["notes"] == len(records) >= 2 and sorted(records) == list(range(len(records)))
    with pytest.raises(InputError, match=r"notes\.jsonl:8: not a JSON record"):
        deidentify(DeidConfig(**settings, shard_index=1))
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    found = []
    for index in (0, 1):
        deidentify(DeidConfig(**settings, shard_index=index, overwrite=True))
        found += sorted(spans_by_record(tmp_path / f"o_{index}.jsonl.spans.jsonl"))
    assert found == list(range(6))  # the whole input's positions, once each


def test_a_note_that_cannot_be_deidentified_is_left_out_and_counted(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """No single note aborts the run, and none is ever written out as it was (see docs/deid.md)."""
    from finetune.deid import surrogates

    texts = ["Seen 2067-05-03.", "Seen 2067-05-04, SSN 987-65-4321.", "Seen 9999-12-31 and 0001-01-01."]
    source = write_rows(tmp_path / "notes.tsv", texts)
    real = surrogates.Surrogates.note_replacements

    def failing_on_the_ssn_note(self, text: str, spans, scope: str) -> list[str]:
        if "987-65-4321" in text:
            raise RuntimeError("a fault injected for this test")
        return real(self, text, spans, scope)

    monkeypatch.setattr(surrogates.Surrogates, "note_replacements", failing_on_the_ssn_note)
    summary = deidentify(DeidConfig(model=None, input=str(source), output=str(tmp_path / "o.tsv"),
                                    mode="surrogate", secret=SECRET))
    assert summary["notes"] == 2 and summary["notes_left_out"] == 1 and summary["left_out"] == ["notes.tsv:3"]
    rows = read_tsv(tmp_path / "o.tsv")
    assert [row[0] for row in rows[1:]] == ["N0", "N2"]
    assert not any("987-65-4321" in cell for row in rows for cell in row)
    # Shifted either way, one of the dates at the ends of the calendar cannot move: it became the tag,
    # not an OverflowError, and the other is a valid date.
    tagged_or_valid = re.fullmatch(r"Seen (\S+) and (\S+)\.", rows[2][1]).groups()
    assert "[**DATE**]" in tagged_or_valid and "9999-12-31" not in rows[2][1]
    assert all(d == "[**DATE**]" or dt.date.fromisoformat(d) for d in tagged_or_valid)


def test_institution_rules_and_lists_come_from_the_settings_and_a_changed_list_reruns(tmp_path: Path) -> None:
    source = write_rows(tmp_path / "notes.tsv",
                        ["Badge 4471: seen at Oakhaven by quill; Velmora Grennick stable."])
    staff = tmp_path / "staff.txt"
    staff.write_text("# our staff\nQuill\n", encoding="utf-8")
    rules = RuleConfig(custom={"badge": {"subtype": "IDNUM", "patterns": [r"Badge (\d{4})"]}},
                       deny={"HOSPITAL": ["Oakhaven"]}, deny_files={"DOCTOR": str(staff)}, allow=["Velmora"])
    settings = {"model": None, "input": str(source), "output": str(tmp_path / "o.tsv"), "mode": "spans",
                "rules": rules}
    deidentify(DeidConfig(**settings))
    found = [(span["subtype"], span["sources"])
             for spans in spans_by_record(tmp_path / "o.tsv").values() for span in spans]
    assert ("DOCTOR", ["rule:deny"]) in found
    assert any(subtype == "IDNUM" and "rule:badge" in sources for subtype, sources in found)
    assert any(subtype == "HOSPITAL" and "rule:deny" in sources for subtype, sources in found)
    assert len(found) == 4  # badge, Oakhaven, quill, Grennick: "Velmora" is allowed
    staff.write_text("Quill\nGrennick\n", encoding="utf-8")  # another deny-list: not the same run
    with pytest.raises(InputError, match="another inputs?"):
        deidentify(DeidConfig(**settings))
    for bad, match in ((RuleConfig(custom={"badge": {"subtype": "IDNUM", "patterns": ["(open"]}}),
                        r"rules.custom.badge.patterns: not a regular expression"),
                       (RuleConfig(deny_files={"DOCTOR": str(tmp_path / "missing.txt")}),
                        "cannot read word list"),
                       (RuleConfig(deny={"PASSPORT": ["x"]}), "rules.deny.PASSPORT: unknown subtype")):
        with pytest.raises(InputError, match=match):
            deidentify(DeidConfig(**{**settings, "rules": bad, "output": str(tmp_path / "p.tsv")}))
