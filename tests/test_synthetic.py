"""Synthetic corpora: determinism, formats that read back, realistic content, size control, long tail."""

from __future__ import annotations

import bz2
import csv
import gzip
import hashlib
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from synthetic.corpora.config import SyntheticCorporaConfig
from synthetic.corpora.notes import (
    NOTE_COLUMNS,
    NOTE_TYPES,
    SyntheticNote,
    generate_notes,
    write_notes_delimited,
    write_notes_jsonl,
)
from synthetic.corpora.pubmed import write_pubmed_baseline
from synthetic.corpora.wikipedia import write_wikipedia_dump
from synthetic.corpora.write import PUBMED_FILE, WIKI_FILE, write_synthetic_corpora
from synthetic.lexicon import ZipfTerms, pseudo_terms

REPO = Path(__file__).resolve().parents[1]
MW = "{http://www.mediawiki.org/xml/export-0.11/}"
WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _small_cfg(out: Path, seed: int = 0) -> SyntheticCorporaConfig:
    return SyntheticCorporaConfig(output_dir=str(out), seed=seed, notes_mb=0.15, pubmed_articles=40,
                                  wiki_pages=40, progress=False)


@pytest.fixture(scope="module")
def notes() -> list[SyntheticNote]:
    return list(generate_notes(seed=5, target_bytes=600_000))


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("corpora") / "out"
    return out, write_synthetic_corpora(_small_cfg(out))


# --- determinism -------------------------------------------------------------------------------


def test_same_seed_gives_identical_bytes_and_other_seed_differs(corpora, tmp_path):
    first_dir, summary = corpora
    first = _files(first_dir)
    assert set(first) == {"notes.tsv", "notes.csv", "notes.jsonl", PUBMED_FILE, WIKI_FILE}

    write_synthetic_corpora(_small_cfg(tmp_path / "again"))
    assert _files(tmp_path / "again") == first

    write_synthetic_corpora(_small_cfg(tmp_path / "other", seed=1))
    other = _files(tmp_path / "other")
    for name, data in first.items():
        assert other[name] != data, f"{name} did not change with the seed"


def test_gzip_outputs_are_deterministic(tmp_path):
    notes = list(generate_notes(seed=2, target_bytes=30_000))
    for sub in ("a", "b"):
        write_notes_jsonl(tmp_path / sub / "notes.jsonl.gz", notes)
        write_notes_delimited(tmp_path / sub / "notes.tsv.gz", notes, "\t")
    for name in ("notes.jsonl.gz", "notes.tsv.gz"):
        data = (tmp_path / "a" / name).read_bytes()
        assert data == (tmp_path / "b" / name).read_bytes()
        # Runs within the same second agree anyway; the header's mtime field must be pinned to 0.
        assert data[4:8] == b"\0\0\0\0"
        assert data[10:].startswith(name[:-3].encode() + b"\0")  # final name, not the temp file's
    # A real gzip stream (not plain text with a .gz name) holding the same records.
    with gzip.open(tmp_path / "a" / "notes.jsonl.gz", "rt", encoding="utf-8") as handle:
        assert [json.loads(line)["text"] for line in handle] == [n.text for n in notes]


def test_summary_reports_counts_and_sizes_but_no_text(corpora):
    out, summary = corpora
    assert summary["pubmed"]["articles"] == 40 and summary["wikipedia"]["pages"] == 40
    assert summary["notes"]["count"] > 10
    for info in summary["notes"]["files"].values():
        assert info["bytes"] == Path(info["path"]).stat().st_size
    dumped = json.dumps(summary)
    assert "HISTORY OF PRESENT ILLNESS" not in dumped and "FINDINGS" not in dumped


# --- notes -------------------------------------------------------------------------------------


def _read_delimited(path: Path, delimiter: str) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle, delimiter=delimiter))


def test_tsv_csv_and_jsonl_hold_the_same_notes(corpora):
    out, _ = corpora
    with open(out / "notes.jsonl", encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    assert set(records[0]) == {"note_id", "mrn", "note_type", "note_date", "text"}
    texts = [r["text"] for r in records]
    for name, delimiter in (("notes.tsv", "\t"), ("notes.csv", ",")):
        rows = _read_delimited(out / name, delimiter)
        assert rows[0] == list(NOTE_COLUMNS)
        assert all(len(row) == len(NOTE_COLUMNS) for row in rows)
        assert [row[4] for row in rows[1:]] == texts
        assert [row[0] for row in rows[1:]] == [r["note_id"] for r in records]
    # The round trip only proves quoting works if the awkward characters are really there.
    joined = "".join(texts)
    for char in ("\t", ",", '"', "\n"):
        assert char in joined, repr(char)


def test_writers_return_counts_and_custom_text_key(notes, tmp_path):
    subset = notes[:7]
    assert write_notes_delimited(tmp_path / "n.csv", subset, ",") == 7
    assert write_notes_jsonl(tmp_path / "n.jsonl", iter(subset), text_key="note_text") == 7
    first = json.loads((tmp_path / "n.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert first["note_text"] == subset[0].text and "text" not in first


def test_failed_write_leaves_no_file(notes, tmp_path):
    def broken():
        yield notes[0]
        raise RuntimeError("generator died")

    with pytest.raises(RuntimeError):
        write_notes_delimited(tmp_path / "notes.tsv", broken(), "\t")
    assert list(tmp_path.iterdir()) == []


def test_notes_look_clinical(notes):
    texts = [n.text for n in notes]
    joined = "\n".join(texts)
    assert {n.note_type for n in notes} == set(NOTE_TYPES)
    for header in ("HISTORY OF PRESENT ILLNESS:", "HOSPITAL COURSE:", "DISCHARGE MEDICATIONS:",
                   "SUBJECTIVE:", "ASSESSMENT AND PLAN:", "FINDINGS:", "IMPRESSION:", "ALLERGIES:"):
        assert re.search(rf"^{re.escape(header)}", joined, re.M), header
    for abbreviation in ("b.i.d.", "p.o.", "q.h.s.", "p.r.n."):
        assert abbreviation in joined, abbreviation
    assert re.search(r"^\d+\. [A-Z][a-z]+.* \d+(\.\d+)? mg p\.o\. (b\.i\.d\.|daily|t\.i\.d\.)", joined, re.M)
    assert re.search(r"\bBP \d{2,3}/\d{2,3}\b", joined) and re.search(r"\bHR \d{2,3}\b", joined)
    assert re.search(r"SpO2 \d{2,3}%", joined)
    assert re.search(r"\b\d{2}/\d{2}/\d{4}\b", joined)  # 03/14/2021
    assert re.search(r"\b\d{4}-\d{2}-\d{2}\b", joined)  # 2021-03-14
    assert re.search(r"\b(January|February|March|April|May|June|July|August|September|October|"
                     r"November|December) \d{1,2}, \d{4}\b", joined)  # March 14, 2021
    assert re.search(r"\bDr\. [A-Z][a-z]+", joined)
    assert re.search(r"\(\d{3}\) 555-\d{4}", joined)  # fictional 555 phone numbers
    assert re.search(r"\d+ [A-Z][a-z]+ [A-Z][a-z]*,? ?[A-Za-z .]*, [A-Z]{2} \d{5}", joined)  # street address
    assert "[**" in joined and "[NAME]" in joined  # both de-identification placeholder styles
    assert all(re.fullmatch(r"\d{8}", n.mrn) for n in notes)
    assert len({n.note_id for n in notes}) == len(notes)


def test_notes_mix_hard_wrapped_paragraphs_and_sentence_lines(notes):
    lines = [line for n in notes for line in n.text.split("\n")]
    # A hard-wrapped paragraph: a long line cut mid-sentence, continued on the next line.
    wrapped = sum(1 for a, b in zip(lines, lines[1:], strict=False)
                  if 60 <= len(a) <= 80 and a[-1].isalpha() and b[:1].islower())
    assert wrapped > 50
    # A section written one sentence per line: long lines ending with a period.
    assert sum(1 for line in lines if len(line) > 100 and line.endswith(".")) > 20


def test_note_lengths_vary_between_hundreds_of_bytes_and_about_10kb(notes):
    sizes = [len(n.text.encode("utf-8")) for n in notes]
    assert min(sizes) < 1000
    assert max(sizes) > 6000
    assert max(sizes) < 12_000


@pytest.mark.parametrize("target", [20_000, 250_000, 2_000_000])
def test_target_bytes_respected(target):
    total = sum(len(n.text.encode("utf-8")) for n in generate_notes(seed=9, target_bytes=target))
    assert abs(total - target) <= 0.1 * target


def test_same_seed_same_notes_and_invalid_seed():
    a = list(generate_notes(seed=4, target_bytes=50_000))
    assert a == list(generate_notes(seed=4, target_bytes=50_000))
    assert [n.text for n in a] != [n.text for n in generate_notes(seed=5, target_bytes=50_000)]
    with pytest.raises(ValueError):
        next(generate_notes(seed=-1, target_bytes=1000))


def test_unique_words_keep_growing_with_corpus_size():
    def unique_words(megabytes: float) -> int:
        words: set[str] = set()
        for note in generate_notes(seed=0, target_bytes=int(megabytes * 1_000_000)):
            words.update(WORD.findall(note.text))
        return len(words)

    small, large = unique_words(1), unique_words(4)
    assert small > 5_000
    assert large > 1.5 * small


# --- lexicon -----------------------------------------------------------------------------------


def test_pseudo_vocabulary_is_large_varied_and_zipf_sampled():
    terms = pseudo_terms()
    assert 100_000 <= len(terms) == len(set(terms)) <= 300_000
    assert 0.02 < sum(t[0].isupper() for t in terms) / len(terms) < 0.2
    assert 0.02 < sum("-" in t for t in terms) / len(terms) < 0.2
    draws = ZipfTerms(np.random.default_rng(0)).sample_indices(200_000)
    assert np.array_equal(draws, ZipfTerms(np.random.default_rng(0)).sample_indices(200_000))
    counts = np.bincount(draws, minlength=len(terms))
    # Power law: the head is much more frequent than rank ~1000, yet the tail is reached.
    assert counts[:10].mean() > 20 * max(counts[1000:1010].mean(), 1)
    assert draws.max() > 100_000


# --- PubMed ------------------------------------------------------------------------------------


def test_pubmed_baseline_parses_and_has_the_real_quirks(tmp_path):
    path = tmp_path / "pubmed26n0001.xml.gz"
    assert write_pubmed_baseline(path, seed=0, n_articles=120, n_deleted=3) == 120
    assert path.read_bytes()[4:8] == b"\0\0\0\0"  # gzip mtime pinned: reproducible bytes
    raw = gzip.decompress(path.read_bytes()).decode("utf-8")
    assert raw.startswith('<?xml version="1.0"') and "<!DOCTYPE PubmedArticleSet" in raw
    assert "&amp;" in raw and "&lt;" in raw
    root = ET.fromstring(raw.encode("utf-8"))
    assert root.tag == "PubmedArticleSet"
    articles = root.findall("PubmedArticle")
    assert len(articles) == 120

    pmids = [a.findtext("MedlineCitation/PMID") for a in articles]
    assert len(set(pmids)) == 120
    assert pmids == [a.findtext("PubmedData/ArticleIdList/ArticleId[@IdType='pubmed']") for a in articles]
    no_abstract = [a for a in articles if a.find("MedlineCitation/Article/Abstract") is None]
    assert 3 <= len(no_abstract) <= 30  # ~10%
    labelled = root.findall(".//Abstract/AbstractText[@Label]")
    assert labelled and {"BACKGROUND", "METHODS", "RESULTS", "CONCLUSIONS"} <= {
        t.get("NlmCategory") for t in labelled}
    assert root.findall(".//Abstract/AbstractText[@Label='BACKGROUND'][@NlmCategory='BACKGROUND']")
    plain = [t for t in root.iter("AbstractText") if t.get("Label") is None]
    assert plain
    for tag in ("i", "sup", "sub"):
        assert root.findall(f".//AbstractText/{tag}") or root.findall(f".//ArticleTitle/{tag}"), tag
    text = " ".join("".join(t.itertext()) for t in root.iter("AbstractText"))
    assert any(ch in text for ch in "\u03b2\u00b1\u00b0") and "<" in text  # "p < 0.05" unescaped
    assert all(a.findtext("MedlineCitation/Article/Language") == "eng" for a in articles)
    assert all(a.find("MedlineCitation/MeshHeadingList/MeshHeading") is not None for a in articles)
    assert len(root.findall("DeleteCitation/PMID")) == 3


# --- Wikipedia ---------------------------------------------------------------------------------


def _sha1_base36(text: str) -> str:
    n = int(hashlib.sha1(text.encode("utf-8")).hexdigest(), 16)
    digits = ""
    while n:
        n, r = divmod(n, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[r] + digits
    return digits.rjust(31, "0")


def test_wikipedia_dump_parses_and_has_all_page_kinds(tmp_path):
    path = tmp_path / "enwiki-20260101-pages-articles1.xml.bz2"
    assert write_wikipedia_dump(path, seed=0, n_pages=200) == 200
    root = ET.fromstring(bz2.decompress(path.read_bytes()))
    assert root.tag == f"{MW}mediawiki" and root.get("version") == "0.11"
    namespaces = {int(ns.get("key")): (ns.text or "") for ns in root.iter(f"{MW}namespace")}
    assert namespaces[0] == "" and namespaces[14] == "Category"
    pages = root.findall(f"{MW}page")
    assert len(pages) == 200
    assert len({p.findtext(f"{MW}title") for p in pages}) == 200
    assert len({p.findtext(f"{MW}id") for p in pages}) == 200

    redirects, disambiguations, other_ns, articles = [], [], [], []
    for page in pages:
        title, ns = page.findtext(f"{MW}title"), int(page.findtext(f"{MW}ns"))
        text_el = page.find(f"{MW}revision/{MW}text")
        text = text_el.text or ""
        assert int(text_el.get("bytes")) == len(text.encode("utf-8"))
        assert page.findtext(f"{MW}revision/{MW}sha1") == _sha1_base36(text)
        assert page.findtext(f"{MW}revision/{MW}model") == "wikitext"
        redirect = page.find(f"{MW}redirect")
        if redirect is not None:
            assert text.startswith(f"#REDIRECT [[{redirect.get('title')}]]")
            redirects.append(page)
        elif ns != 0:
            assert title.startswith(namespaces[ns] + ":")
            other_ns.append(page)
        elif text.rstrip().endswith("{{disambiguation}}"):
            disambiguations.append(page)
        else:
            articles.append(text)
    assert 8 <= len(redirects) <= 40  # ~10%
    assert 3 <= len(disambiguations) <= 25  # ~5%
    assert other_ns and {int(p.findtext(f"{MW}ns")) for p in other_ns} <= {4, 10, 14}

    joined = "\n".join(articles)
    for markup in ("'''", "''", "{{Infobox medical condition", "{{cite journal", "{| class=\"wikitable\"",
                   "|}", "[[File:", "[[Category:", "<!--", "\n== ", "\n=== ", "\n* "):
        assert markup in joined, markup
    assert re.search(r"<ref name=\"[^\"]+\">\{\{cite journal", joined)
    assert re.search(r"<ref name=\"[^\"]+\"/>", joined)
    assert re.search(r"\[\[[^\]|]+\|[^\]]+\]\]", joined)  # [[Target|alias]]
    raw = bz2.decompress(path.read_bytes()).decode("utf-8")
    assert "&lt;ref" in raw and "&quot;" in raw  # markup really escaped in the XML


# --- command line ------------------------------------------------------------------------------


def test_cli_writes_everything_and_hydra_writes_nothing_else(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [sys.executable, "-m", "synthetic.corpora", "output_dir=out", "seed=3", "notes_mb=0.03",
           "pubmed_articles=5", "wiki_pages=6"]
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["pubmed"]["articles"] == 5 and summary["wikipedia"]["pages"] == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no outputs/, .hydra/, logs
    assert set(_files(tmp_path / "out")) == {"notes.tsv", "notes.csv", "notes.jsonl", PUBMED_FILE, WIKI_FILE}
    assert "SUBJECTIVE:" not in done.stdout + done.stderr and "FINDINGS:" not in done.stdout + done.stderr

    missing = subprocess.run(cmd[:3] + cmd[4:], cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=120)
    assert missing.returncode != 0  # output_dir is required
