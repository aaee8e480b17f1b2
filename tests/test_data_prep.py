"""data_prep end to end on synthetic notes: the .bin/.idx round trip through megatron-core,
dedup, bad input, atomic output, and BERT samples built with the tokenizer adapter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy
import pytest
import torch
from megatron.core.datasets.indexed_dataset import IndexedDataset

from data_prep.build import build_dataset
from data_prep.clean import clean_document
from data_prep.config import DataPrepConfig
from data_prep.sentences import ClinicalSentenceSplitter
from gatortron_common.logging import InputError
from synthetic.corpora.notes import generate_notes, write_notes_jsonl
from tokenizer.build import build_vocabulary
from tokenizer.config import TokenizerConfig
from tokenizer.megatron_adapter import MegatronWordPieceTokenizer


@pytest.fixture(scope="module")
def vocab_dir(tmp_path_factory: pytest.TempPathFactory, notes_corpus: dict[str, Path]) -> Path:
    directory = tmp_path_factory.mktemp("dp_vocab") / "vocab"
    build_vocabulary(TokenizerConfig(input=[str(notes_corpus["tsv"])], output_dir=str(directory),
                                     vocab_size=3000, workers=1))
    return directory


def prepare(tmp: Path, inputs: list[Path], vocab: Path, **overrides) -> tuple[str, dict]:
    prefix = str(tmp / "out" / "notes")
    cfg = DataPrepConfig(input=[str(p) for p in inputs], vocab=str(vocab), output_prefix=prefix, **overrides)
    return prefix, build_dataset(cfg)


def test_round_trip_sentences_and_document_boundaries(tmp_path: Path, vocab_dir: Path) -> None:
    notes = list(generate_notes(seed=21, target_bytes=150_000))
    corpus = tmp_path / "notes.jsonl"
    write_notes_jsonl(corpus, notes)
    prefix, stats = prepare(tmp_path, [corpus], vocab_dir)
    backend = MegatronWordPieceTokenizer(vocab_dir)
    splitter = ClinicalSentenceSplitter()
    expected = [[backend.tokenize(s) for s in splitter.split(clean_document(n.text, "NFKC"))] for n in notes]
    dataset = IndexedDataset(prefix)
    assert dataset.index.dtype == numpy.uint16
    boundaries = dataset.document_indices
    assert len(boundaries) - 1 == len(notes) == stats["documents"]
    got = [[dataset[i].tolist() for i in range(boundaries[d], boundaries[d + 1])] for d in range(len(notes))]
    assert got == expected
    assert stats["sentences"] == len(dataset) and stats["tokens"] == sum(len(s) for d in got for s in d)
    saved = json.loads(Path(prefix + ".stats.json").read_text())
    assert saved["documents"] == len(notes) and saved["skipped"]["total"] == 0


def test_duplicates_short_and_bad_records_are_counted(tmp_path: Path, vocab_dir: Path) -> None:
    corpus = tmp_path / "notes.jsonl"
    secret = "Zelda Secretname"
    good = "HISTORY OF PRESENT ILLNESS: Patient seen by Dr. Lee for chest pain. BP 120/80."
    lines = [json.dumps({"text": good}), json.dumps({"text": good + "  "}), json.dumps({"text": "ok"}),
             "{broken " + secret, json.dumps({"text": "Second note about " + secret + ". Stable."})]
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    prefix, stats = prepare(tmp_path, [corpus], vocab_dir)
    assert stats["documents"] == 2
    assert stats["skipped"]["by_reason"] == {"duplicate": 1, "shorter_than_min_document_chars": 1,
                                             "malformed_json": 1}
    assert f"{corpus}:4" in stats["skipped"]["examples"]["malformed_json"]
    assert secret not in Path(prefix + ".stats.json").read_text()
    _, kept = prepare(tmp_path, [corpus], vocab_dir, dedup=False, overwrite=True)
    assert kept["documents"] == 3


def test_failed_run_leaves_no_dataset(tmp_path: Path, vocab_dir: Path) -> None:
    corpus = tmp_path / "empty.jsonl"
    corpus.write_text(json.dumps({"text": ""}) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="nothing to write"):
        prepare(tmp_path, [corpus], vocab_dir)
    assert not list((tmp_path / "out").glob("*"))
    with pytest.raises(InputError, match="no vocab.txt"):
        prepare(tmp_path, [corpus], tmp_path)


def test_pubmed_and_wikipedia_sources(tmp_path: Path, vocab_dir: Path) -> None:
    from synthetic.corpora.pubmed import write_pubmed_baseline
    from synthetic.corpora.wikipedia import write_wikipedia_dump
    pubmed = tmp_path / "pubmed26n0001.xml.gz"
    wiki = tmp_path / "enwiki-20260101-pages-articles1.xml.bz2"
    write_pubmed_baseline(pubmed, seed=1, n_articles=40)
    write_wikipedia_dump(wiki, seed=1, n_pages=30)
    _, from_pubmed = prepare(tmp_path / "p", [pubmed], vocab_dir, source="pubmed")
    _, from_wiki = prepare(tmp_path / "w", [wiki], vocab_dir, source="wikipedia")
    assert from_pubmed["documents"] > 20 and from_pubmed["sentences"] > 2 * from_pubmed["documents"]
    assert from_wiki["documents"] > 10 and from_wiki["skipped"]["by_reason"].get("redirect", 0) > 0


def test_bert_dataset_builds_samples_with_the_tokenizer_adapter(tmp_path: Path, vocab_dir: Path,
                                                                notes_corpus: dict[str, Path]) -> None:
    from megatron.core.datasets.bert_dataset import (
        BERTMaskedWordPieceDataset,
        BERTMaskedWordPieceDatasetConfig,
    )
    from megatron.core.datasets.blended_megatron_dataset_builder import BlendedMegatronDatasetBuilder

    prefix, _ = prepare(tmp_path, [notes_corpus["tsv"]], vocab_dir)
    adapter = MegatronWordPieceTokenizer(vocab_dir)
    torch.distributed.init_process_group("gloo", init_method=f"file://{tmp_path}/pg", rank=0, world_size=1)
    try:
        config = BERTMaskedWordPieceDatasetConfig(
            random_seed=1234, sequence_length=128, blend=([prefix], None), split="90,10,0",
            path_to_cache=str(tmp_path / "cache"), tokenizer=adapter, masking_probability=0.15,
            short_sequence_probability=0.1, masking_max_ngram=3, masking_do_full_word=True,
            masking_do_permutation=False, masking_use_longer_ngrams=False,
            masking_use_geometric_distribution=False, classification_head=True)
        train, valid, _ = BlendedMegatronDatasetBuilder(BERTMaskedWordPieceDataset, [64, 8, 0],
                                                        lambda: True, config).build()
        sample = train[0]
        assert sample["text"].shape == (128,) and sample["text"][0] == adapter.cls
        assert adapter.sep in sample["text"].tolist()
        masked = sample["labels"] != -1
        assert masked.any() and int(sample["is_random"]) in (0, 1)
        assert (sample["text"][sample["padding_mask"] == 0] == adapter.pad).all()
        assert len(train) >= 64 and len(valid) >= 8  # megatron-core builds at least the samples asked for
    finally:
        torch.distributed.destroy_process_group()


def test_command_line(tmp_path: Path, vocab_dir: Path, notes_corpus: dict[str, Path]) -> None:
    result = subprocess.run([sys.executable, "-m", "data_prep", f"input={notes_corpus['csv']}",
                             f"vocab={vocab_dir}", f"output_prefix={tmp_path}/d/notes"],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "d" / "notes.idx").is_file() and "sentences" in result.stderr
    missing = subprocess.run([sys.executable, "-m", "data_prep", f"vocab={vocab_dir}",
                              f"output_prefix={tmp_path}/x"], capture_output=True, text=True, cwd=tmp_path)
    assert missing.returncode == 2 and "missing required setting input" in missing.stderr


@pytest.fixture(scope="module")
def three_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three JSONL files; the first note of file 0 appears again in file 2 (a cross-shard duplicate)."""
    directory = tmp_path_factory.mktemp("shards_in")
    notes = list(generate_notes(seed=33, target_bytes=120_000))
    parts = [notes[0::3], notes[1::3], notes[2::3] + [notes[0]]]
    paths = [directory / f"part{i}.jsonl" for i in range(3)]
    for path, part in zip(paths, parts, strict=True):
        write_notes_jsonl(path, part)
    return paths


def test_shards_merged_equal_a_single_run_byte_for_byte(tmp_path: Path, vocab_dir: Path,
                                                         three_files: list[Path]) -> None:
    from data_prep.merge import MergeConfig, merge_datasets

    single, single_stats = prepare(tmp_path / "single", three_files, vocab_dir)
    assert single_stats["skipped"]["by_reason"] == {"duplicate": 1}
    prefix = str(tmp_path / "sharded" / "notes")
    for index in range(2):
        build_dataset(DataPrepConfig(input=[str(p) for p in three_files], vocab=str(vocab_dir),
                                     output_prefix=prefix, shard_index=index, shard_count=2))
    merged = merge_datasets(MergeConfig(inputs=f"{prefix}_shard*", output_prefix=str(tmp_path / "merged")))
    for suffix in ("bin", "idx", "hashes.npy"):
        assert (tmp_path / f"merged.{suffix}").read_bytes() == Path(f"{single}.{suffix}").read_bytes(), suffix
    assert merged["skipped"]["by_reason"]["duplicate_across_shards"] == 1
    assert merged["documents"] == single_stats["documents"]


def test_rerun_skips_complete_shards_and_redoes_killed_ones(tmp_path: Path, vocab_dir: Path,
                                                           three_files: list[Path],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = str(tmp_path / "notes")
    inputs = [str(p) for p in three_files]
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "3")
    monkeypatch.setenv("SLURM_ARRAY_TASK_MIN", "1")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "1")  # the first task of --array=1-3 is shard 0
    first = build_dataset(DataPrepConfig(input=inputs, vocab=str(vocab_dir), output_prefix=prefix))
    shard0 = Path(f"{prefix}_shard00000of00003.idx")
    assert first["shard"] == {"index": 0, "count": 3} and shard0.is_file()
    # A killed shard 1: its .bin was being written, no .idx yet.
    killed = Path(f"{prefix}_shard00001of00003.bin")
    killed.write_bytes(b"\0" * 100)
    stamp = shard0.stat().st_mtime_ns
    again = build_dataset(DataPrepConfig(input=inputs, vocab=str(vocab_dir), output_prefix=prefix))
    assert again == first and shard0.stat().st_mtime_ns == stamp
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "2")
    redone = build_dataset(DataPrepConfig(input=inputs, vocab=str(vocab_dir), output_prefix=prefix))
    assert redone["documents"] > 0
    assert len(IndexedDataset(f"{prefix}_shard00001of00003")) == redone["sentences"]
    from data_prep.merge import MergeConfig, merge_datasets
    with pytest.raises(InputError, match="shard00002of00003: matches no dataset|incomplete"):
        merge_datasets(MergeConfig(inputs=[f"{prefix}_shard00000of00003", f"{prefix}_shard00002of00003"],
                                   output_prefix=str(tmp_path / "m")))


def test_files_equal_megatron_cores_own_builder(tmp_path: Path, vocab_dir: Path,
                                                notes_corpus: dict[str, Path]) -> None:
    """Our bulk writer and vectorized index writer give the bytes megatron-core's builder gives."""
    from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

    prefix, _ = prepare(tmp_path, [notes_corpus["jsonl"]], vocab_dir)
    dataset = IndexedDataset(prefix)
    builder = IndexedDatasetBuilder(str(tmp_path / "megatron.bin"), dtype=dataset.index.dtype)
    bounds = dataset.document_indices
    for document in range(len(bounds) - 1):
        sentences = [dataset[i] for i in range(bounds[document], bounds[document + 1])]
        builder.add_document(numpy.concatenate(sentences), [len(s) for s in sentences])
    builder.finalize(str(tmp_path / "megatron.idx"))
    for suffix in ("bin", "idx"):
        assert (tmp_path / f"megatron.{suffix}").read_bytes() == Path(f"{prefix}.{suffix}").read_bytes()
