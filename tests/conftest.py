"""Shared fixtures: small synthetic corpora, generated once per test session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

# pytest puts this folder on sys.path before importing conftest: the test helper modules import from it.
from pretrain_runs import make_pretrain_data

from gatortron_common.cpus import usable_cpus
from synthetic.corpora.notes import generate_notes, write_notes_delimited, write_notes_jsonl

# Modules whose tests pretrain, fine-tune, export, run Slurm or whole commands in subprocesses: `make
# test-fast` (`-m "not slow"`) leaves them out for the edit loop; `make test` and CI run everything.
SLOW_MODULES = frozenset((
    "test_demo", "test_slurm", "test_pretrain", "test_pretrain_robustness", "test_pretrain_kernels",
    "test_pretrain_structure", "test_export", "test_finetune_train", "test_finetune_outputs",
    "test_finetune_windows", "test_finetune_robustness", "test_inference_memory", "test_phi_in_errors",
    "test_entry_points", "test_data_prep_parallel", "test_data_prep_robustness", "test_deid_tool",
    "test_tokenizer_memory", "test_tokenizer_robustness", "test_settings", "test_relations",
    "test_sentence_pairs", "test_qa"))


# The longest modules, longest first: `make test` runs modules in parallel (pytest-xdist, a module per
# worker at a time, so its fixtures are made once), and starting these first lets the workers end together.
LONGEST_MODULES = ("test_pretrain", "test_demo", "test_slurm", "test_export", "test_finetune_train",
                   "test_qa", "test_relations", "test_sentence_pairs", "test_phi_in_errors",
                   "test_pretrain_robustness", "test_finetune_outputs")


def _module_name(item: pytest.Item) -> str:
    return item.module.__name__.rpartition(".")[2] if item.module is not None else ""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _module_name(item) in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
    rank = {name: number for number, name in enumerate(LONGEST_MODULES)}
    items.sort(key=lambda item: rank.get(_module_name(item), len(rank)))  # stable: in-module order kept


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: a worker per usable core, counted as every stage counts them (Slurm, affinity)."""
    return usable_cpus()


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # A worker per core: torch's threads in one worker would fight the others' (fine-tuning ran 4x
        # slower with two threads in each of two workers on 2 cores). Commands the tests start inherit it.
        os.environ["OMP_NUM_THREADS"] = "1"
        torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _restore_umask() -> Iterator[None]:
    """Stages run in-process narrow the umask to their inputs' permissions (outputs no more readable
    than inputs); each test starts from the umask the session had."""
    mask = os.umask(0o022)
    os.umask(mask)
    yield
    os.umask(mask)


@pytest.fixture(scope="session")
def notes_corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """~1.5 MB of synthetic notes as TSV, CSV, JSONL and blank-line separated plain text."""
    directory = tmp_path_factory.mktemp("notes")
    notes = list(generate_notes(seed=11, target_bytes=1_500_000))
    paths = {"tsv": directory / "notes.tsv", "csv": directory / "notes.csv",
             "jsonl": directory / "notes.jsonl", "text": directory / "notes.txt"}
    write_notes_delimited(paths["tsv"], notes, "\t")
    write_notes_delimited(paths["csv"], notes, ",")
    write_notes_jsonl(paths["jsonl"], notes)
    paths["text"].write_text("\n\n".join(n.text.strip("\n") for n in notes) + "\n", encoding="utf-8")
    return paths


@pytest.fixture(scope="session")
def heldout_notes() -> list[str]:
    """Notes from another seed: text no vocabulary in the tests was built from."""
    return [n.text for n in generate_notes(seed=99, target_bytes=60_000)]


@pytest.fixture(scope="session")
def pretrain_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Vocabulary and indexed dataset for pretraining runs (shared by pretrain and export tests)."""
    return make_pretrain_data(tmp_path_factory.mktemp("pretrain_data"))
