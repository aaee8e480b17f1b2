"""The shared corpus readers: formats, compression, bad records counted by file:line."""

import bz2
import gzip
import json
from pathlib import Path

import pytest

from gatortron_common.logging import InputError, SkipReport
from gatortron_common.readers import detect_format, estimated_text_bytes, expand_inputs, read_documents

SECRET = "Jane Secretname MRN 4417"  # stands for PHI: must never appear in an error or a log


def texts(path: Path, **kwargs) -> list[tuple[str, int]]:
    return [(d.text, d.line) for d in read_documents(path, **kwargs)]


def test_plain_text_documents_are_blank_line_separated(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("first line\nwrapped line\n\n\n  \nsecond doc\n\nthird\n", encoding="utf-8")
    assert texts(path) == [("first line\nwrapped line", 1), ("second doc", 6), ("third", 8)]


def test_plain_text_without_blank_lines_is_cut_at_line_ends(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("".join(f"line {i}\n" for i in range(1000)), encoding="utf-8")
    docs = list(read_documents(path, max_document_chars=100))
    assert len(docs) > 50
    assert all(len(d.text) <= 100 for d in docs)
    assert "".join(d.text for d in docs).replace("\n", "") == "".join(f"line {i}" for i in range(1000))
    assert docs[1].line == docs[0].text.count("\n") + 1


@pytest.mark.parametrize("suffix, opener", [(".gz", gzip.open), (".bz2", bz2.open)])
def test_compressed_inputs(tmp_path: Path, suffix: str, opener) -> None:
    path = tmp_path / f"notes.jsonl{suffix}"
    with opener(path, "wt", encoding="utf-8") as handle:
        handle.write(json.dumps({"text": "one"}) + "\n" + json.dumps({"text": "two"}) + "\n")
    assert detect_format(path) == "jsonl"
    assert texts(path) == [("one", 1), ("two", 2)]


def test_gzip_size_estimate_reads_the_trailer(tmp_path: Path) -> None:
    path = tmp_path / "a.txt.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("x" * 100_000)
    assert estimated_text_bytes(path) == 100_000


def test_jsonl_bad_records_are_counted_with_line_and_never_shown(tmp_path: Path) -> None:
    path = tmp_path / "notes.jsonl"
    lines = [json.dumps({"text": "good one"}), "{not json " + SECRET, json.dumps({"other": SECRET}),
             json.dumps({"text": 5}), json.dumps({"text": "   "}), "", json.dumps({"text": "good two"})]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    skips = SkipReport()
    assert texts(path, skips=skips) == [("good one", 1), ("good two", 7)]
    assert skips.counts == {"malformed_json": 1, "missing_key:text": 1, "not_a_string:text": 1,
                            "empty_document": 1}
    assert skips.examples["malformed_json"] == [f"{path}:2"]
    assert SECRET not in json.dumps(skips.as_dict())


def test_strict_turns_a_skip_into_an_error_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "notes.jsonl"
    path.write_text(json.dumps({"text": "ok"}) + "\n{broken " + SECRET + "\n", encoding="utf-8")
    with pytest.raises(InputError) as error:
        list(read_documents(path, skips=SkipReport(strict=True)))
    assert f"{path}:2" in str(error.value) and SECRET not in str(error.value)


def test_tsv_with_multiline_quoted_notes_and_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "notes.tsv"
    path.write_text('NOTE_ID\tNOTE_TEXT\n1\t"HPI:\nline two\twith tab"\n2\textra\tfield\n3\tplain\n',
                    encoding="utf-8")
    skips = SkipReport()
    assert texts(path, skips=skips) == [("HPI:\nline two\twith tab", 2), ("plain", 5)]
    assert skips.examples == {"wrong_field_count:3!=2": [f"{path}:4"]}


def test_csv_missing_text_column_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text("id,body\n1,text\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"notes.csv:1: no column 'NOTE_TEXT'"):
        list(read_documents(path))
    assert texts(path, text_column="body") == [("text", 2)]


def test_invalid_utf8_is_skipped_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"good\n\nbad \xff\xfe bytes\n\nalso good\n")
    skips = SkipReport()
    assert texts(path, skips=skips) == [("good", 1), ("also good", 5)]
    assert skips.examples == {"invalid_utf8": [f"{path}:3"]}


def test_expand_inputs_globs_and_missing(tmp_path: Path) -> None:
    for name in ("b.txt", "a.txt"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    assert [p.name for p in expand_inputs(str(tmp_path / "*.txt"))] == ["a.txt", "b.txt"]
    with pytest.raises(InputError, match="no such file"):
        expand_inputs([str(tmp_path / "a.txt"), str(tmp_path / "missing.tsv")])
    with pytest.raises(InputError, match="cannot tell the format"):
        detect_format(tmp_path / "notes.parquet")
