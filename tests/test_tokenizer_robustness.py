"""The vocabulary stage against hostile use: outputs it must not delete, bad settings, killed runs and
workers, long lines, patients' names and numbers, long words."""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from processes import outlived
from transformers import AutoTokenizer

from gatortron_common.logging import InputError
from tokenizer.build import SAMPLE_FILE, build_vocabulary, validate
from tokenizer.config import TokenizerConfig
from tokenizer.export import bert_tokenizer_from_vocab, export_tokenizer
from tokenizer.train_sentencepiece import MAX_SENTENCE_BYTES, write_training_text
from tokenizer.vocab import bert_header, load_vocabulary

ROOT = Path(__file__).resolve().parents[1]
NAME = "Zqvorthanex"  # a surname in one patient's notes only
PHONE = "3525550199"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, heldout_notes: list[str]) -> Path:
    """~60 kB of notes as JSONL, one of them a patient's note repeating a surname and a number, one
    holding a single line longer than SentencePiece's limit."""
    path = tmp_path_factory.mktemp("robust") / "notes.jsonl"
    patient = " ".join(f"Mr. {NAME} called from {PHONE}." for _ in range(300))
    long_line = "Vital signs stable. " * (MAX_SENTENCE_BYTES // 20 + 100)
    texts = [*heldout_notes, patient, long_line]
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    return path


def settings(corpus: Path, output: Path, **overrides) -> TokenizerConfig:
    values = {"input": [str(corpus)], "vocab_size": 600, "workers": 1, "heldout_bytes": 0, **overrides}
    return TokenizerConfig(output_dir=str(output), **values)


def cli(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tokenizer", *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if " ERROR " in line or "Traceback" in line]


# Item 1: the output rule.

def test_non_empty_directory_that_is_not_a_vocabulary_is_refused(tmp_path: Path, corpus: Path) -> None:
    out = tmp_path / "results"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work", encoding="utf-8")
    with pytest.raises(InputError, match=r"^output_dir=.*non-empty directory.*overwrite=true"):
        build_vocabulary(settings(corpus, out))
    assert (out / "thesis.tex").read_text(encoding="utf-8") == "years of work"


def test_existing_file_is_refused(tmp_path: Path, corpus: Path) -> None:
    out = tmp_path / "notes.bak"
    out.write_text("keep", encoding="utf-8")
    with pytest.raises(InputError, match=r"^output_dir=.*existing file"):
        build_vocabulary(settings(corpus, out))
    assert out.read_text(encoding="utf-8") == "keep"


@pytest.mark.parametrize("overwrite", [False, True])
def test_output_holding_or_being_an_input_is_refused_even_with_overwrite(tmp_path: Path, corpus: Path,
                                                                         overwrite: bool) -> None:
    with pytest.raises(InputError, match=r"^output_dir=.*holds the input"):
        validate(settings(corpus, corpus.parent, overwrite=overwrite))
    with pytest.raises(InputError, match=r"^output_dir=.*is also an input"):
        validate(settings(corpus, corpus, overwrite=overwrite))
    assert corpus.is_file()


def test_earlier_vocabulary_is_replaced_and_overwrite_replaces_other_directories(tmp_path: Path,
                                                                                corpus: Path) -> None:
    out = tmp_path / "vocab"
    build_vocabulary(settings(corpus, out))
    build_vocabulary(settings(corpus, out, vocab_size=500))  # its own earlier output: no overwrite needed
    assert load_vocabulary(out).size <= 500
    other = tmp_path / "other"
    other.mkdir()
    (other / "old.txt").write_text("x", encoding="utf-8")
    build_vocabulary(settings(corpus, other, overwrite=True))
    assert not (other / "old.txt").exists() and (other / "report.json").is_file()


# Item 13: settings checked before any work.

@pytest.mark.parametrize(("name", "value"), [
    ("character_coverage", 0.0), ("character_coverage", 1.5), ("character_coverage", -0.1),
    ("sample_bytes", -1), ("heldout_bytes", -5), ("workers", -2), ("max_table_words", 0), ("max_words", 0),
    ("min_document_frequency", 0),
])
def test_bad_setting_is_one_line_naming_it(tmp_path: Path, corpus: Path, name: str, value: object) -> None:
    with pytest.raises(InputError) as raised:
        validate(settings(corpus, tmp_path / "out", **{name: value}))
    message = str(raised.value)
    assert message.startswith(f"{name}=") and "\n" not in message
    assert not (tmp_path / "out").exists()


def test_bad_setting_on_the_command_line_exits_2_with_one_line(tmp_path: Path, corpus: Path) -> None:
    process = cli(f"input={corpus}", f"output_dir={tmp_path}/out", "character_coverage=1.5")
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 2
    assert len(error_lines(stderr)) == 1 and "character_coverage=1.5" in stderr, stderr
    assert not (tmp_path / "out").exists()


# Item 8: killed runs leave nothing outside the output's staging folder, and the next run cleans it.

def test_leftover_staging_of_a_killed_run_is_removed_and_nothing_else(tmp_path: Path, corpus: Path) -> None:
    out = tmp_path / "vocab"
    stale = tmp_path / ".vocab.k1ll3d_x.partial"
    stale.mkdir()
    (stale / SAMPLE_FILE).write_text("sampled notes", encoding="utf-8")
    keep = [tmp_path / ".vocab.mine.partial", tmp_path / ".vocabulary.abcdefgh.partial",
            tmp_path / ".other.abcdefgh.partial"]
    for path in keep:
        path.mkdir()
    holding = tmp_path / ".vocab.hasinput.partial"  # an input inside: never deleted
    holding.mkdir()
    (holding / "notes.jsonl").write_bytes(corpus.read_bytes())
    running = tmp_path / ".vocab.running1.partial"  # a build in progress holds its lock
    running.mkdir()
    fd = os.open(running, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        build_vocabulary(settings(corpus, out, input=[str(corpus), str(holding / "notes.jsonl")]))
    finally:
        os.close(fd)
    assert not stale.exists() and running.is_dir() and all(path.is_dir() for path in keep)
    assert (holding / "notes.jsonl").is_file()
    assert (out / "vocab.txt").is_file() and not (out / SAMPLE_FILE).exists()


def test_killed_sentencepiece_build_leaves_no_copy_of_notes_in_tmp(tmp_path: Path,
                                                                  notes_corpus: dict[str, Path]) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    out = tmp_path / "vocab"
    process = cli(f"input={notes_corpus['text']}", f"output_dir={out}", "algorithm=sentencepiece_bpe",
                  "vocab_size=2000", env={**os.environ, "TMPDIR": str(temp)})
    deadline = time.monotonic() + 120
    sample = None
    while sample is None and time.monotonic() < deadline and process.poll() is None:
        found = list(tmp_path.glob(f".vocab.*.partial/{SAMPLE_FILE}")) + list(temp.rglob("*"))
        sample = next((p for p in found if p.is_file() and p.stat().st_size > 0), None)
        time.sleep(0.01)
    workers = psutil.Process(process.pid).children(recursive=True)  # counting document frequencies
    process.send_signal(signal.SIGKILL)
    alive = outlived(workers, 30)
    # A worker blocked reading a batch the killed parent never finished writing outlived it once,
    # and held the run's stderr open.
    assert workers and not alive, f"workers outlived the killed run: {alive}"
    process.communicate(timeout=60)
    assert sample is not None and sample.name == SAMPLE_FILE, "the sample was not written where expected"
    assert not [p for p in temp.rglob("*") if p.is_file()]  # no copy of notes left in TMPDIR
    assert len(list(tmp_path.glob(".vocab.*.partial"))) == 1 and not out.exists()
    build_vocabulary(settings(notes_corpus["text"], out, algorithm="sentencepiece_bpe"))
    assert not list(tmp_path.glob(".vocab.*")) and (out / "vocab.txt").is_file()


# Item 10: a worker that dies ends the run with one line instead of a hang.

def test_killed_counting_worker_fails_the_run_with_one_line(tmp_path: Path,
                                                           notes_corpus: dict[str, Path]) -> None:
    big = tmp_path / "big.txt"
    text = notes_corpus["text"].read_text(encoding="utf-8")
    big.write_text("\n\n".join([text] * 12), encoding="utf-8")  # ~18 MB: counting outlasts the kill
    process = cli(f"input={big}", f"output_dir={tmp_path}/out", "workers=2", "vocab_size=2000")
    parent = psutil.Process(process.pid)
    deadline = time.monotonic() + 120
    victim = None
    while victim is None and time.monotonic() < deadline and process.poll() is None:
        workers = [c for c in parent.children() if _is_fork_of(c, parent)]
        victim = workers[0] if len(workers) == 2 else None
        time.sleep(0.01)
    assert victim is not None, "no worker processes seen"
    victim.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2 and time.monotonic() - killed < 30
    lines = error_lines(stderr)
    assert len(lines) == 1 and f"pid {victim.pid}" in lines[0] and "SIGKILL" in lines[0], stderr
    assert not (tmp_path / "out").exists()


def _is_fork_of(child: psutil.Process, parent: psutil.Process) -> bool:
    try:
        return child.cmdline() == parent.cmdline()  # forked workers; not multiprocessing's helpers
    except psutil.Error:
        return False


# Item 3: SentencePiece's line limit.

def test_long_lines_are_cut_to_fit_sentencepiece(tmp_path: Path) -> None:
    path = tmp_path / "sample.txt"
    ascii_line = "word " * 30_000
    wide_line = "\u20ac" * 30_000  # 3 bytes each, no space: cut anywhere
    with open(path, "w", encoding="utf-8") as handle:
        assert write_training_text("short line\nanother", handle) == 0
        assert write_training_text(f"head\n{ascii_line}\n{wide_line}", handle) == 2
    lines = path.read_text(encoding="utf-8").split("\n")
    assert max(len(line.encode("utf-8")) for line in lines) <= MAX_SENTENCE_BYTES
    assert sum(line.count("word") for line in lines) == 30_000
    assert sum(line.count("\u20ac") for line in lines) == 30_000


# Item 9: patients stay out of the vocabulary.

@pytest.mark.parametrize("algorithm", ["wordpiece", "sentencepiece_bpe"])
def test_name_from_one_note_never_becomes_a_token(tmp_path: Path, corpus: Path, algorithm: str) -> None:
    control = tmp_path / "control"
    build_vocabulary(settings(corpus, control, algorithm=algorithm, min_document_frequency=1))
    assert NAME in load_vocabulary(control).tokens  # what happens without the document rule

    out = tmp_path / "vocab"
    report = build_vocabulary(settings(corpus, out, algorithm=algorithm))
    whole = [t for t in load_vocabulary(out).tokens[len(bert_header()):] if not t.startswith("##")]
    assert not [t for t in whole if len(t) > 2 and NAME.startswith(t)]
    assert not [t for t in load_vocabulary(out).tokens if re.fullmatch(r"(##)?\d{5,}", t)]
    held = report["held_back"]
    assert held["min_document_frequency"] == 5 and held["tokens_held_back"] + held[
        "rare_words_not_trained_on"] > 0
    assert NAME not in (out / "report.json").read_text(encoding="utf-8")
    if algorithm == "sentencepiece_bpe":
        assert report["training"]["long_lines_cut"] == 1


# Item 6: words of 101-200 characters become pieces, as in Megatron's tokenizer, also after reloading.

def test_long_words_become_pieces_not_unk_also_after_reload(tmp_path: Path) -> None:
    letters = "abcdefghijklmnopqrstuvwxyz"
    tokens = [*bert_header(), *letters, *(f"##{c}" for c in letters)]
    word, too_long = "ab" * 75, "ab" * 101
    built = export_tokenizer(tokens, tmp_path, lowercase=False)
    reloaded = AutoTokenizer.from_pretrained(str(tmp_path))
    for tokenizer in (bert_tokenizer_from_vocab(tmp_path / "vocab.txt", False), built, reloaded):
        assert tokenizer.tokenize(word) == ["a", *["##b", "##a"] * 74, "##b"]
        assert tokenizer.tokenize(too_long) == ["[UNK]"]  # Megatron's limit: 200 characters
    assert json.loads((tmp_path / "tokenizer_config.json").read_text())["do_lower_case"] is False
    # The reloaded tokenizer gives what a BERT model takes, segment ids included.
    assert set(reloaded("ab", "ba")) == {"input_ids", "token_type_ids", "attention_mask"}
    assert reloaded("ab", "ba")["token_type_ids"] == [0, 0, 0, 0, 1, 1, 1]  # [CLS] a ##b [SEP] | b ##a [SEP]
