"""Bounded memory: peak RSS does not grow when the corpus grows 10x (sampling + bounded tables)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from synthetic.corpora.notes import generate_notes, write_notes_jsonl

MEASURE = """
import json, resource, sys
from tokenizer.build import build_vocabulary
from tokenizer.config import TokenizerConfig
cfg = TokenizerConfig(input=[sys.argv[1]], output_dir=sys.argv[2], vocab_size=4000, algorithm=sys.argv[3],
                      sample_bytes=1_500_000, heldout_bytes=100_000, workers=2)
report = build_vocabulary(cfg)
peak_kb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
              resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(json.dumps({"peak_mb": peak_kb / 1024, "read": report["corpus"]["chars_read"],
                  "trained": report["corpus"]["train_chars"]}))
"""


@pytest.fixture(scope="module")
def small_and_large(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    directory = tmp_path_factory.mktemp("memory")
    small, large = directory / "small.jsonl", directory / "large.jsonl"
    write_notes_jsonl(small, generate_notes(seed=1, target_bytes=3_000_000))
    write_notes_jsonl(large, generate_notes(seed=2, target_bytes=30_000_000))
    return small, large


def peak(corpus: Path, out: Path, algorithm: str) -> dict:
    result = subprocess.run([sys.executable, "-c", MEASURE, str(corpus), str(out), algorithm],
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", ["wordpiece", "sentencepiece_bpe"])
def test_peak_memory_flat_on_10x_corpus(small_and_large: tuple[Path, Path], tmp_path: Path,
                                        algorithm: str) -> None:
    small, large = (peak(corpus, tmp_path / corpus.stem, algorithm) for corpus in small_and_large)
    assert large["read"] > 9 * small["read"]  # the large corpus was read through
    assert large["trained"] < 1.5 * small["trained"]  # but sampled to the same budget
    # Reading the 30 MB corpus into memory, or an unbounded word table, adds far more than this.
    assert large["peak_mb"] - small["peak_mb"] < 15, (small, large)
