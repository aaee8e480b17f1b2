"""The synthetic annotated corpora: deterministic, complete tag sets, exact offsets, formats read back."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from finetune.corpora.document import read_jsonl
from finetune.corpora.formats import read_corpus
from finetune.corpora.formats.i2b2_2012 import EVENT_TYPES, TIMEX_TYPES
from finetune.corpora.formats.i2b2_2014 import CATEGORIES
from finetune.pairs.readers import find_split, read_pairs
from finetune.qa.squad import read_squad
from finetune.tagging.labels import LabelSettings, label_document
from gatortron_common.logging import InputError
from synthetic.annotated import (
    CORPORA,
    CORPUS_NAMES,
    AnnotatedCorporaConfig,
    generate_corpus,
    split_sizes,
    write_annotated_corpora,
)
from synthetic.annotated import corpus as corpus_module
from synthetic.annotated.medications import ENTITY_TYPES, RELATION_TYPES

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = 8


def files_of(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def corpora(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("synthetic") / "seed0"
    started = time.perf_counter()
    settings = AnnotatedCorporaConfig(output_dir=str(out), seed=0, documents=DOCUMENTS)
    summary = write_annotated_corpora(settings)
    # "A few seconds" for small corpora, with room for a busy machine.
    assert time.perf_counter() - started < 20
    return out, summary


@pytest.fixture(scope="module")
def generated() -> dict[str, list]:
    return {name: generate_corpus(name, 0, DOCUMENTS) for name in CORPUS_NAMES}


def test_same_seed_byte_identical_other_seed_different(corpora, tmp_path):
    out, _ = corpora
    again = tmp_path / "again"
    other = tmp_path / "other"
    write_annotated_corpora(AnnotatedCorporaConfig(output_dir=str(again), seed=0, documents=DOCUMENTS))
    write_annotated_corpora(AnnotatedCorporaConfig(output_dir=str(other), seed=1, documents=DOCUMENTS))
    first = files_of(out)
    assert first == files_of(again)
    # Per corpus train/test .jsonl, summary.json, .txt + .con/.ann pairs (2010, 2018), .xml (2012, 2014),
    # and the 2014 test notes as a notes table.
    assert len(first) == 4 * 2 + 1 + 2 * DOCUMENTS * 2 + 2 * DOCUMENTS + 1
    assert first["i2b2_2014/test_notes.tsv"].startswith(b"NOTE_ID\tMRN\tNOTE_TYPE\tNOTE_DATE\tNOTE_TEXT\n")
    different = files_of(other)
    assert different.keys() == first.keys()  # same names (ids depend on the index only) ...
    for name in CORPUS_NAMES:  # ... but other notes in every corpus
        assert different[f"{name}/train.jsonl"] != first[f"{name}/train.jsonl"]


def test_layout_split_and_summary(corpora):
    out, summary = corpora
    assert split_sizes(DOCUMENTS, 0.25) == (6, 2)
    assert split_sizes(1, 0.25) == (1, 0)
    assert split_sizes(3, 0.0) == (2, 1)
    for name in CORPUS_NAMES:
        fmt = CORPORA[name].fmt
        suffixes = {"i2b2_2010": {".txt", ".con"}, "i2b2_2012": {".xml"}, "i2b2_2014": {".xml"},
                    "brat": {".txt", ".ann"}}[fmt]
        for split, size in (("train", 6), ("test", 2)):
            files = sorted((out / name / split).iterdir())
            assert {f.suffix for f in files} == suffixes
            assert len(files) == size * len(suffixes)
            assert summary["corpora"][name]["splits"][split]["documents"] == size
    on_disk = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert on_disk["corpora"] == summary["corpora"]
    assert "output_dir" not in on_disk  # no absolute paths: the file must not depend on where it went
    n2c2 = summary["corpora"]["n2c2_2018"]["splits"]["train"]
    assert n2c2["discontinuous_entities"] == 6
    assert sorted(n2c2["relations"]) == sorted(RELATION_TYPES)


@pytest.mark.parametrize("name", CORPUS_NAMES)
def test_files_read_back_as_the_generated_documents(corpora, generated, name):
    out, _ = corpora
    expected = {d.id: d.to_json() for d in generated[name]}
    seen = {}
    for split in ("train", "test"):
        from_format = read_corpus(out / name / split, CORPORA[name].fmt, strict=True)
        from_jsonl = list(read_jsonl(out / name / f"{split}.jsonl"))
        assert sorted(d.id for d in from_format) == sorted(d.id for d in from_jsonl)
        for document in from_format:
            seen[document.id] = document.to_json()
        for document in from_jsonl:
            assert document.to_json() == expected[document.id]
    assert seen == expected


@pytest.mark.parametrize("name", CORPUS_NAMES)
def test_offsets_valid_and_slices_clean(generated, name):
    for document in generated[name]:
        document.check_offsets(document.id)
        for entity in document.entities:
            for start, end in entity.spans:
                piece = document.text[start:end]
                assert piece and piece == piece.strip(), (document.id, entity.id)


def test_every_2014_category_and_subtype_in_every_split(corpora):
    out, _ = corpora
    wanted = {(category, subtype) for category, subtypes in CATEGORIES.items() for subtype in subtypes}
    assert len(wanted) == 31
    for split in ("train", "test"):
        documents = read_corpus(out / "i2b2_2014" / split, "i2b2_2014", strict=True)
        assert {(e.category, e.type) for d in documents for e in d.entities} == wanted
        assert all(e.attributes == {"comment": ""} for d in documents for e in d.entities)


def test_2014_surrogates_are_the_invented_kinds(generated):
    for document in generated["i2b2_2014"]:
        for entity in document.entities:
            text = document.text[entity.start:entity.end]
            if entity.type in ("PHONE", "FAX"):
                assert "555-01" in text or "555.01" in text
            elif entity.type == "SSN":
                assert text.startswith("987-65-432")
            elif entity.type == "IPADDR":
                assert text.startswith("192.0.2.")
            elif entity.type in ("EMAIL", "URL"):
                assert "example." in text


def test_2010_concepts_on_token_boundaries_with_rare_shapes(generated):
    documents = generated["i2b2_2010"]
    assert {e.type for d in documents for e in d.entities} == {"problem", "test", "treatment"}
    for document in documents:
        text = document.text
        for entity in document.entities:
            assert entity.start == 0 or text[entity.start - 1] in " \n"
            assert entity.end == len(text) or text[entity.end] in " \n"
    spans = [(d.id, d.text[e.start:e.end]) for d in documents for e in d.entities]
    # index % 3 == 0 breaks a concept across lines, index % 4 == 1 quotes one.
    assert sorted({i for i, s in spans if "\n" in s}) == ["record-1", "record-4", "record-7"]
    assert sorted({i for i, s in spans if s.startswith('"') and s.endswith('"')}) == ["record-2", "record-6"]


def test_2012_events_timexes_and_links(generated):
    documents = generated["i2b2_2012"]
    assert all(d.text.startswith("\n") for d in documents)
    kinds = {(e.category, e.type) for d in documents for e in d.entities}
    assert kinds == {("EVENT", t) for t in EVENT_TYPES} | {("TIMEX3", t) for t in TIMEX_TYPES}
    for document in documents:
        ids = {e.id for e in document.entities}
        tags = document.metadata["i2b2_2012"]["other_tags"]
        names = Counter(tag["tag"] for tag in tags)
        assert names["SECTIME"] == 2 and names["TLINK"] >= 3
        for tag in tags:
            if tag["tag"] == "TLINK":
                assert {tag["attributes"]["fromID"], tag["attributes"]["toID"]} <= ids
        for entity in document.entities:
            keys = {"modality", "polarity"} if entity.category == "EVENT" else {"val", "mod"}
            assert set(entity.attributes) == keys
    modalities = {e.attributes.get("modality") for d in documents for e in d.entities}
    assert modalities >= {"FACTUAL", "POSSIBLE", "CONDITIONAL", "PROPOSED"}
    assert {e.attributes.get("polarity") for d in documents for e in d.entities} >= {"POS", "NEG"}


def test_2018_types_relations_overlap_and_discontinuous(generated):
    for document in generated["n2c2_2018"]:
        by_id = {e.id: e for e in document.entities}
        assert {e.type for e in document.entities} == set(ENTITY_TYPES)
        for relation in document.relations:
            attribute, drug = by_id[relation["args"]["Arg1"]], by_id[relation["args"]["Arg2"]]
            assert relation["type"] == f"{attribute.type}-Drug" and drug.type == "Drug"
        same_span = Counter((e.start, e.end) for e in document.entities if e.type in ("ADE", "Reason"))
        assert max(same_span.values()) == 2
        assert sum(1 for e in document.entities if e.fragments) == 1
        # BIO labelling: `longest` drops the Reason copy of the ADE span and the discontinuous
        # Reason whose "pain" fragment lies inside the contiguous one; `groups` keeps everything.
        longest = label_document(document)
        assert longest.stats.dropped == {"Reason": 2}
        medication = [t for t in ENTITY_TYPES if t not in ("Reason", "ADE")]
        groups = label_document(document, LabelSettings(overlap="groups",
                                                        groups=[medication, ["Reason"], ["ADE"]]))
        assert groups.stats.dropped == {"Reason": 1}  # the discontinuous one, inside its own group
        assert len(groups.labels) == 3


def test_refuses_existing_directory_and_bad_settings(tmp_path):
    target = tmp_path / "taken"
    target.mkdir()
    (target / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(InputError, match="overwrite=true"):
        write_annotated_corpora(AnnotatedCorporaConfig(output_dir=str(target), documents=2))
    assert (target / "notes.txt").read_text(encoding="utf-8") == "keep me"
    with pytest.raises(InputError, match="unknown: i2b2_2006"):
        write_annotated_corpora(AnnotatedCorporaConfig(output_dir=str(tmp_path / "x"), corpora=["i2b2_2006"]))
    with pytest.raises(InputError, match="documents must be >= 1"):
        write_annotated_corpora(AnnotatedCorporaConfig(output_dir=str(tmp_path / "x"), documents=0))


def test_interrupted_run_leaves_nothing(tmp_path, monkeypatch):
    calls = []

    def failing_write(documents, path):
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt  # as if the job were killed mid-way
        return original(documents, path)

    original = corpus_module.write_jsonl
    monkeypatch.setattr(corpus_module, "write_jsonl", failing_write)
    target = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        write_annotated_corpora(AnnotatedCorporaConfig(output_dir=str(target), documents=2))
    assert list(tmp_path.iterdir()) == []


def test_command_line(tmp_path):
    target = tmp_path / "cli"
    command = [sys.executable, "-m", "synthetic.annotated", f"output_dir={target}", "seed=3", "documents=2",
               "corpora=[i2b2_2014,n2c2_2018]"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert sorted(summary["corpora"]) == ["i2b2_2014", "n2c2_2018"]
    assert summary["corpora"]["i2b2_2014"]["splits"]["test"]["documents"] == 1
    assert sorted(p.name for p in target.iterdir()) == ["i2b2_2014", "n2c2_2018", "summary.json"]
    # No note text in the logs: surrogates never reach stderr.
    notes = read_corpus(target / "i2b2_2014" / "train", "i2b2_2014")
    for entity in notes[0].entities:
        surrogate = notes[0].text[entity.start:entity.end]
        if len(surrogate) >= 5 and any(c.isalpha() for c in surrogate):  # short digits may be a timestamp
            assert surrogate not in done.stderr
    again = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert again.returncode == 2
    assert "overwrite=true" in again.stderr


def test_the_task_corpora_are_written_in_their_releases_layouts(tmp_path):
    """`corpora=[sts,mednli,emrqa]`: the files `python -m finetune.pairs` / `finetune.qa` read."""
    settings = AnnotatedCorporaConfig(output_dir=str(tmp_path / "tasks"), documents=8,
                                      corpora=["sts", "mednli", "emrqa"])
    summary = write_annotated_corpora(settings)["corpora"]
    out = tmp_path / "tasks"
    assert sorted(p.name for p in (out / "sts").iterdir()) == [
        "clinicalSTS2019.test.gs.sim.txt", "clinicalSTS2019.test.txt", "clinicalSTS2019.train.txt"]
    assert summary["sts"]["splits"] == {"train": {"pairs": 120}, "test": {"pairs": 40}}
    for task in ("sts", "mednli"):
        train, test = (read_pairs(find_split(out / task, task, split), task) for split in ("train", "test"))
        assert (len(train), len(test)) == (120, 40) and all(p.label is not None for p in train + test)
    questions = {split: read_squad(out / "emrqa" / f"medication-{split}.json") for split in ("train", "test")}
    assert summary["emrqa"]["splits"]["train"] == {"documents": 6, "questions": len(questions["train"])}
    assert {q.title for q in questions["train"]}.isdisjoint(q.title for q in questions["test"])
    assert all(q.answers and q.context[q.answers[0].start:q.answers[0].end] == q.answers[0].text
               for split in questions.values() for q in split)
    with pytest.raises(InputError, match="corpora must be"):
        write_annotated_corpora(AnnotatedCorporaConfig(output_dir=str(tmp_path / "x"), corpora=["squad"]))
