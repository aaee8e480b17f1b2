"""Readers and writers of the benchmark formats, on small hand-built files.

Every file here is written byte by byte in the test; offsets in the assertions were counted by
hand. `SURROGATE` stands for PHI: it must never appear in an error message or a log record.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from finetune.convert import ConvertConfig, convert
from finetune.corpora.document import Document, Entity
from finetune.corpora.formats import FORMATS, FormatReport, read_corpus, write_corpus
from finetune.corpora.formats.i2b2_2014 import CATEGORIES
from finetune.corpora.formats.report import ADJUST, MISMATCH, REPAIR, SKIP
from finetune.tagging.labels import label_document
from gatortron_common.logging import InputError

REPO = Path(__file__).resolve().parents[1]
SURROGATE = "Zorblaxian"


def put(path: Path, text: str) -> Path:
    """Write `text` exactly (no newline translation)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="")
    return path


def files_of(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def via_jsonl(source: Path, fmt: str, tmp_path: Path, **options) -> Path:
    """source -> documents -> JSONL -> documents -> fmt; returns what was written last."""
    write_corpus(read_corpus(source, fmt, **options), tmp_path / "canonical.jsonl", "jsonl")
    output = tmp_path / f"round_trip_{fmt}"
    write_corpus(read_corpus(tmp_path / "canonical.jsonl", "jsonl"), output, fmt)
    return output


def error_of(call, *args, **kwargs) -> str:
    """The InputError message of `call(...)`, checked to carry no PHI."""
    with pytest.raises(InputError) as caught:
        call(*args, **kwargs)
    message = str(caught.value)
    assert SURROGATE not in message and SURROGATE.lower() not in message
    return message


def message_names(message: str, source: Path, what: str) -> bool:
    """Whether an error message starts with the file and says `what`."""
    return message.startswith(str(source)) and what in message


# ---------------------------------------------------------------- i2b2 2010

TEXT_2010 = 'Pt is asymptomatic .\nHe had a "leaky valve" and chest\npain today .\n'
CON_2010 = ('c="asymptomatic" 1:2 1:2||t="problem"\n'
            'c=""leaky valve"" 2:3 2:4||t="problem"\n'
            'c="chest pain" 2:6 3:0||t="problem"\n')


def corpus_2010(directory: Path) -> Path:
    put(directory / "r1.txt", TEXT_2010)
    put(directory / "r1.con", CON_2010)
    return directory


def test_2010_line_token_offsets_multi_line_and_quoted_concepts(tmp_path):
    (document,) = read_corpus(corpus_2010(tmp_path / "c"), "i2b2_2010")
    assert document.id == "r1" and document.text == TEXT_2010
    assert [(e.start, e.end, e.type, e.category) for e in document.entities] == [
        (6, 18, "problem", None), (30, 43, "problem", None), (48, 58, "problem", None)]
    assert document.text[30:43] == '"leaky valve"' and document.text[48:58] == "chest\npain"


def test_2010_release_layout_and_exact_round_trip(tmp_path):
    release = tmp_path / "release"
    put(release / "txt" / "r1.txt", TEXT_2010)
    put(release / "concept" / "r1.con", CON_2010)
    assert [(e.start, e.end) for e in read_corpus(release, "i2b2_2010")[0].entities] == [
        (6, 18), (30, 43), (48, 58)]
    output = via_jsonl(corpus_2010(tmp_path / "flat"), "i2b2_2010", tmp_path)
    assert files_of(output) == {"r1.con": CON_2010.encode(), "r1.txt": TEXT_2010.encode()}


def test_2010_bad_inputs_name_file_and_line(tmp_path):
    corpus = corpus_2010(tmp_path / "c")
    put(corpus / "r2.txt", f"{SURROGATE} came .\n")
    assert "r2.txt" in error_of(read_corpus, corpus, "i2b2_2010")
    assert read_corpus(corpus, "i2b2_2010", gold=False)[1].entities == []

    put(corpus / "r2.con", f'c="{SURROGATE.lower()}" 1:0 1:0||t="problem"\nc="came" 1:1||t="problem"\n')
    assert f"{corpus / 'r2.con'}:2" in error_of(read_corpus, corpus, "i2b2_2010")

    put(corpus / "r2.con", f'c="{SURROGATE.lower()}" 1:0 1:0||t="problem"\nc="x" 2:0 2:0||t="test"\n')
    message = error_of(read_corpus, corpus, "i2b2_2010")
    assert f"{corpus / 'r2.con'}:2" in message and "past the text" in message

    put(corpus / "r2.con", f'c="{SURROGATE.lower()}" 1:0 1:0||t="drug"\n')
    message = error_of(read_corpus, corpus, "i2b2_2010")
    assert "unknown concept type" in message and "drug" not in message  # the value is input text
    assert read_corpus(corpus, "i2b2_2010", allow_unknown=True)[1].entities[0].type == "drug"


def test_2010_concept_text_mismatch_is_counted_or_strict_error(tmp_path):
    corpus = put(tmp_path / "c" / "r3.txt", f"{SURROGATE} is here .\n").parent
    put(corpus / "r3.con", 'c="zorblaxian is" 1:0 1:1||t="problem"\nc="somebody" 1:2 1:2||t="test"\n')
    report = FormatReport()
    (document,) = read_corpus(corpus, "i2b2_2010", report=report)
    assert [(e.start, e.end) for e in document.entities] == [(0, 13), (14, 18)]  # case-insensitive match
    assert report.count(MISMATCH) == 1
    assert report.examples == {"mismatch: span text differs from the text slice": [f"{corpus / 'r3.con'}:2"]}
    assert f"{corpus / 'r3.con'}:2" in error_of(read_corpus, corpus, "i2b2_2010", strict=True)


def test_2010_writer_snaps_to_tokens_and_reports(tmp_path):
    text = "Pt is asymptomatic today .\n\nno  fever\n"
    document = Document("w1", text, [Entity(8, 12, "problem"),  # inside "asymptomatic"
                                     Entity(2, 3, "test"),  # whitespace only
                                     Entity(28, 37, "problem"),  # "no  fever", next line but one
                                     Entity(0, 5, "treatment", fragments=[(0, 2), (3, 5)])])
    report = FormatReport()
    write_corpus([document], tmp_path / "out", "i2b2_2010", report=report)
    assert (tmp_path / "out" / "w1.con").read_text() == (
        'c="asymptomatic" 1:2 1:2||t="problem"\nc="no fever" 3:0 3:1||t="problem"\n'
        'c="pt is" 1:0 1:1||t="treatment"\n')
    assert (report.count(ADJUST), report.count(SKIP)) == (2, 1)  # widened + joined fragments; left out
    assert report.examples[f"{SKIP}: span covers no token, left out"] == ["document w1 (entity #2)"]


# ---------------------------------------------------------------- i2b2 2012

TEXT_2012 = "\nAdmission Date :\n2014-03-21\nHe had chest pain .\n"
XML_2012 = (
    '<?xml version="1.0" encoding="UTF-8" ?>\n<ClinicalNarrativeTemporalAnnotation>\n'
    f"<TEXT><![CDATA[{TEXT_2012}]]></TEXT>\n<TAGS>\n"
    '<EVENT id="E0" start="1" end="10" text="Admission"'
    ' modality="FACTUAL" polarity="POS" type="OCCURRENCE" />\n'
    '<EVENT id="E1" start="36" end="46" text="chest pain"'
    ' modality="FACTUAL" polarity="POS" type="PROBLEM" />\n'
    '<TIMEX3 id="T0" start="18" end="28" text="2014-03-21" type="DATE" val="2014-03-21" mod="NA" />\n'
    '<SECTIME id="S0" start="18" end="28" text="2014-03-21" type="ADMISSION" dvalue="2014-03-21" />\n'
    '<TLINK id="TL0" fromID="E0" fromText="Admission" toID="T0" toText="2014-03-21" type="OVERLAP" />\n'
    "</TAGS>\n</ClinicalNarrativeTemporalAnnotation>\n")


def test_2012_events_timexes_and_kept_tags(tmp_path):
    put(tmp_path / "c" / "1.xml", XML_2012)
    (document,) = read_corpus(tmp_path / "c", "i2b2_2012")
    assert document.text == TEXT_2012 and document.text[0] == "\n"  # CDATA verbatim, newline included
    assert [(e.start, e.end, e.type, e.category, e.id, e.attributes) for e in document.entities] == [
        (1, 10, "OCCURRENCE", "EVENT", "E0", {"modality": "FACTUAL", "polarity": "POS"}),
        (36, 46, "PROBLEM", "EVENT", "E1", {"modality": "FACTUAL", "polarity": "POS"}),
        (18, 28, "DATE", "TIMEX3", "T0", {"val": "2014-03-21", "mod": "NA"})]
    assert [tag["tag"] for tag in document.metadata["i2b2_2012"]["other_tags"]] == ["SECTIME", "TLINK"]
    assert files_of(via_jsonl(tmp_path / "c", "i2b2_2012", tmp_path)) == {"1.xml": XML_2012.encode()}


def test_2012_tags_and_types_options_keep_the_rest_for_write_back(tmp_path):
    put(tmp_path / "c" / "1.xml", XML_2012)
    timexes = read_corpus(tmp_path / "c", "i2b2_2012", tags=["TIMEX3"])[0]
    assert [(e.id, e.category) for e in timexes.entities] == [("T0", "TIMEX3")]
    assert timexes.metadata["i2b2_2012"]["order"] == "OOEOO"
    assert files_of(via_jsonl(tmp_path / "c", "i2b2_2012", tmp_path, tags=["TIMEX3"])) == {
        "1.xml": XML_2012.encode()}
    problems = read_corpus(tmp_path / "c", "i2b2_2012", types=("PROBLEM",))[0]
    assert [e.id for e in problems.entities] == ["E1"]


def test_2012_malformed_release_file_is_read_with_repairs_reported(tmp_path):
    text = '\nNo pain & fever .\nShe said "fine" .\nIt\'s ok .\n'
    malformed = (
        '<?xml version="1.0" encoding="UTF-8" ?>\n<ClinicalNarrativeTemporalAnnotation>\n'
        f"<TEXT><![CDATA[{text}]]></TEXT>\n<TAGS>\n"
        '<EVENT id="E0" start="4" end="16" text="pain & fever"'
        ' modality="FACTUAL" polarity="NEG" type="PROBLEM" />\n'
        '<EVENT id="E1" start="28" end="34" text=""fine""'
        ' modality="FACTUAL" polarity="POS" type="EVIDENTIAL" />\n'
        '<EVENT id="E2" start="37" end="41" text="It&apos;s"'
        ' modality="FACTUAL" polarity="POS" type="OCCURRENCE" />\n'
        "</TAGS>\n</ClinicalNarrativeTemporalAnnotation>\n")
    with pytest.raises(ET.ParseError):
        ET.fromstring(malformed.encode())  # what a strict XML parser does with the real release
    source = put(tmp_path / "c" / "23.xml", malformed)
    report = FormatReport()
    (document,) = read_corpus(tmp_path / "c", "i2b2_2012", report=report)
    assert [document.text[e.start:e.end] for e in document.entities] == ["pain & fever", '"fine"', "It's"]
    assert report.count(REPAIR) == 3 and report.count(MISMATCH) == 0
    assert report.examples == {
        "repair: raw '&' in an attribute value read as the character": [f"{source}:9 (tag E0)"],
        "repair: unescaped '\"' in an attribute value read as the character": [f"{source}:10 (tag E1)"] * 2}
    write_corpus([document], tmp_path / "fixed", "i2b2_2012")
    fixed = (tmp_path / "fixed" / "23.xml").read_text(encoding="utf-8")
    tags = ET.fromstring(fixed.encode()).find("TAGS")
    assert [tag.get("text") for tag in tags] == ["pain & fever", '"fine"', "It's"]
    assert 'text="&quot;fine&quot;"' in fixed and 'text="It&apos;s"' in fixed  # source's &apos; style kept


def test_2012_unrepairable_files_name_file_and_tag(tmp_path):
    head = ('<?xml version="1.0" encoding="UTF-8" ?>\n<ClinicalNarrativeTemporalAnnotation>\n'
            f"<TEXT><![CDATA[\n{SURROGATE} had pain .\n]]></TEXT>\n<TAGS>\n")
    tail = "</TAGS>\n</ClinicalNarrativeTemporalAnnotation>\n"
    unclosed = (f'<EVENT id="E0" start="1" end="11" text="{SURROGATE}" type="OCCURRENCE"\n'
                '<EVENT id="E1" start="16" end="20" text="pain" type="PROBLEM" />\n')
    source = put(tmp_path / "c" / "1.xml", head + unclosed + tail)
    message = error_of(read_corpus, tmp_path / "c", "i2b2_2012")
    assert message.startswith(f"{source}:7 (tag E0)") and "not closed" in message

    put(source, head + f'<EVENT id="E0" start="1" end="99" text="{SURROGATE}" type="OCCURRENCE" />\n' + tail)
    message = error_of(read_corpus, tmp_path / "c", "i2b2_2012")
    assert message.startswith(f"{source}:7 (tag E0)") and "past the text" in message

    put(source, head.replace("<![CDATA[", "") + tail)
    assert message_names(error_of(read_corpus, tmp_path / "c", "i2b2_2012"), source, "CDATA")


# ---------------------------------------------------------------- i2b2 2014

def corpus_2014(directory: Path) -> tuple[Path, str, list[tuple[str, str, int, int]]]:
    """One note with a tag of every category and subtype; returns its file, text and spans."""
    lines, spans, offset = ["", ""], [], 2
    for category, subtypes in CATEGORIES.items():
        for subtype in subtypes:
            prefix = f"{subtype.lower()}: "
            value = f"{SURROGATE}{len(spans)}"
            spans.append((category, subtype, offset + len(prefix), offset + len(prefix) + len(value)))
            lines.append(prefix + value)
            offset += len(prefix) + len(value) + 1
    text = "\n".join(lines) + "\n"
    tags = "".join(f'<{category} id="P{i}" start="{start}" end="{end}" text="{text[start:end]}" '
                   f'TYPE="{subtype}" comment="" />\n'
                   for i, (category, subtype, start, end) in enumerate(spans))
    xml = (f'<?xml version="1.0" encoding="UTF-8" ?>\n<deIdi2b2>\n<TEXT><![CDATA[{text}]]></TEXT>\n<TAGS>\n'
           f"{tags}</TAGS>\n</deIdi2b2>\n")
    return put(directory / "110-01.xml", xml), text, spans


def test_2014_every_category_and_subtype_with_exact_round_trip(tmp_path):
    source, text, spans = corpus_2014(tmp_path / "c")
    (document,) = read_corpus(tmp_path / "c", "i2b2_2014")
    assert len(spans) == 31 and text.startswith("\n\npatient: ")
    assert [(e.category, e.type, e.start, e.end) for e in document.entities] == spans
    assert document.entities[0].id == "P0" and document.entities[0].attributes == {"comment": ""}
    assert document.entities[0].start == 2 + len("patient: ")
    assert {e.category for e in document.entities} == {
        "NAME", "PROFESSION", "LOCATION", "AGE", "DATE", "CONTACT", "ID", "OTHER"}
    assert files_of(via_jsonl(tmp_path / "c", "i2b2_2014", tmp_path)) == {source.name: source.read_bytes()}


def test_2014_unknown_category_or_type_and_bad_offsets(tmp_path):
    head = f'<deIdi2b2>\n<TEXT><![CDATA[\nSeen by {SURROGATE} at 555-0100 .\n]]></TEXT>\n<TAGS>\n'
    tail = ' comment="" />\n</TAGS>\n</deIdi2b2>\n'
    source = put(tmp_path / "c" / "1.xml",
                 head + '<PHONE id="P3" start="23" end="31" text="555-0100" TYPE="PHONE"' + tail)
    message = error_of(read_corpus, tmp_path / "c", "i2b2_2014")
    assert message.startswith(f"{source}:6 (tag P3)") and "unknown PHI category" in message
    assert read_corpus(tmp_path / "c", "i2b2_2014", allow_unknown=True)[0].entities[0].category == "PHONE"

    put(source, head + f'<NAME id="P4" start="9" end="19" text="{SURROGATE}" TYPE="NICKNAME"' + tail)
    message = error_of(read_corpus, tmp_path / "c", "i2b2_2014")
    assert message.startswith(f"{source}:6 (tag P4)") and "not a subtype of NAME" in message
    assert "NICKNAME" not in message

    put(source, head + f'<NAME id="P7" start="9" end="90" text="{SURROGATE}" TYPE="DOCTOR"' + tail)
    message = error_of(read_corpus, tmp_path / "c", "i2b2_2014")
    assert message.startswith(f"{source}:6 (tag P7)") and "past the text" in message


def test_2014_other_layouts_are_written_back_exactly(tmp_path):
    xml = ('<deIdi2b2>\r\n<TEXT><![CDATA[Seen 05/03 > 04/03\r\n]]></TEXT>\r\n<TAGS>\r\n'
           '<DATE id="P0" start="5" end="18" text="05/03 > 04/03" TYPE="DATE" comment=""/>\r\n'
           "</TAGS>\r\n</deIdi2b2>")
    put(tmp_path / "c" / "crlf.xml", xml)
    (document,) = read_corpus(tmp_path / "c", "i2b2_2014")
    assert document.text == "Seen 05/03 > 04/03\r\n" and document.entities[0].end == 18
    assert document.metadata["i2b2_2014"]["layout"]["close"] == "/>"
    assert files_of(via_jsonl(tmp_path / "c", "i2b2_2014", tmp_path)) == {"crlf.xml": xml.encode()}


def test_2014_writer_escapes_attributes_and_derives_categories(tmp_path):
    text = 'Dr. A&B <"Co"> saw her\n'
    document = Document("n1", text, [Entity(4, 14, "ORGANIZATION"), Entity(15, 18, "DOCTOR", id="P0")])
    write_corpus([document], tmp_path / "out", "i2b2_2014")
    written = (tmp_path / "out" / "n1.xml").read_text(encoding="utf-8")
    assert '<LOCATION id="P1" start="4" end="14" text="A&amp;B &lt;&quot;Co&quot;&gt;" TYPE="ORGANIZATION" ' \
           'comment="" />' in written
    tags = ET.fromstring(written.encode()).find("TAGS")
    assert [(tag.tag, tag.get("text")) for tag in tags] == [("LOCATION", 'A&B <"Co">'), ("NAME", "saw")]
    assert read_corpus(tmp_path / "out", "i2b2_2014")[0].text == text
    bad = Document("n2", text, [Entity(0, 3, "problem")])
    assert "not an i2b2 2014 PHI TYPE" in error_of(write_corpus, [bad], tmp_path / "bad", "i2b2_2014")


# ---------------------------------------------------------------- brat (n2c2 2018)

TEXT_BRAT = "aspirin 81 mg for chest and back pain\n"
ANN_BRAT = ("T1\tDrug 0 7\taspirin\n"
            "T2\tStrength 8 13\t81 mg\n"
            "R1\tStrength-Drug Arg1:T2 Arg2:T1\n"
            "T3\tReason 18 23;33 37\tchest pain\n"
            "A1\tNegated T4\n"
            "#1\tAnnotatorNotes T1\tchecked\n"
            "R2\tReason-Drug Arg1:T3 Arg2:T1\n"
            "T4\tADE 28 37\tback pain\n")


def test_brat_discontinuous_overlapping_and_relations_round_trip(tmp_path):
    put(tmp_path / "c" / "100.txt", TEXT_BRAT)
    put(tmp_path / "c" / "100.ann", ANN_BRAT)
    (document,) = read_corpus(tmp_path / "c", "brat")
    assert [(e.id, e.type, e.start, e.end, e.fragments) for e in document.entities] == [
        ("T1", "Drug", 0, 7, None), ("T2", "Strength", 8, 13, None),
        ("T3", "Reason", 18, 37, [(18, 23), (33, 37)]), ("T4", "ADE", 28, 37, None)]
    assert document.relations == [{"id": "R1", "type": "Strength-Drug", "args": {"Arg1": "T2", "Arg2": "T1"}},
                                  {"id": "R2", "type": "Reason-Drug", "args": {"Arg1": "T3", "Arg2": "T1"}}]
    assert document.metadata["brat"]["other_lines"] == ["A1\tNegated T4", "#1\tAnnotatorNotes T1\tchecked"]
    output = via_jsonl(tmp_path / "c", "brat", tmp_path)
    assert files_of(output) == {"100.ann": ANN_BRAT.encode(), "100.txt": TEXT_BRAT.encode()}
    canonical = (tmp_path / "canonical.jsonl").read_bytes()
    write_corpus(read_corpus(tmp_path / "canonical.jsonl", "jsonl"), tmp_path / "again.jsonl", "jsonl")
    assert (tmp_path / "again.jsonl").read_bytes() == canonical


def test_brat_span_text_checks_and_bad_lines(tmp_path):
    put(tmp_path / "c" / "7.txt", f"{SURROGATE} took\naspirin\n")
    ann = put(tmp_path / "c" / "7.ann", f"T1\tDrug 16 23\taspirin\nT2\tDrug 0 23\t{SURROGATE} took aspirin\n"
                                        "T3\tDrug 0 4\tNope\nT4\tDrug 11 23\ttook  aspirin\n")
    report = FormatReport()
    read_corpus(tmp_path / "c", "brat", report=report)
    assert report.examples == {  # T2: brat writes the line break as a space, not a mismatch
        "mismatch: span text differs from the text slice": [f"{ann}:3 (T3)"],
        "repair: span text differs from the text slice in whitespace only (slice kept)": [f"{ann}:4 (T4)"]}
    assert error_of(read_corpus, tmp_path / "c", "brat", strict=True).startswith(f"{ann}:3 (T3)")

    put(ann, f"T1\tDrug 16 99\t{SURROGATE}\n")
    message = error_of(read_corpus, tmp_path / "c", "brat")
    assert message.startswith(f"{ann}:1 (T1)") and "past the text" in message
    put(ann, "T1\tDrug 16 23\taspirin\nX1\tsomething\n")
    assert error_of(read_corpus, tmp_path / "c", "brat").startswith(f"{ann}:2")
    ann.unlink()
    assert "7.txt" in error_of(read_corpus, tmp_path / "c", "brat")
    assert read_corpus(tmp_path / "c", "brat", gold=False)[0].entities == []


def test_brat_writer_renumbers_foreign_ids_and_follows_relations(tmp_path):
    document = Document("d", "chest\npain", [Entity(0, 10, "Reason", id="P0")],
                        relations=[{"type": "Self", "args": {"Arg1": "P0"}},
                                   {"id": "R1", "type": "Self", "args": {"Arg1": "P0"}}])
    write_corpus([document], tmp_path / "out", "brat")
    assert (tmp_path / "out" / "d.ann").read_text() == (
        "T1\tReason 0 10\tchest pain\nR2\tSelf Arg1:T1\nR1\tSelf Arg1:T1\n")


# ---------------------------------------------------------------- NeMo and CoNLL

def test_nemo_read_round_trip_and_bad_lines(tmp_path):
    text = "Pt has chest pain .\nNo fever\n\n"
    labels = "O O B-problem I-problem O\nO B-problem\n\n"
    put(tmp_path / "n" / "text_dev.txt", text)
    put(tmp_path / "n" / "labels_dev.txt", labels)
    documents = read_corpus(tmp_path / "n", "nemo", split="dev")
    assert [(d.id, d.text, [(e.start, e.end, e.type) for e in d.entities]) for d in documents] == [
        ("text_dev:1", "Pt has chest pain .", [(7, 17, "problem")]),
        ("text_dev:2", "No fever", [(3, 8, "problem")]), ("text_dev:3", "", [])]
    write_corpus(read_corpus(tmp_path / "n", "nemo", split="dev"), tmp_path / "out", "nemo", split="dev")
    assert files_of(tmp_path / "out") == {"labels_dev.txt": labels.encode(), "text_dev.txt": text.encode()}

    put(tmp_path / "n" / "labels_dev.txt", "O O B-problem I-problem O\nO B-problem O\n\n")
    assert error_of(read_corpus, tmp_path / "n", "nemo", split="dev").startswith(
        f"{tmp_path / 'n' / 'labels_dev.txt'}:2")
    put(tmp_path / "n" / "labels_dev.txt", "O O I-problem I-problem O\nO X-problem\n\n")
    assert error_of(read_corpus, tmp_path / "n", "nemo", split="dev").startswith(
        f"{tmp_path / 'n' / 'labels_dev.txt'}:2")
    assert "text_train.txt: missing" in error_of(read_corpus, tmp_path / "n", "nemo")


def test_conll_docstart_columns_and_round_trip(tmp_path):
    spaced = ("-DOCSTART- -X- -X- O\n\nPt NN O\nhas VB O\nchest NN B-problem\npain NN I-problem\n\n"
              "No DT O\nfever NN I-problem\n\n")
    source = put(tmp_path / "a.conll", spaced)
    report = FormatReport()
    documents = read_corpus(source, "conll", report=report)
    assert [(d.id, d.text, [(e.start, e.end, e.type) for e in d.entities]) for d in documents] == [
        ("a:3", "Pt has chest pain", [(7, 17, "problem")]), ("a:8", "No fever", [(3, 8, "problem")])]
    assert report.examples == {"repair: I- label without a B- before it starts a new entity": [
        f"{source}:8 word 2"]}
    write_corpus(documents, tmp_path / "b.conll", "conll")
    assert (tmp_path / "b.conll").read_text() == spaced.replace("fever NN I-problem", "fever NN B-problem")

    tabbed = "Pt\tO\nhas\tO\n\nchest\tB-problem\npain\tI-problem\n\n"
    put(tmp_path / "t.conll", tabbed)
    write_corpus(read_corpus(tmp_path / "t.conll", "conll"), tmp_path / "jsonl.jsonl", "jsonl")
    write_corpus(read_corpus(tmp_path / "jsonl.jsonl", "jsonl"), tmp_path / "t2.conll", "conll")
    assert (tmp_path / "t2.conll").read_text() == tabbed
    put(tmp_path / "bad.conll", "Pt O\nhas\n")
    assert error_of(read_corpus, tmp_path / "bad.conll", "conll").startswith(f"{tmp_path / 'bad.conll'}:2")


def test_bio_writers_snap_and_leave_out_overlaps_with_a_report(tmp_path):
    document = Document("s", "back pain.  fever", [Entity(0, 9, "ADE"), Entity(5, 9, "Reason"),
                                                   Entity(13, 15, "problem")])
    report = FormatReport()
    write_corpus([document], tmp_path / "out", "nemo", report=report, split="test")
    assert (tmp_path / "out" / "text_test.txt").read_text() == "back pain. fever\n"
    assert (tmp_path / "out" / "labels_test.txt").read_text() == "B-ADE I-ADE B-problem\n"
    assert report.examples == {
        "adjust: span widened to whole tokens": ["document s (entity #1)", "document s (entity #3)"],
        "skip: entity overlaps another, left out of the BIO labels": ["document s (entity #2)"]}


def test_bio_writers_settle_overlaps_as_fine_tuning_does(tmp_path):
    # "left arm" starts first, "arm pain today" is longer: one placement rule for both, the longest.
    document = Document("o", "left arm pain today", [Entity(0, 8, "A"), Entity(5, 19, "B")])
    write_corpus([document], tmp_path / "out", "nemo", split="test")
    labels = (tmp_path / "out" / "labels_test.txt").read_text()
    assert labels == " ".join(label_document(document).labels[0]) + "\n" == "O B-B I-B I-B\n"


# ---------------------------------------------------------------- registry, convert, PHI

def test_registry_rejects_unknown_formats_options_and_foreign_output(tmp_path):
    assert FORMATS == ("jsonl", "i2b2_2010", "i2b2_2012", "i2b2_2014", "brat", "nemo", "conll")
    corpus_2010(tmp_path / "c")
    assert "unknown format 'xml'" in error_of(read_corpus, tmp_path / "c", "xml")
    assert "no read option split" in error_of(read_corpus, tmp_path / "c", "i2b2_2010", split="dev")
    keep = put(tmp_path / "mine" / "notes.csv", "a,b\n")
    documents = read_corpus(tmp_path / "c", "i2b2_2010")
    assert "refusing to replace" in error_of(write_corpus, documents, tmp_path / "mine", "brat")
    assert keep.read_text() == "a,b\n"
    write_corpus(documents, tmp_path / "again", "brat")
    write_corpus(documents, tmp_path / "again", "brat")  # its own earlier output is replaced
    assert sorted(files_of(tmp_path / "again")) == ["r1.ann", "r1.txt"]


def test_logged_reports_and_convert_errors_carry_no_phi(tmp_path, caplog):
    put(tmp_path / "c" / "1.txt", f"{SURROGATE} took aspirin\n")
    put(tmp_path / "c" / "1.ann", f"T1\tDrug 16 23\t{SURROGATE}\n")
    with caplog.at_level(logging.INFO):
        read_corpus(tmp_path / "c", "brat")
    assert f"{tmp_path / 'c' / '1.ann'}:1 (T1)" in caplog.text and SURROGATE not in caplog.text
    settings = ConvertConfig(input=str(tmp_path / "c"), format="brat", output_format="i2b2_2010",
                             output=str(tmp_path / "c"))
    assert "is also an input" in error_of(convert, settings)


def test_convert_command_line(tmp_path):
    corpus_2014(tmp_path / "c")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "finetune.convert", f"input={tmp_path / 'c'}", "format=i2b2_2014",
               "output_format=brat", f"output={tmp_path / 'brat'}"]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "converted 1 document(s) with 31 entities from i2b2_2014" in result.stdout
    assert "  NAME/DOCTOR: 1\n" in result.stdout
    assert "read: mismatch 0, repair 0, adjust 0, skip 0" in result.stdout
    assert SURROGATE not in result.stdout + result.stderr
    ann = (tmp_path / "brat" / "110-01.ann").read_text().splitlines()
    assert len(ann) == 31 and ann[0] == f"T1\tPATIENT 11 22\t{SURROGATE}0"
