"""Running `python -m pretrain` from tests: data, command lines, and what a run recorded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from data_prep.build import build_dataset
from data_prep.config import DataPrepConfig
from synthetic.corpora.notes import generate_notes, write_notes_jsonl
from tokenizer.build import build_vocabulary
from tokenizer.config import TokenizerConfig

ROOT = Path(__file__).resolve().parents[1]


def overrides(data: dict[str, str], run: Path, **settings) -> list[str]:
    base = {"data.blend": data["blend"], "data.vocab": data["vocab"], "data.cache_dir": data["cache"],
            "data.split": "'90,10,0'", "checkpoint.dir": str(run), "train.micro_batch_size": 4,
            "train.global_batch_size": 8, "train.lr": 1e-3, "train.lr_warmup_fraction": 0,
            "train.lr_decay_iters": 40,  # one schedule for every run: resumed runs keep the saved one
            "logging.log_interval": 1, "model.hidden_dropout": 0, "model.attention_dropout": 0}
    base.update(settings)
    return [f"{key}={value}" for key, value in base.items()]


def launch(data: dict[str, str], run: Path, processes: int = 1, **settings) -> subprocess.Popen:
    command = [sys.executable, "-m", "pretrain", *overrides(data, run, **settings)]
    if processes > 1:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   f"--nproc-per-node={processes}", "-m", "pretrain", *overrides(data, run, **settings)]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def pretrain(data: dict[str, str], run: Path, processes: int = 1, **settings) -> list[dict]:
    """Run to completion; return the metrics of every step this run made."""
    before = len(metrics(run))
    process = launch(data, run, processes, **settings)
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output[-4000:]
    return metrics(run)[before:]


def metrics(run: Path, split: str = "train") -> list[dict]:
    """The run's records of training steps (or of validations)."""
    path = run / "metrics.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []
    return [r for r in records if ("valid lm loss" in r) == (split == "valid")]


def losses(records: list[dict]) -> list[float]:
    return [r["lm loss"] + r["sop loss"] for r in records]


def make_pretrain_data(root: Path) -> dict[str, str]:
    """A vocabulary and an indexed dataset of ~1.2 MB of synthetic notes under `root`."""
    corpus = root / "notes.jsonl"
    write_notes_jsonl(corpus, generate_notes(seed=61, target_bytes=1_200_000))
    vocab = str(root / "vocab")
    build_vocabulary(TokenizerConfig(input=[str(corpus)], output_dir=vocab, vocab_size=3000, workers=1))
    build_dataset(DataPrepConfig(input=str(corpus), vocab=vocab, output_prefix=str(root / "notes")))
    return {"blend": str(root / "notes"), "vocab": str(root / "vocab"), "cache": str(root / "cache")}
