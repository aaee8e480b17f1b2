"""What a hostile user tried on finetune/: outputs that are inputs, input values in messages, broken
bytes and unknown keys on the command line, well-formed XML the readers refused, brat and JSONL
corner cases. Small hand-written files; offsets counted by hand.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from finetune.convert import ConvertConfig, convert
from finetune.corpora.document import Document, Entity
from finetune.corpora.formats import FormatReport, read_corpus, write_corpus, xml_standoff
from finetune.corpora.formats.common import read_text
from finetune.deid.records import read_records
from finetune.deid.tool import DeidConfig
from finetune.deid.tool import validate as validate_deid
from finetune.evaluate import EvaluateConfig
from finetune.evaluate import validate as validate_evaluate
from finetune.predict import PredictConfig
from finetune.predict import validate as validate_predict
from finetune.training.train import FinetuneConfig, check_output_dir
from gatortron_common.logging import InputError
from synthetic.annotated.config import AnnotatedCorporaConfig
from synthetic.annotated.corpus import write_annotated_corpora

REPO = Path(__file__).resolve().parents[1]
PHI = "Zebediah Quux"
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def put(path: Path, text: str | bytes) -> Path:
    """Write exactly (no newline translation)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return path


def jsonl_corpus(path: Path) -> Path:
    document = Document("d1", "Seen by Dr. Lee today.", [Entity(12, 15, "DOCTOR", category="NAME", id="P0")])
    write_corpus([document], path, "jsonl")
    return path


def module(name: str, *settings: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", name, *settings], cwd=cwd, env=ENV, capture_output=True,
                          text=True, timeout=120)


def one_error_line(done: subprocess.CompletedProcess) -> str:
    """The single error line of a stage that exited with status 2 (no traceback)."""
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


# ---------------------------------------------------------------- item 1: an output is never an input

def _evaluate_gold(tmp: Path) -> tuple[object, Path]:
    gold, pred = jsonl_corpus(tmp / "gold.jsonl"), jsonl_corpus(tmp / "pred.jsonl")
    return (lambda: validate_evaluate(EvaluateConfig(gold=str(gold), pred=str(pred), format="jsonl",
                                                     output_json=str(gold), overwrite=True))), gold


def _evaluate_pred(tmp: Path) -> tuple[object, Path]:
    gold, pred = jsonl_corpus(tmp / "gold.jsonl"), jsonl_corpus(tmp / "pred.jsonl")
    return (lambda: validate_evaluate(EvaluateConfig(gold=str(gold), pred=str(pred), format="jsonl",
                                                     output_json=str(pred)))), pred


def _convert_parent(tmp: Path) -> tuple[object, Path]:
    source = jsonl_corpus(tmp / "corpus" / "train.jsonl")
    return (lambda: convert(ConvertConfig(input=str(source), format="jsonl", output_format="brat",
                                          output=str(tmp / "corpus")))), source


def _predict_model(tmp: Path) -> tuple[object, Path]:
    model = put(tmp / "model" / "config.json", "{}")
    notes = put(tmp / "notes" / "a.txt", "note\n")
    return (lambda: validate_predict(PredictConfig(model=str(model.parent), input=str(notes.parent),
                                                   format="txt", output=str(model.parent),
                                                   overwrite=True))), model


def _deid_gold(tmp: Path) -> tuple[object, Path]:
    gold = put(tmp / "gold" / "a.xml", "<deIdi2b2><TEXT>note</TEXT><TAGS/></deIdi2b2>")
    notes = put(tmp / "notes" / "a.txt", "note\n")
    return (lambda: validate_deid(DeidConfig(model=None, input=str(notes.parent), output=str(gold.parent),
                                             gold=str(gold.parent), overwrite=True))), gold


def _deid_model_spans(tmp: Path) -> tuple[object, Path]:
    model = put(tmp / "model" / "config.json", "{}")
    notes = put(tmp / "notes" / "a.txt", "note\n")
    return (lambda: validate_deid(DeidConfig(model=str(model.parent), input=str(notes.parent),
                                             output=str(tmp / "out"), spans=str(tmp), overwrite=True))), model


def _train_model(tmp: Path) -> tuple[object, Path]:
    model = put(tmp / "runs" / "model" / "config.json", "{}")
    data = put(tmp / "data" / "train.jsonl", "")
    return (lambda: check_output_dir(FinetuneConfig(model=str(model.parent), data_dir=str(data.parent),
                                                    output_dir=str(tmp / "runs"), overwrite=True))), model


def _synthetic_repository(tmp: Path) -> tuple[object, Path]:
    # documents=0 is refused too (after the output on this code; before it on older code, so a
    # failing run of this test deletes nothing).
    return (lambda: write_annotated_corpora(AnnotatedCorporaConfig(output_dir=str(REPO / "configs"),
                                                                   documents=0, overwrite=True))), \
        REPO / "configs" / "synthetic" / "annotated.yaml"


@pytest.mark.parametrize("case", [_evaluate_gold, _evaluate_pred, _convert_parent, _predict_model, _deid_gold,
                                  _deid_model_spans, _train_model, _synthetic_repository])
def test_an_output_that_is_or_holds_an_input_is_refused_even_with_overwrite(tmp_path, case):
    call, kept = case(tmp_path)
    before = kept.read_bytes()
    with pytest.raises(InputError, match="is also an input|holds the input"):
        call()
    assert kept.read_bytes() == before


def test_evaluate_command_line_refuses_output_json_equal_to_gold(tmp_path):
    gold, pred = jsonl_corpus(tmp_path / "gold.jsonl"), jsonl_corpus(tmp_path / "pred.jsonl")
    before = gold.read_bytes()
    done = module("finetune.evaluate", f"gold={gold}", f"pred={pred}", "format=jsonl", f"output_json={gold}",
                  cwd=tmp_path)
    assert "output_json=" in one_error_line(done) and "is also an input" in done.stderr
    assert gold.read_bytes() == before


# ---------------------------------------------------------------- item 7: no input values in messages

def _brat_spaces(tmp: Path) -> Path:
    put(tmp / "c" / "1.txt", f"{PHI} took aspirin\n")
    put(tmp / "c" / "1.ann", f"T1 Drug 19 26 {PHI}\n")  # spaces where the tabs belong
    return tmp / "c"


def _brat_bad_id(tmp: Path) -> Path:
    put(tmp / "c" / "1.txt", f"{PHI} took aspirin\n")
    put(tmp / "c" / "1.ann", f"T{PHI}\tDrug 19 99\taspirin\n")
    return tmp / "c"


def _xml_2014(tag: str) -> str:
    return f"<deIdi2b2>\n<TEXT><![CDATA[Seen by {PHI} today]]></TEXT>\n<TAGS>\n{tag}\n</TAGS>\n</deIdi2b2>\n"


def _i2b2_2014_type(tmp: Path) -> Path:
    put(tmp / "c" / "1.xml", _xml_2014(f'<NAME id="P0" start="8" end="21" TYPE="{PHI}" comment=""/>'))
    return tmp / "c"


def _i2b2_2014_tag_name(tmp: Path) -> Path:
    name = PHI.replace(" ", "")
    put(tmp / "c" / "1.xml", _xml_2014(f'<{name} id="P0" start="8" end="21" TYPE="DOCTOR" comment=""/>'))
    return tmp / "c"


def _i2b2_2014_id(tmp: Path) -> Path:
    put(tmp / "c" / "1.xml", _xml_2014(f'<NAME id="{PHI}" start="8" end="99" TYPE="DOCTOR" comment=""/>'))
    return tmp / "c"


def _i2b2_2014_broken_id(tmp: Path) -> Path:  # not well-formed: the tolerant reader names the tag
    put(tmp / "c" / "1.xml", _xml_2014(f'<NAME id="{PHI}" start="8" end="99" TYPE="DOCTOR" comment="a&b"/>'))
    return tmp / "c"


def _i2b2_2012_id(tmp: Path) -> Path:
    root = "ClinicalNarrativeTemporalAnnotation"
    put(tmp / "c" / "1.xml", f"<{root}>\n<TEXT><![CDATA[pain]]></TEXT>\n<TAGS>\n"
        f'<EVENT id="{PHI}" start="0" end="4" text="pain"/>\n</TAGS>\n</{root}>\n')
    return tmp / "c"


def _i2b2_2010_type(tmp: Path) -> Path:
    put(tmp / "c" / "1.txt", "Pt has pain .\n")
    put(tmp / "c" / "1.con", f'c="pain" 1:2 1:2||t="{PHI}"\n')
    return tmp / "c"


def _jsonl_entity_id(tmp: Path) -> Path:
    record = {"id": "d1", "text": "short", "entities": [{"start": 0, "end": 99, "type": "X", "id": PHI}]}
    return put(tmp / "c.jsonl", json.dumps(record) + "\n")


@pytest.mark.parametrize("case, fmt", [
    (_brat_spaces, "brat"), (_brat_bad_id, "brat"), (_i2b2_2014_type, "i2b2_2014"),
    (_i2b2_2014_tag_name, "i2b2_2014"), (_i2b2_2014_id, "i2b2_2014"), (_i2b2_2014_broken_id, "i2b2_2014"),
    (_i2b2_2012_id, "i2b2_2012"), (_i2b2_2010_type, "i2b2_2010"), (_jsonl_entity_id, "jsonl")])
def test_reader_errors_and_logs_never_carry_input_values(tmp_path, caplog, case, fmt):
    source = case(tmp_path)
    with caplog.at_level(logging.DEBUG), pytest.raises(InputError) as caught:
        read_corpus(source, fmt)
    message = str(caught.value)
    assert str(source) in message
    for part in (PHI, *PHI.split()):
        assert part not in message and part not in caplog.text


@pytest.mark.parametrize("entity", [Entity(0, 4, PHI), Entity(0, 4, "DOCTOR", category=PHI),
                                    Entity(0, 99, "DOCTOR", id=PHI)])
def test_writer_errors_never_carry_document_values(tmp_path, entity):
    with pytest.raises(InputError) as caught:
        write_corpus([Document("d1", "Quux was here", [entity])], tmp_path / "out", "i2b2_2014")
    assert "document d1" in str(caught.value)
    assert not any(part in str(caught.value) for part in PHI.split())


def test_headerless_or_broken_csv_errors_never_carry_values(tmp_path):
    headerless = put(tmp_path / "notes.csv", f"{PHI},seen today\n{PHI},again\n")
    with pytest.raises(InputError) as caught:
        list(read_records(headerless, "csv"))
    assert str(caught.value).startswith(f"{headerless}:1") and "Zebediah" not in str(caught.value)
    broken = put(tmp_path / "bad.csv", b"NOTE_TEXT\nfine\n" + b"x" * 10000 + b"\xff\n")
    with pytest.raises(InputError, match="not UTF-8") as caught:
        list(read_records(broken, "csv"))
    assert str(caught.value).startswith(f"{broken}:")


# ---------------------------------------------------------------- item 12: bytes and keys

def test_convert_non_utf8_jsonl_and_unknown_key_are_one_line_exit_2(tmp_path):
    good = json.dumps({"id": "d1", "text": "ok", "entities": []}).encode()
    source = put(tmp_path / "in.jsonl", good + b"\n" + good.replace(b"ok", b"o\xff") + b"\n")
    done = module("finetune.convert", f"input={source}", "format=jsonl", "output_format=brat",
                  f"output={tmp_path / 'o'}", cwd=tmp_path)
    assert one_error_line(done).endswith(f"{source}:2: not UTF-8 (bad byte at column 24)")
    done = module("finetune.convert", f"input={source}", "format=jsonl", "output_format=brat",
                  f"output={tmp_path / 'o'}", "+typo=1", cwd=tmp_path)
    assert "unknown setting typo" in one_error_line(done)
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------- item 15: every well-formed file

def _well_formed_2014(text_part: str, tags: str) -> str:
    return (f"<?xml version='1.0' encoding='UTF-8'?>\n<deIdi2b2>\n<TEXT>{text_part}</TEXT>\n{tags}\n"
            "</deIdi2b2>\n")


TEXT = "Dr. Lee & Co <b>\nseen"  # offsets count the unescaped characters
WELL_FORMED = {
    "single quotes": _well_formed_2014(
        "<![CDATA[Dr. Lee & Co <b>\nseen]]>",
        "<TAGS>\n<NAME id='P0' start='4' end='7' text='Lee' TYPE='DOCTOR' comment='said \"hi\"'/>\n</TAGS>"),
    "escaped text without CDATA": _well_formed_2014(
        "Dr. Lee &amp; Co &lt;b&gt;\nseen",
        '<TAGS><NAME id="P0" start="4" end="7" text="Lee" TYPE="DOCTOR" comment=""/></TAGS>'),
    "character references": _well_formed_2014(
        "Dr. Lee &#38; Co &#x3C;b>\nseen",
        '<TAGS><NAME id="P0" start="4" end="7" text="Lee" TYPE="DOCTOR" comment=""></NAME></TAGS>'),
    "/> inside a value": _well_formed_2014(
        "<![CDATA[Dr. Lee & Co <b>\nseen]]>",
        '<TAGS><!-- a comment --><NAME id="P0" start="4" end="7" text="Lee" TYPE="DOCTOR" comment="a/>b"/>'
        "</TAGS>"),
    "attributes over lines": _well_formed_2014(
        "<![CDATA[Dr. Lee & Co <b>\nseen]]>",
        '<TAGS>\n<NAME\n  id="P0"\n  start = "4" end="7"\n  text="Lee" TYPE="DOCTOR"\n  comment=""\n/>\n'
        "</TAGS>"),
}


@pytest.mark.parametrize("name", sorted(WELL_FORMED))
def test_every_well_formed_2014_file_is_read_with_exact_offsets(tmp_path, name):
    put(tmp_path / "c" / "n1.xml", WELL_FORMED[name])
    report = FormatReport(strict=True)
    (document,) = read_corpus(tmp_path / "c", "i2b2_2014", report=report)
    assert document.text == TEXT and report.total == 0
    (entity,) = document.entities
    assert (entity.start, entity.end, entity.type, entity.category) == (4, 7, "DOCTOR", "NAME")
    assert entity.id == "P0"
    assert document.text[entity.start:entity.end] == "Lee"


def test_empty_tags_and_crlf_escaped_text_keep_every_character(tmp_path):
    put(tmp_path / "c" / "n1.xml", "<deIdi2b2><TEXT>a\r\nb &amp;&#13;\r\n</TEXT><TAGS/></deIdi2b2>")
    (document,) = read_corpus(tmp_path / "c", "i2b2_2014")
    assert document.text == "a\r\nb &\r\r\n" and document.entities == []
    put(tmp_path / "d" / "n1.xml", "<ClinicalNarrativeTemporalAnnotation><TEXT><![CDATA[\npain]]></TEXT>"
        "<TAGS/></ClinicalNarrativeTemporalAnnotation>")
    assert read_corpus(tmp_path / "d", "i2b2_2012")[0].text == "\npain"


def test_not_well_formed_file_still_goes_to_the_tolerant_reader_with_repairs(tmp_path):
    put(tmp_path / "c" / "n1.xml", '<deIdi2b2>\n<TEXT><![CDATA[Dr. Lee & Co]]></TEXT>\n<TAGS>\n'
        '<NAME id="P0" start="4" end="12" text="Lee & Co" TYPE="DOCTOR" comment=""/>\n</TAGS>\n</deIdi2b2>\n')
    report = FormatReport()
    (document,) = read_corpus(tmp_path / "c", "i2b2_2014", report=report)
    assert document.entities[0].attributes == {"comment": ""} and report.as_dict()["by_kind"]["repair"] == 1


def test_parser_and_tolerant_reader_agree_on_the_synthetic_corpora(tmp_path):
    write_annotated_corpora(AnnotatedCorporaConfig(output_dir=str(tmp_path / "s"), documents=6,
                                                   corpora=["i2b2_2012", "i2b2_2014"]))
    files = sorted((tmp_path / "s").glob("*/*/*.xml"))
    assert len(files) == 12
    for file in files:
        raw = read_text(file)
        root = "deIdi2b2" if "i2b2_2014" in str(file) else "ClinicalNarrativeTemporalAnnotation"
        parsed = xml_standoff.parse(raw, file, root, FormatReport(strict=True))
        tolerant = xml_standoff.parse_tolerant(raw, file, root, FormatReport(strict=True))
        assert parsed.text == tolerant.text and parsed.layout == tolerant.layout
        assert [(t.name, t.attributes, t.line) for t in parsed.tags] == \
            [(t.name, t.attributes, t.line) for t in tolerant.tags]


def test_brat_reversed_fragments_and_crlf_ann(tmp_path):
    text = "took aspirin 81 mg daily\n"
    put(tmp_path / "c" / "1.txt", text)
    put(tmp_path / "c" / "1.ann", "T1\tDrug 13 18;5 12\t81 mg aspirin\r\nT2\tRoute 19 24\tdaily\r\n"
        "R1\tRoute-Drug Arg1:T2 Arg2:T1\r\n")
    report = FormatReport(strict=True)
    (document,) = read_corpus(tmp_path / "c", "brat", report=report)
    first, second = document.entities
    assert first.fragments == [(5, 12), (13, 18)] and (first.start, first.end) == (5, 18)
    assert second.type == "Route" and (second.start, second.end) == (19, 24)
    assert document.relations[0]["args"] == {"Arg1": "T2", "Arg2": "T1"} and report.total == 0


@pytest.mark.parametrize("start", ["3.0", "3.5", '"3"', "true"])
def test_jsonl_offsets_must_be_integers(tmp_path, start):
    line = '{"id": "d1", "text": "abcdefgh", "entities": [{"start": ' + start + ', "end": 6, "type": "X"}]}'
    source = put(tmp_path / "c.jsonl", '{"id": "d0", "text": "x", "entities": []}\n' + line + "\n")
    with pytest.raises(InputError, match="whole numbers") as caught:
        read_corpus(source, "jsonl")
    assert str(caught.value).startswith(f"{source}:2:")
