"""Blend files → normalized weights and Megatron's data-path list, checked against the datasets,
and accepted by megatron-core's BlendedMegatronDatasetBuilder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from data_prep.blend import load_blend
from data_prep.build import build_dataset
from data_prep.config import DataPrepConfig
from gatortron_common.logging import InputError
from synthetic.corpora.notes import generate_notes, write_notes_jsonl
from tokenizer.build import build_vocabulary
from tokenizer.config import TokenizerConfig
from tokenizer.megatron_adapter import MegatronWordPieceTokenizer


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory, notes_corpus: dict[str, Path]) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("blend")
    vocab = root / "vocab"
    build_vocabulary(TokenizerConfig(input=[str(notes_corpus["tsv"])], output_dir=str(vocab), vocab_size=2000,
                                     workers=1))
    prefixes = {}
    for name, seed, size in (("big", 51, 200_000), ("small", 52, 50_000)):
        corpus = root / f"{name}.jsonl"
        write_notes_jsonl(corpus, generate_notes(seed=seed, target_bytes=size))
        build_dataset(DataPrepConfig(input=str(corpus), vocab=str(vocab), output_prefix=str(root / name)))
        prefixes[name] = root / name
    other_vocab = root / "other_vocab"
    build_vocabulary(TokenizerConfig(input=[str(notes_corpus["tsv"])], output_dir=str(other_vocab),
                                     vocab_size=1500, workers=1))
    build_dataset(DataPrepConfig(input=str(root / "small.jsonl"), vocab=str(other_vocab),
                                 output_prefix=str(root / "other")))
    prefixes["other"], prefixes["vocab"] = root / "other", vocab
    return prefixes


def write_blend(path: Path, corpora: list[dict]) -> Path:
    path.write_text(json.dumps({"corpora": corpora}), encoding="utf-8")  # JSON is YAML
    return path


def test_weights_are_normalized_and_interleaved(tmp_path: Path, datasets: dict[str, Path]) -> None:
    blend = load_blend(write_blend(tmp_path / "b.yaml", [
        {"name": "notes", "prefix": str(datasets["big"]), "weight": 3},
        {"name": "more", "prefix": str(datasets["small"]), "weight": 1}]))
    assert blend.weights == [0.75, 0.25]
    assert blend.data_path == ["0.75", str(datasets["big"]), "0.25", str(datasets["small"])]
    unweighted = [{"name": "notes", "prefix": str(datasets["big"])},
                  {"name": "more", "prefix": str(datasets["small"])}]
    by_tokens = load_blend(write_blend(tmp_path / "t.yaml", unweighted))
    assert by_tokens.weights == pytest.approx([t / sum(by_tokens.tokens) for t in by_tokens.tokens])
    assert by_tokens.tokens[0] > 2 * by_tokens.tokens[1]


@pytest.mark.parametrize(("corpora", "message"), [
    ([], "lists no corpora"),
    ([{"name": "a", "prefix": "/nowhere/x"}], "a: /nowhere/x is not a complete dataset"),
    ([{"name": "a", "prefix": "BIG", "weight": 1}, {"name": "b", "prefix": "SMALL"}], "for every corpus"),
    ([{"name": "a", "prefix": "BIG", "weight": -1}], "positive"),
    ([{"name": "a", "prefix": "BIG"}, {"name": "a", "prefix": "SMALL"}], "names repeat"),
    ([{"name": "a", "prefix": "BIG"}, {"name": "b", "prefix": "OTHER"}], "vocabulary mismatch"),
    ([{"name": "a", "prefix": "BIG", "weigth": 1}], "not a blend file"),
])
def test_bad_blend_files_are_named(tmp_path: Path, datasets: dict[str, Path], corpora: list[dict],
                                   message: str) -> None:
    names = {"BIG": datasets["big"], "SMALL": datasets["small"], "OTHER": datasets["other"]}
    for corpus in corpora:
        corpus["prefix"] = str(names.get(corpus["prefix"], corpus["prefix"]))
    with pytest.raises(InputError, match=message):
        load_blend(write_blend(tmp_path / "bad.yaml", corpora))


def test_megatron_builds_bert_samples_from_the_blend(tmp_path: Path, datasets: dict[str, Path]) -> None:
    from megatron.core.datasets.bert_dataset import (
        BERTMaskedWordPieceDataset,
        BERTMaskedWordPieceDatasetConfig,
    )
    from megatron.core.datasets.blended_megatron_dataset_builder import BlendedMegatronDatasetBuilder

    corpora = [{"name": "notes", "prefix": str(datasets["big"]), "weight": 1},
               {"name": "more", "prefix": str(datasets["small"]), "weight": 1}]
    blend_file = write_blend(tmp_path / "b.yaml", corpora)
    out = tmp_path / "blend.json"
    result = subprocess.run([sys.executable, "-m", "data_prep.blend", f"blend={blend_file}", f"output={out}"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "data_path: 0.5" in result.stderr
    saved = json.loads(out.read_text())
    torch.distributed.init_process_group("gloo", init_method=f"file://{tmp_path}/pg", rank=0, world_size=1)
    try:
        config = BERTMaskedWordPieceDatasetConfig(
            random_seed=1, sequence_length=64, blend=(saved["prefixes"], saved["weights"]), split="80,20,0",
            path_to_cache=str(tmp_path / "cache"), tokenizer=MegatronWordPieceTokenizer(datasets["vocab"]),
            masking_probability=0.15, short_sequence_probability=0.1, masking_max_ngram=3,
            masking_do_full_word=True, masking_do_permutation=False, masking_use_longer_ngrams=False,
            masking_use_geometric_distribution=False, classification_head=True)
        train, _, _ = BlendedMegatronDatasetBuilder(BERTMaskedWordPieceDataset, [200, 2, 0], lambda: True,
                                                    config).build()
        # Equal weights: about half of the samples come from each corpus.
        from_first = sum(int(d) == 0 for d in train.dataset_index[:200])
        assert 70 < from_first < 130
    finally:
        torch.distributed.destroy_process_group()


@pytest.mark.parametrize(("text", "message"), [
    ("corpora:\n  - name: a\n    prefix: [unclosed\n", r"bad\.yaml:4: not valid YAML"),
    ("corpora:\n\t- name: a\n", r"bad\.yaml:2: not valid YAML"),
    ("- just\n- a list\n", "not a blend file"),
    ("corpora: 5\n", "not a blend file"),
])
def test_malformed_blend_yaml_is_one_line_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message) as error:
        load_blend(path)
    assert "unclosed" not in str(error.value) and "\n" not in str(error.value)
