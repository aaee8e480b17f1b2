"""The shared readers against hostile files: unclosed quotes, byte order marks, headerless CSV,
corrupt compressed files. Messages and skip reports name files and lines, never a value."""

from __future__ import annotations

import bz2
import gzip
import json
from pathlib import Path

import pytest

from gatortron_common.logging import InputError, SkipReport
from gatortron_common.readers import read_documents

SECRET = "Jane Secretname MRN 4417"  # stands for PHI: must never appear in an error or a skip report


def read(path: Path, skips: SkipReport | None = None, **kwargs) -> list[tuple[str, int]]:
    return [(d.text, d.line) for d in read_documents(path, skips=SkipReport() if skips is None else skips,
                                                     **kwargs)]


# --- item 3: an unclosed quote swallows the notes after it --------------------------------------


@pytest.mark.parametrize("delimiter", [",", "\t"])
def test_unclosed_quote_to_the_end_of_the_file_is_reported_row_by_row(tmp_path: Path, delimiter: str) -> None:
    d = delimiter
    path = tmp_path / ("notes.csv" if d == "," else "notes.tsv")
    path.write_text(f'NOTE_ID{d}NOTE_TEXT\n1{d}"first note,\nsecond line"\n2{d}"{SECRET} quote never closed\n'
                    f"3{d}third patient\n4{d}fourth patient\n", encoding="utf-8")
    skips = SkipReport()
    assert read(path, skips) == [("first note,\nsecond line", 2)]  # not one note of three patients
    assert skips.counts == {"unclosed_quote": 1, "row_inside_unclosed_quote": 2}
    assert skips.examples == {"unclosed_quote": [f"{path}:4"],
                              "row_inside_unclosed_quote": [f"{path}:5", f"{path}:6"]}
    with pytest.raises(InputError) as error:
        read(path, SkipReport(strict=True))
    assert str(error.value).startswith(f"{path}:4: unclosed_quote") and SECRET not in str(error.value)


def test_unclosed_quote_closed_by_the_next_quoted_note_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text(f'NOTE_ID,NOTE_TEXT\n1,"{SECRET} never closed\n2,plain note\n3,"quoted, note"\n'
                    '4,"last note"\n', encoding="utf-8")
    skips = SkipReport()
    assert read(path, skips) == [("last note", 5)]
    assert skips.counts == {"unclosed_quote": 1, "row_inside_unclosed_quote": 2}
    assert skips.examples["row_inside_unclosed_quote"] == [f"{path}:3", f"{path}:4"]
    assert SECRET not in json.dumps(skips.as_dict())


def test_a_stray_quote_in_one_record_reads_as_before(tmp_path: Path) -> None:
    path = tmp_path / "notes.tsv"
    path.write_text('NOTE_ID\tNOTE_TEXT\n1\t"Pain" in chest\n2\t"multi\nline ""quoted"" note"\n3\tok\n',
                    encoding="utf-8")
    skips = SkipReport()
    assert read(path, skips) == [("Pain in chest", 2), ('multi\nline "quoted" note', 3), ("ok", 5)]
    assert not skips.counts


# --- item 14: a byte order mark before the header --------------------------------------------


@pytest.mark.parametrize("name", ["notes.csv", "notes.tsv", "notes.csv.gz"])
def test_byte_order_mark_before_the_header_is_dropped(tmp_path: Path, name: str) -> None:
    d = "\t" if ".tsv" in name else ","
    data = f"\ufeffNOTE_TEXT{d}NOTE_ID\nfirst note{d}1\nsecond note{d}2\n".encode()
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    assert read(path) == [("first note", 2), ("second note", 3)]


def test_byte_order_mark_in_jsonl_and_plain_text(tmp_path: Path) -> None:
    jsonl = tmp_path / "notes.jsonl"
    jsonl.write_bytes(b"\xef\xbb\xbf" + json.dumps({"text": "one"}).encode() + b"\n" +
                      json.dumps({"text": "two"}).encode() + b"\n")
    assert read(jsonl) == [("one", 1), ("two", 2)]
    text = tmp_path / "notes.txt"
    text.write_bytes(b"\xef\xbb\xbfone\n\ntwo\n")
    assert read(text) == [("one", 1), ("two", 3)]


# --- item 7: no value from the input in messages -------------------------------------------------


def test_headerless_csv_error_shows_no_value(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text(f"17,{SECRET} seen today,2024-01-02\n18,other note,2024-01-03\n", encoding="utf-8")
    with pytest.raises(InputError) as error:
        read(path)
    message = str(error.value)
    assert message.startswith(f"{path}:1: no column 'NOTE_TEXT'") and "3 column(s)" in message
    for value in ("17", SECRET, "2024-01-02"):
        assert value not in message.replace(str(path), "")  # the temporary path may hold "17"
    named = tmp_path / "other.csv"
    named.write_text("patient_name,body\nx,y\n", encoding="utf-8")  # column names are not echoed either
    with pytest.raises(InputError) as error:
        read(named)
    assert "patient_name" not in str(error.value) and "body" not in str(error.value)


# --- item 12: truncated or mislabeled compressed files -------------------------------------------


def jsonl_bytes(count: int) -> bytes:
    return b"".join(json.dumps({"text": f"note number {i} " + "word " * 200}).encode() + b"\n"
                    for i in range(count))


@pytest.mark.parametrize(("suffix", "compress"), [(".gz", gzip.compress), (".bz2", bz2.compress)])
def test_truncated_compressed_file_is_a_counted_skip_naming_it(tmp_path: Path, suffix: str, compress) -> None:
    path = tmp_path / f"notes.jsonl{suffix}"
    whole = compress(jsonl_bytes(400))
    path.write_bytes(whole[: len(whole) * 3 // 4])
    skips = SkipReport()
    documents = read(path, skips)
    assert len(documents) < 400  # what came before the damage (bz2: nothing of a cut block)
    assert skips.counts == {f"corrupt_or_truncated{suffix}": 1}
    assert skips.examples[f"corrupt_or_truncated{suffix}"] == [str(path)]
    with pytest.raises(InputError, match=rf"^{path}: corrupt_or_truncated"):
        read(path, SkipReport(strict=True))


@pytest.mark.parametrize("name", ["notes.jsonl.gz", "notes.tsv.bz2", "pubmed26n0001.xml.gz"])
def test_a_file_that_is_not_what_its_name_says_is_a_counted_skip(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"NOTE_ID\tNOTE_TEXT\n1\tplain, not compressed\n")
    skips = SkipReport()
    assert read(path, skips) == []
    assert skips.total == 1 and next(iter(skips.counts)).startswith("corrupt_or_truncated")
