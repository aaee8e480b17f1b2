"""data_prep against hostile input and interrupted runs: reuse keyed on content, the vocabulary
recorded and compared, damaged shards, special-token strings in notes, leftovers of killed runs,
dead workers, bad settings checked first."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy
import psutil
import pytest
from megatron.core.datasets.indexed_dataset import IndexedDataset
from prep_runs import killed_after_parts
from processes import outlived

from data_prep.build import build_dataset
from data_prep.clean import DOCUMENT_MARK, SENTENCE_MARK
from data_prep.config import DataPrepConfig
from data_prep.encode import TextEncoder
from data_prep.merge import MergeConfig, merge_datasets
from gatortron_common.logging import InputError
from synthetic.corpora.notes import generate_notes, write_notes_jsonl
from tokenizer.build import build_vocabulary
from tokenizer.config import TokenizerConfig
from tokenizer.megatron_adapter import MegatronWordPieceTokenizer
from tokenizer.vocab import VOCAB_FILE, load_vocabulary

SPECIAL_IDS = {0, 100, 101, 102, 103}  # [PAD], [UNK], [CLS], [SEP], [MASK]


@pytest.fixture(scope="module")
def vocabs(tmp_path_factory: pytest.TempPathFactory, notes_corpus: dict[str, Path]) -> dict[str, Path]:
    """A vocabulary ("big") and a smaller one ("small": its first 1,500 entries, same report.json)."""
    root = tmp_path_factory.mktemp("robust_vocab")
    build_vocabulary(TokenizerConfig(input=[str(notes_corpus["tsv"])], output_dir=str(root / "big"),
                                     vocab_size=3000, workers=1))
    shutil.copytree(root / "big", root / "small")
    lines = (root / "big" / VOCAB_FILE).read_text(encoding="utf-8").splitlines(keepends=True)
    (root / "small" / VOCAB_FILE).write_text("".join(lines[:1500]), encoding="utf-8")
    return {"big": root / "big", "small": root / "small"}


@pytest.fixture(scope="module")
def notes_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("robust_notes") / "notes.jsonl"
    write_notes_jsonl(path, generate_notes(seed=61, target_bytes=150_000))
    return path


@pytest.fixture(scope="module")
def two_files(notes_file: Path) -> list[Path]:
    """Two input files, so that two shards get one each."""
    second = notes_file.with_name("second.jsonl")
    write_notes_jsonl(second, generate_notes(seed=62, target_bytes=60_000))
    return [notes_file, second]


def use_vocabulary(target: Path, source: Path) -> None:
    """Put `source`'s vocabulary at `target` (the same path, other contents: a rebuilt vocab)."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target)


def prepare(prefix: Path, inputs: list[Path], vocab: Path, **settings) -> dict:
    return build_dataset(DataPrepConfig(input=[str(p) for p in inputs], vocab=str(vocab),
                                        output_prefix=str(prefix), **settings))


def all_ids(prefix: Path) -> numpy.ndarray:
    dataset = IndexedDataset(str(prefix))
    return numpy.concatenate([dataset[i] for i in range(len(dataset))])


def same_files(a: Path, b: Path) -> bool:
    return all(Path(f"{a}.{s}").read_bytes() == Path(f"{b}.{s}").read_bytes() for s in ("bin", "idx"))


# --- item 2: reuse keyed on the vocabulary's content and the inputs' identity ------------------


def test_resume_with_another_vocabulary_at_the_same_path_remakes_the_parts(
        tmp_path: Path, vocabs: dict[str, Path], notes_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vocab = tmp_path / "vocab"
    use_vocabulary(vocab, vocabs["big"])
    prefix = tmp_path / "out" / "notes"
    with killed_after_parts(monkeypatch, 2):
        prepare(prefix, [notes_file], vocab, unit_mb=0.02)
    assert len(list(Path(f"{prefix}.parts").glob("*.idx"))) == 2
    use_vocabulary(vocab, vocabs["small"])  # rebuilt in place: 1,500 entries
    stats = prepare(prefix, [notes_file], vocab, unit_mb=0.02)
    assert int(all_ids(prefix).max()) < 1500  # no id of the earlier vocabulary
    prepare(tmp_path / "fresh" / "notes", [notes_file], vocabs["small"], unit_mb=0.02)
    assert same_files(prefix, tmp_path / "fresh" / "notes")
    assert stats["vocabulary"] == load_vocabulary(vocabs["small"]).identity()


def test_a_complete_output_is_redone_when_its_vocabulary_or_input_changed(
        tmp_path: Path, vocabs: dict[str, Path], notes_file: Path) -> None:
    vocab, corpus = tmp_path / "vocab", tmp_path / "notes.jsonl"
    use_vocabulary(vocab, vocabs["big"])
    shutil.copy(notes_file, corpus)
    prefix = tmp_path / "notes"
    first = prepare(prefix, [corpus], vocab)
    assert prepare(prefix, [corpus], vocab) == first  # same job: reused as it is
    use_vocabulary(vocab, vocabs["small"])
    second = prepare(prefix, [corpus], vocab)
    assert second["vocabulary"]["size"] == 1500 and int(all_ids(prefix).max()) < 1500
    lines = corpus.read_text(encoding="utf-8").splitlines(keepends=True)
    corpus.write_text("".join(lines[: len(lines) // 2]), encoding="utf-8")
    third = prepare(prefix, [corpus], vocab)
    assert third["documents"] < second["documents"]


# --- item 4: the vocabulary recorded in stats, and compared by merge and blend -----------------


def test_stats_record_the_vocabulary_and_merge_refuses_two(tmp_path: Path, vocabs: dict[str, Path],
                                                          two_files: list[Path]) -> None:
    vocab = tmp_path / "vocab"
    prefix = tmp_path / "notes"
    shards = []
    for index, name in enumerate(("big", "small")):  # the two shards see two vocabularies at one path
        use_vocabulary(vocab, vocabs[name])
        stats = prepare(prefix, two_files, vocab, shard_index=index, shard_count=2)
        assert stats["vocabulary"] == load_vocabulary(vocabs[name]).identity()
        on_disk = json.loads(Path(f"{stats['output_prefix']}.stats.json").read_text(encoding="utf-8"))
        assert on_disk["vocabulary"] == stats["vocabulary"]
        shards.append(stats["output_prefix"])
    with pytest.raises(InputError, match="vocabulary mismatch"):
        merge_datasets(MergeConfig(inputs=f"{prefix}_shard*", output_prefix=str(tmp_path / "merged")))
    assert not list(tmp_path.glob("merged*"))

    from data_prep.blend import load_blend
    blend = tmp_path / "blend.yaml"
    blend.write_text(json.dumps({"corpora": [{"name": "a", "prefix": shards[0]},
                                             {"name": "b", "prefix": shards[1]}]}), encoding="utf-8")
    with pytest.raises(InputError, match="vocabulary mismatch"):
        load_blend(blend)


# --- item 5: merge checks every shard's files against its index --------------------------------


@pytest.mark.parametrize("suffix", ["bin", "idx"])
def test_merge_refuses_a_truncated_shard(tmp_path: Path, vocabs: dict[str, Path], two_files: list[Path],
                                         suffix: str) -> None:
    prefix = tmp_path / "notes"
    for index in range(2):
        prepare(prefix, two_files, vocabs["big"], shard_index=index, shard_count=2)
    damaged = Path(f"{prefix}_shard00001of00002.{suffix}")
    data = damaged.read_bytes()
    damaged.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=rf"^{damaged}: \d+ bytes where its (index|header) describes \d+"):
        merge_datasets(MergeConfig(inputs=f"{prefix}_shard*", output_prefix=str(tmp_path / "merged")))
    assert not list(tmp_path.glob("merged*"))


# --- item 6: special-token strings in notes are text ---------------------------------------------


def megatron_style_ids(vocab: Path, lowercase: bool, text: str) -> list[int]:
    """Megatron's legacy BERT tokenizer: basic tokenizer (no never-split list) + WordPiece."""
    from transformers.models.bert.tokenization_bert_legacy import BasicTokenizer, WordpieceTokenizer

    tokens = (vocab / VOCAB_FILE).read_text(encoding="utf-8").splitlines()
    ids = {token: i for i, token in enumerate(tokens)}
    basic = BasicTokenizer(do_lower_case=lowercase, tokenize_chinese_chars=True)
    wordpiece = WordpieceTokenizer(vocab=ids, unk_token="[UNK]")
    return [ids[piece] for word in basic.tokenize(text) for piece in wordpiece.tokenize(word)]


NOTE_WITH_LITERALS = ("Patient seen in clinic [CLS] for follow up. Template left [SEP] in the note and "
                      "[MASK] here. Fields [PAD] and [UNK] were not filled. Plan: return in two weeks.")


@pytest.mark.parametrize("backend", ["nanotoken", "hf"])
def test_special_token_strings_in_text_are_tokenized_as_text(vocabs: dict[str, Path], backend: str) -> None:
    expected = megatron_style_ids(vocabs["big"], False, NOTE_WITH_LITERALS)
    assert not SPECIAL_IDS & set(expected)  # the reference reads "[CLS]" as "[", "CLS", "]"
    encoder = TextEncoder(vocabs["big"], False, backend, marks=(SENTENCE_MARK, DOCUMENT_MARK))
    assert encoder.encode_text(NOTE_WITH_LITERALS).tolist() == expected
    # The tokenizer object megatron-core's datasets hold tokenizes text the same way.
    assert MegatronWordPieceTokenizer(vocabs["big"]).tokenize(NOTE_WITH_LITERALS) == expected


def test_special_token_strings_never_become_control_ids_in_a_dataset(tmp_path: Path,
                                                                    vocabs: dict[str, Path]) -> None:
    corpus = tmp_path / "notes.jsonl"
    corpus.write_text(json.dumps({"text": NOTE_WITH_LITERALS}) + "\n", encoding="utf-8")
    prepare(tmp_path / "notes", [corpus], vocabs["big"])
    ids = all_ids(tmp_path / "notes").tolist()
    assert not SPECIAL_IDS & set(ids)
    assert ids == megatron_style_ids(vocabs["big"], False, NOTE_WITH_LITERALS)


# --- item 8: what a killed run left next to the output is removed -------------------------------


def test_leftovers_of_a_killed_run_are_removed(tmp_path: Path, vocabs: dict[str, Path],
                                               notes_file: Path) -> None:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True)
    dead = int(finished.stdout)  # a process that has ended: its files are leftovers
    prefix = tmp_path / "notes"
    leftovers = [tmp_path / f"notes.partial-{dead}.bin", tmp_path / f"notes.partial-{dead}.idx",
                 tmp_path / ".notes.stats.json.abc123.partial"]
    running = tmp_path / f"notes.partial-{os.getppid()}.bin"  # a live writer's file is not touched
    other = tmp_path / f"other.partial-{dead}.bin"  # another output's file is not touched
    for path in [*leftovers, running, other]:
        path.write_bytes(b"\0" * 64)
    prepare(prefix, [notes_file], vocabs["big"])
    assert not [p for p in leftovers if p.exists()]
    assert running.exists() and other.exists()


# --- item 10: a dead worker fails the run at once ---------------------------------------------


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = task / "children"
        if children.is_file():
            found.extend(int(c) for c in children.read_text().split())
    return found


def _run_with_workers(tmp_path: Path, vocab: Path, notes: Path) -> tuple[subprocess.Popen, list[int]]:
    """A two-worker run, once its first worker is up; its workers' pids."""
    command = [sys.executable, "-m", "data_prep", f"input={notes}", f"vocab={vocab}",
               f"output_prefix={tmp_path}/notes", "workers=2", "unit_mb=0.02"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd=Path(__file__).resolve().parents[1])
    deadline = time.monotonic() + 120
    while not (workers := _children(process.pid)) and process.poll() is None:
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("no worker started")
        time.sleep(0.02)
    return process, workers


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs /proc to find the workers")
def test_a_killed_worker_fails_the_run_with_one_line(tmp_path: Path, vocabs: dict[str, Path],
                                                     notes_corpus: dict[str, Path]) -> None:
    process, workers = _run_with_workers(tmp_path, vocabs["big"], notes_corpus["jsonl"])
    try:
        assert workers, "the run ended before a worker could be killed"
        os.kill(workers[0], signal.SIGKILL)
        _, stderr = process.communicate(timeout=60)  # multiprocessing.Pool waited here forever
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 2, stderr[-3000:]
    errors = [line for line in stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr[-2000:]
    assert f"worker process {workers[0]} was killed by SIGKILL" in errors[0]
    assert not Path(f"{tmp_path}/notes.idx").exists()


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs /proc to find the workers")
def test_the_workers_of_a_killed_run_end_with_it(tmp_path: Path, vocabs: dict[str, Path],
                                                 notes_corpus: dict[str, Path]) -> None:
    process, workers = _run_with_workers(tmp_path, vocabs["big"], notes_corpus["jsonl"])
    assert workers, "the run ended before it could be killed"
    watched = psutil.Process(process.pid).children()
    process.kill()
    alive = outlived(watched, 30)
    assert watched and not alive, f"workers outlived the killed run: {alive}"
    process.communicate(timeout=60)


# --- items 12 and 13: bad settings and vocabularies, before any work ----------------------------


@pytest.mark.parametrize(("setting", "value"), [
    ("unit_mb", 0), ("unit_mb", -1.0), ("batch_chars", 0), ("min_document_chars", 0),
    ("min_document_chars", -5), ("max_document_chars", 0), ("workers", -1),
])
def test_bad_settings_are_refused_before_any_work(tmp_path: Path, vocabs: dict[str, Path], setting: str,
                                                  value: float) -> None:
    # The input does not exist: the setting is named first, before any file is looked at.
    with pytest.raises(InputError, match=rf"^{setting}={value}"):
        prepare(tmp_path / "out" / "notes", [tmp_path / "missing.jsonl"], vocabs["big"], **{setting: value})
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("content", "message"), [
    (b"[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nword\nword\n", "duplicate token"),
    (b"\x00\x01binary", "binary file"),
    (b"[PAD]\nword\n", "no "),
])
def test_an_invalid_vocabulary_is_refused_before_any_work(tmp_path: Path, notes_file: Path, content: bytes,
                                                          message: str) -> None:
    vocab = tmp_path / "vocab"
    vocab.mkdir()
    (vocab / VOCAB_FILE).write_bytes(content)
    with pytest.raises(InputError, match=message):
        prepare(tmp_path / "out" / "notes", [notes_file], vocab)
    assert not (tmp_path / "out").exists()
