"""The vocabulary stage end to end on synthetic notes: both algorithms, casing, HF loading,
report, sampling bound, bad inputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from transformers import AutoTokenizer, BertTokenizer

from gatortron_common.logging import InputError
from tokenizer.build import build_vocabulary
from tokenizer.config import TokenizerConfig
from tokenizer.megatron_adapter import MegatronWordPieceTokenizer
from tokenizer.vocab import bert_header, load_vocabulary

VOCAB_SIZE = 3000
ROOT = Path(__file__).resolve().parents[1]


def build(tmp: Path, corpus: Path | list, name: str, **overrides) -> tuple[Path, dict]:
    settings = {"vocab_size": VOCAB_SIZE, "workers": 2, **overrides}
    cfg = TokenizerConfig(input=[str(corpus)] if isinstance(corpus, Path) else corpus,
                          output_dir=str(tmp / name), **settings)
    return tmp / name, build_vocabulary(cfg)


@pytest.fixture(scope="module")
def vocabularies(tmp_path_factory: pytest.TempPathFactory, notes_corpus: dict[str, Path]) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("vocab")
    built = {}
    for algorithm in ("wordpiece", "sentencepiece_bpe"):
        for lowercase in (False, True):
            name = f"{algorithm}_{'uncased' if lowercase else 'cased'}"
            built[name], _ = build(tmp, notes_corpus["tsv"], name, algorithm=algorithm, lowercase=lowercase)
    return built


@pytest.mark.parametrize("name", ["wordpiece_cased", "wordpiece_uncased", "sentencepiece_bpe_cased",
                                  "sentencepiece_bpe_uncased"])
def test_vocab_header_and_hf_ids_match_plain_bert_tokenizer(vocabularies: dict[str, Path], name: str,
                                                            heldout_notes: list[str]) -> None:
    directory = vocabularies[name]
    tokens = list(load_vocabulary(directory).tokens)
    assert tokens[:104] == bert_header()
    assert len(tokens) == len(set(tokens)) == VOCAB_SIZE
    lowercase = name.endswith("uncased")
    auto = AutoTokenizer.from_pretrained(str(directory))
    plain = BertTokenizer(vocab=str(directory / "vocab.txt"), do_lower_case=lowercase)
    assert auto.is_fast and auto.init_kwargs["do_lower_case"] == lowercase
    assert (auto.pad_token_id, auto.unk_token_id, auto.cls_token_id, auto.sep_token_id,
            auto.mask_token_id) == (0, 100, 101, 102, 103)
    encoded = auto(heldout_notes)["input_ids"]
    assert encoded == plain(heldout_notes)["input_ids"]
    ids = [i for row in encoded for i in row]
    assert ids.count(auto.unk_token_id) / len(ids) < 0.001  # the alphabet covers the notes
    report = json.loads((directory / "report.json").read_text())
    assert report["vocab_size"] == VOCAB_SIZE and report["lowercase"] == lowercase
    assert report["padded_vocab_size"] == {"tp1": 3072, "tp2": 3072, "tp4": 3072, "tp8": 3072}
    quality = report["heldout_quality"]
    assert quality["words"] > 1000 and 1.0 < quality["fertility"] < 2.0
    assert 0.5 < quality["whole_word_share"] < 1.0


@pytest.mark.parametrize("algorithm", ["wordpiece", "sentencepiece_bpe"])
def test_cased_and_uncased_behaviour(vocabularies: dict[str, Path], algorithm: str) -> None:
    cased = AutoTokenizer.from_pretrained(str(vocabularies[f"{algorithm}_cased"]))
    uncased = AutoTokenizer.from_pretrained(str(vocabularies[f"{algorithm}_uncased"]))
    uncased_tokens = load_vocabulary(vocabularies[f"{algorithm}_uncased"]).tokens[104:]
    assert not any(t != t.lower() for t in uncased_tokens)
    assert any(t != t.lower() for t in load_vocabulary(vocabularies[f"{algorithm}_cased"]).tokens[104:])
    text = "HISTORY OF PRESENT ILLNESS: Patient denies chest pain."
    assert uncased(text)["input_ids"] == uncased(text.lower())["input_ids"]
    assert cased(text)["input_ids"] != cased(text.lower())["input_ids"]
    assert uncased("caf\u00e9")["input_ids"] == uncased("cafe")["input_ids"]  # accents stripped


def test_frequent_clinical_words_are_whole_tokens(vocabularies: dict[str, Path]) -> None:
    tokenizer = AutoTokenizer.from_pretrained(str(vocabularies["wordpiece_cased"]))
    for word in ("patient", "mg", "HISTORY"):
        assert len(tokenizer.tokenize(word)) == 1, word


def test_sample_budget_bounds_the_training_text(tmp_path: Path, notes_corpus: dict[str, Path]) -> None:
    _, full = build(tmp_path, notes_corpus["jsonl"], "full")
    _, sampled = build(tmp_path, notes_corpus["jsonl"], "sampled", sample_bytes=300_000)
    assert full["corpus"]["documents_read"] == sampled["corpus"]["documents_read"]
    assert 200_000 < sampled["corpus"]["train_chars"] < 400_000
    assert full["corpus"]["train_chars"] > 3 * sampled["corpus"]["train_chars"]
    assert sampled["corpus"]["heldout_chars"] > 0
    reads = full["corpus"]["train_chars"] + full["corpus"]["heldout_chars"]
    assert reads == full["corpus"]["chars_read"]  # held-out text is never trained on


def test_same_seed_same_vocabulary_across_formats(tmp_path: Path, notes_corpus: dict[str, Path]) -> None:
    a, _ = build(tmp_path, notes_corpus["tsv"], "a", sample_bytes=500_000)
    b, _ = build(tmp_path, notes_corpus["csv"], "b", sample_bytes=500_000)
    c, _ = build(tmp_path, notes_corpus["tsv"], "c", sample_bytes=500_000, seed=7)
    assert (a / "vocab.txt").read_text() == (b / "vocab.txt").read_text()
    assert (a / "vocab.txt").read_text() != (c / "vocab.txt").read_text()


def test_megatron_adapter_exposes_the_dataset_interface(vocabularies: dict[str, Path]) -> None:
    directory = vocabularies["wordpiece_cased"]
    adapter = MegatronWordPieceTokenizer(directory)
    assert (adapter.pad, adapter.unk, adapter.cls, adapter.sep, adapter.mask) == (0, 100, 101, 102, 103)
    assert adapter.vocab_size == VOCAB_SIZE and adapter.inv_vocab[101] == "[CLS]"
    assert adapter.vocab["[MASK]"] == 103
    text = "Metoprolol 25 mg p.o. b.i.d."
    plain = BertTokenizer(vocab=str(directory / "vocab.txt"), do_lower_case=False)
    assert adapter.tokenize(text) == plain(text, add_special_tokens=False)["input_ids"]
    other = MegatronWordPieceTokenizer(vocabularies["sentencepiece_bpe_cased"])
    assert adapter.unique_identifiers != other.unique_identifiers


def test_missing_input_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        build(tmp_path, tmp_path / "nope.tsv", "out")
    assert not (tmp_path / "out").exists()


def test_empty_corpus_is_a_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"text": ""}\n{"text": "  "}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"empty corpus.*2 record\(s\) skipped"):
        build(tmp_path, empty, "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("algorithm", ["wordpiece", "sentencepiece_bpe"])
def test_vocab_too_small_for_alphabet_is_a_clear_error(tmp_path: Path, notes_corpus: dict[str, Path],
                                                       algorithm: str) -> None:
    with pytest.raises(InputError, match="smaller than the header"):
        build(tmp_path, notes_corpus["jsonl"], "out", vocab_size=150, algorithm=algorithm)
    assert not (tmp_path / "out").exists()


def test_command_line_reports_errors_without_traceback(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "tokenizer", f"input={tmp_path}/missing.tsv",
                             f"output_dir={tmp_path}/out"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2
    assert "missing.tsv: no such file" in result.stderr and "Traceback" not in result.stderr


def test_command_line_builds_a_vocabulary(tmp_path: Path, notes_corpus: dict[str, Path]) -> None:
    result = subprocess.run([sys.executable, "-m", "tokenizer", f"input={notes_corpus['text']}",
                             f"output_dir={tmp_path}/vocab", "vocab_size=2000", "lowercase=true"],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "held-out quality: fertility" in result.stderr
    assert json.loads((tmp_path / "vocab" / "report.json").read_text())["vocab_size"] == 2000
    assert not (tmp_path / "outputs").exists() and not (tmp_path / ".hydra").exists()
