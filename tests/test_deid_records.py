"""De-identification input and output, rules only: every note of a CSV/TSV, JSONL or .txt folder is read
or the run stops naming file and line (never a silent drop), the layout round-trips, nested .txt
folders are mirrored, and no output is more readable than its input."""

from __future__ import annotations

import csv
import json
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from safetensors.torch import save_file

from finetune.deid.tool import DeidConfig, deidentify
from finetune.predict import read_text_documents
from gatortron_common.atomic import atomic_directory, restrict_outputs_to
from gatortron_common.logging import InputError

SECRET = "Jane Secretname"  # stands for PHI: never in an error message or a log
NOTE = f"{SECRET} seen 2067-05-03, call 352-555-0101."
TAGGED = "[**NAME**] seen [**DATE**], call [**CONTACT**]."  # the rules alone find all three


@pytest.fixture(autouse=True)
def umask_022() -> Iterator[None]:
    """A known umask, and the caller's back afterwards: a stage narrows it for the rest of a process."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def run(source: Path, output: Path, **settings) -> dict:
    return deidentify(DeidConfig(model=None, input=str(source), output=str(output), **settings))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def written(folder: Path) -> list[str]:
    """Every file and folder under `folder`, relative (hidden staging leftovers included)."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


# --- CSV/TSV through the one checked reader -----------------------------------------------------


@pytest.mark.parametrize(("row", "problem"), [
    (f'N1\t"{SECRET} quote never closed', "notes.tsv:3: a quote opened in this row is never closed: it "
                                          "swallows the 2 row(s) at lines 4-5"),
    (f"N1\t{SECRET}\textra cell", "notes.tsv:3: the row has 3 fields, the header 2"),
    (f'N1\t"{SECRET}"x\tmore', "notes.tsv:3: not a readable CSV/TSV row"),
])
def test_a_row_that_cannot_be_read_stops_the_run_and_writes_nothing(tmp_path: Path, row: str,
                                                                    problem: str) -> None:
    """Today's DictReader read the unclosed quote as 2 notes of 4 and finished with exit 0."""
    source = tmp_path / "in" / "notes.tsv"
    source.parent.mkdir()
    source.write_text(f"NOTE_ID\tNOTE_TEXT\nN0\t{NOTE}\n{row}\nN2\t{NOTE}\nN3\t{NOTE}\n", encoding="utf-8")
    with pytest.raises(InputError) as error:
        run(source, tmp_path / "out" / "o.tsv")
    message = str(error.value)
    assert message.startswith(f"{source.parent / problem}") and SECRET not in message
    assert "\n" not in message
    assert written(tmp_path / "out") == []  # no output, no span file, no done marker, no partials


def test_bad_bytes_in_a_row_stop_the_run_naming_the_row(tmp_path: Path) -> None:
    source = tmp_path / "notes.csv"
    source.write_bytes(b"NOTE_ID,NOTE_TEXT\nN0,fine\nN1,caf\xe9 " + SECRET.encode() + b"\n")
    with pytest.raises(InputError, match=r"notes.csv:3: not UTF-8") as error:
        run(source, tmp_path / "o.csv")
    assert SECRET not in str(error.value)


def test_duplicate_column_names_are_refused_by_position(tmp_path: Path) -> None:
    """Today's DictReader kept one of the two NOTE_ID columns and wrote the other's values nowhere."""
    source = tmp_path / "notes.csv"
    source.write_text(f"NOTE_ID,NOTE_TEXT,NOTE_ID\nN0,{NOTE},X0\n", encoding="utf-8")
    with pytest.raises(InputError) as error:
        run(source, tmp_path / "o.csv")
    assert str(error.value).startswith(f"{source}:1: columns 1 and 3 of the header have the same name")
    assert "NOTE_ID" not in str(error.value)  # names are a note's text in a file without a header
    assert not (tmp_path / "o.csv").exists()


def test_crlf_bom_quoted_and_empty_notes_round_trip(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rows = [["NOTE_ID", "NOTE_TEXT", "CLINIC"], ["N0", NOTE, "north"], ["N1", "", "south"],
            ["N2", f'{NOTE}\r\nline two, "quoted"', "east, 2"], ["N3", " ", ""]]
    source = tmp_path / "notes.csv"
    with open(source, "w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle, lineterminator="\r\n").writerows(rows)
    with open(source, "a", encoding="utf-8", newline="") as handle:
        handle.write("\r\n")  # a blank line: no note; counted and reported, not written back
    caplog.set_level(logging.INFO)
    summary = run(source, tmp_path / "o.csv")
    assert summary["notes"] == 4  # the empty and the blank-only notes are notes: kept and written back
    expected = source.read_bytes().replace(NOTE.encode(), TAGGED.encode()).removesuffix(b"\r\n")
    assert (tmp_path / "o.csv").read_bytes() == expected
    assert f"blank_line (first at {source}:7)" in caplog.text and SECRET not in caplog.text


# --- JSONL ----------------------------------------------------------------------------------------


def test_jsonl_blank_lines_are_counted_and_bad_lines_stop_the_run(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    source = tmp_path / "notes.jsonl"
    lines = [json.dumps({"id": 1, "text": NOTE}), "", "   ", json.dumps({"id": 2, "text": ""})]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    caplog.set_level(logging.INFO)
    assert run(source, tmp_path / "o.jsonl")["notes"] == 2
    assert [json.loads(line) for line in (tmp_path / "o.jsonl").read_text().splitlines()] == [
        {"id": 1, "text": TAGGED}, {"id": 2, "text": ""}]
    assert f"2 record(s): blank_line (first at {source}:2, {source}:3)" in caplog.text

    twice = "an object holds the same key twice"
    for number, (bad, problem) in enumerate([
            (f'{{"id": 3, "text": "{SECRET}", "text": "{NOTE}"}}', twice),
            (f'{{"id": 3, "meta": {{"a": "{SECRET}", "a": 1}}, "text": "x"}}', twice),
            (json.dumps([SECRET]), "not a JSON object but an array"),
            (json.dumps(SECRET), "not a JSON object but a string"),
            ('{"id": 3, "text": "half a pair \\ud800"}', "a \\u escape holds half of a surrogate pair")]):
        source.write_text(f"{lines[0]}\n{bad}\n", encoding="utf-8")
        output = tmp_path / f"bad{number}.jsonl"
        with pytest.raises(InputError) as error:
            run(source, output)
        assert str(error.value).startswith(f"{source}:2: {problem}") and SECRET not in str(error.value)
        assert not output.exists()


# --- a folder of .txt notes -----------------------------------------------------------------------

NESTED = ["B.TXT", "a.txt", "c.Txt", "sub/d.txt", "sub/deeper/e.txt", "sub/f.txt"]


def nested_notes(folder: Path) -> Path:
    for name in [*NESTED, "readme.md", ".hidden.txt", ".git/config"]:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(f"{NOTE} ({name})\n", encoding="utf-8")
    return folder


def test_a_txt_folder_is_read_with_subfolders_and_any_suffix_case(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    """Today: 3 of the 6 notes, without a word about the rest."""
    source = nested_notes(tmp_path / "notes")
    caplog.set_level(logging.INFO)
    assert run(source, tmp_path / "out")["notes"] == 6
    assert [p for p in written(tmp_path / "out") if "." in p] == NESTED
    assert all((tmp_path / "out" / name).read_text() == f"{TAGGED} ({name})\n" for name in NESTED)
    spans = [json.loads(line) for line in (tmp_path / "out.spans.jsonl").read_text().splitlines()]
    assert sorted({span["document"] for span in spans}) == NESTED
    assert "left out 3 entries that are not .txt notes" in caplog.text
    assert ".git/, .hidden.txt, readme.md" in caplog.text and SECRET not in caplog.text

    run(source, tmp_path / "brat", spans_format="brat")
    assert [p for p in written(tmp_path / "brat.spans") if p.endswith(".ann")] == [
        "B.ann", "a.ann", "c.ann", "sub/d.ann", "sub/deeper/e.ann", "sub/f.ann"]


def test_predict_reads_the_same_txt_notes_with_relative_ids(tmp_path: Path) -> None:
    source = nested_notes(tmp_path / "notes")
    assert [d.id for d in read_text_documents(source)[0]] == ["B", "a", "c", "sub/d", "sub/deeper/e", "sub/f"]
    assert [d.id for d in read_text_documents(source / "a.txt")[0]] == ["a"]
    (source / "A.txt").write_text(NOTE, encoding="utf-8")
    (source / "B.txt").write_text(NOTE, encoding="utf-8")  # B.TXT's id and output names would collide
    with pytest.raises(InputError, match="B.TXT and B.txt differ only in the case of the suffix"):
        read_text_documents(source)


# --- permissions: outputs no more readable than the inputs ------------------------------------------


@pytest.mark.parametrize(("input_mode", "file_mode", "folder_mode"), [(0o600, 0o600, 0o700),
                                                                      (0o640, 0o640, 0o750),
                                                                      (0o644, 0o644, 0o755)],
                         ids=["0600", "0640", "0644"])
def test_deid_outputs_are_no_more_readable_than_the_notes(tmp_path: Path, input_mode: int, file_mode: int,
                                                          folder_mode: int) -> None:
    """Today a 0600 notes file gave 0644 notes and a world-readable span file with the PHI text."""
    source = tmp_path / "notes.tsv"
    source.write_text(f"NOTE_ID\tNOTE_TEXT\nN0\t{NOTE}\n", encoding="utf-8")
    source.chmod(input_mode)
    run(source, tmp_path / "tsv" / "o.tsv", include_text=True)
    files = [tmp_path / "tsv" / name for name in ("o.tsv", "o.tsv.spans.jsonl", "o.tsv.spans.done.json")]
    assert [oct(mode(path)) for path in files] == [oct(file_mode)] * 3

    folder = nested_notes(tmp_path / "txt")
    (folder / "sub" / "d.txt").chmod(input_mode)  # one note of six is enough
    run(folder, tmp_path / "out", include_text=True, spans_format="brat")
    for root in (tmp_path / "out", tmp_path / "out.spans"):
        paths = [root, *root.rglob("*")]
        assert {oct(mode(p)) for p in paths if p.is_dir()} == {oct(folder_mode)}
        assert {oct(mode(p)) for p in paths if p.is_file()} == {oct(file_mode)}


def test_restrict_outputs_to_narrows_the_umask_by_what_an_input_lacks(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    for name, file_mode in (("a.txt", 0o644), ("sub/b.txt", 0o640)):
        (data / name).write_text("x")
        (data / name).chmod(file_mode)
    assert restrict_outputs_to([None, "", tmp_path / "missing", data / "a.txt"]) == 0o022
    assert os.umask(0o022) == 0o022  # nothing narrowed
    assert restrict_outputs_to([data]) == 0o022
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "file").write_text("x")
    assert (mode(tmp_path / "new"), mode(tmp_path / "new" / "file")) == (0o750, 0o640)
    (data / "a.txt").chmod(0o600)
    assert restrict_outputs_to([data / "a.txt"]) == 0o027  # only ever narrows
    assert os.umask(0o022) == 0o077


@pytest.mark.parametrize(("umask", "file_mode", "folder_mode"), [(0o022, 0o644, 0o755),
                                                                (0o077, 0o600, 0o700)], ids=["022", "077"])
def test_atomic_directory_gives_files_written_0600_the_umasks_mode(tmp_path: Path, umask: int, file_mode: int,
                                                                   folder_mode: int) -> None:
    """Models: safetensors writes 0600 whatever the umask (the fine-tuned model's 0600 weights), the
    export chmodded to 0644 whatever the inputs: both now follow the umask the inputs narrowed."""
    import torch

    os.umask(umask)
    with atomic_directory(tmp_path / "model") as staging:
        save_file({"w": torch.zeros(2)}, str(staging / "model.safetensors"))
        (staging / "sub").mkdir()
        (staging / "sub" / "config.json").write_text("{}")
        (staging / "run.sh").write_text("#!/bin/sh\n")
        (staging / "run.sh").chmod(0o700)
    model = tmp_path / "model"
    assert {p.name: mode(p) for p in [model, *model.rglob("*")]} == {
        "model": folder_mode, "sub": folder_mode, "model.safetensors": file_mode, "config.json": file_mode,
        "run.sh": file_mode | 0o100}
