"""Each setting is stated once: its default and documentation live in the command's settings
dataclass, the YAML under configs/ sets only what differs from it, and `--help` prints the defaults
with their documentation."""

from __future__ import annotations

import gatortron_common.environment  # noqa: F401  before torch and transformers are imported

import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from finetune.deid.detectors import RULE_NAMES
from gatortron_common.settings import documented_defaults, settings_help

CONFIGS = Path(__file__).parents[1] / "configs"
# Every command's YAML -> (module defining its settings dataclass, the dataclass, the command).
STAGES = {
    "tokenizer/default.yaml": ("tokenizer.config", "TokenizerConfig", "tokenizer"),
    "data_prep/default.yaml": ("data_prep.config", "DataPrepConfig", "data_prep"),
    "data_prep/merge.yaml": ("data_prep.merge", "MergeConfig", "data_prep.merge"),
    "data_prep/blend.yaml": ("data_prep.blend", "BlendConfig", "data_prep.blend"),
    "pretrain/default.yaml": ("pretrain.config", "PretrainConfig", "pretrain"),
    "pretrain/hf/export.yaml": ("pretrain.to_hf", "ExportConfig", "pretrain.export"),
    "pretrain/hf/fill_mask.yaml": ("pretrain.fill_mask", "FillMaskConfig", "pretrain.fill_mask"),
    "pretrain/hf/import_hf.yaml": ("pretrain.from_hf", "ImportConfig", "pretrain.import_hf"),
    "finetune/train.yaml": ("finetune.training.config", "FinetuneConfig", "finetune"),
    "finetune/evaluate.yaml": ("finetune.evaluate", "EvaluateConfig", "finetune.evaluate"),
    "finetune/deid.yaml": ("finetune.deid.tool", "DeidConfig", "finetune.deid"),
    "finetune/predict.yaml": ("finetune.predict", "PredictConfig", "finetune.predict"),
    "finetune/convert.yaml": ("finetune.convert", "ConvertConfig", "finetune.convert"),
    "finetune/relations.yaml": ("finetune.relations.train", "RelationTrainConfig", "finetune.relations"),
    "finetune/relations_predict.yaml": ("finetune.relations.predict", "RelationPredictConfig",
                                        "finetune.relations.predict"),
    "finetune/pairs.yaml": ("finetune.pairs.train", "PairTrainConfig", "finetune.pairs"),
    "finetune/pairs_predict.yaml": ("finetune.pairs.predict", "PairPredictConfig", "finetune.pairs.predict"),
    "finetune/qa.yaml": ("finetune.qa.train", "QaTrainConfig", "finetune.qa"),
    "finetune/qa_predict.yaml": ("finetune.qa.predict", "QaPredictConfig", "finetune.qa.predict"),
    "synthetic/corpora.yaml": ("synthetic.corpora.config", "SyntheticCorporaConfig", "synthetic.corpora"),
    "synthetic/annotated.yaml": ("synthetic.annotated.config", "AnnotatedCorporaConfig",
                                 "synthetic.annotated"),
}
# Config groups: presets chosen on the command line (model=gatortron_base, task=i2b2_2010), not commands.
GROUPS = ("pretrain/model", "finetune/task")


def _schema(rel: str) -> type:
    module, name, _ = STAGES[rel]
    return getattr(importlib.import_module(module), name)


def _leaves(node: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(node, dict) or not node:
        return {prefix.rstrip("."): node}
    found: dict[str, Any] = {}
    for key, value in node.items():
        found.update(_leaves(value, f"{prefix}{key}."))
    return found


def test_every_command_yaml_is_known() -> None:
    yamls = {str(path.relative_to(CONFIGS)) for path in CONFIGS.rglob("*.yaml")
             if not str(path.relative_to(CONFIGS)).startswith(GROUPS)}
    assert yamls == set(STAGES)


@pytest.mark.parametrize("rel", sorted(STAGES))
def test_the_yaml_sets_only_what_differs_from_the_code(rel: str) -> None:
    config = yaml.safe_load((CONFIGS / rel).read_text(encoding="utf-8"))
    body = {key: value for key, value in config.items() if key not in ("defaults", "hydra")}
    defaults = {key: default for key, default, _ in documented_defaults(_schema(rel))}
    restated = [key for key, value in _leaves(body).items()
                if value != "???" and key in defaults and defaults[key] == value]
    unknown = [key for key in _leaves(body) if key not in defaults]
    assert not restated, f"{rel} restates the code's defaults of {restated}"
    assert not unknown, f"{rel} sets {unknown}, which the settings dataclass does not declare"


@pytest.mark.parametrize("rel", sorted(STAGES))
def test_help_prints_every_setting_with_its_default_and_documentation(rel: str) -> None:
    schema = _schema(rel)
    rows = documented_defaults(schema)
    undocumented = [key for key, _, doc in rows if not doc]
    assert not undocumented, f"{schema.__name__}'s docstring does not document {undocumented}"
    text = settings_help(schema, STAGES[rel][2])
    for key, _, _ in rows:
        assert f"\n  {key} = " in text


def test_help_from_the_command_line_lists_every_rule() -> None:
    run = subprocess.run([sys.executable, "-m", "finetune.deid", "--help"], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    line = next(line for line in run.stdout.splitlines() if line.startswith("  rules.enabled = "))
    assert all(f'"{name}"' in line for name in RULE_NAMES)


def test_importing_a_command_changes_nothing_in_the_process() -> None:
    # Error reporting and the {shard} quoting are set up by run_command when a command starts.
    # pretrain.model's filter of a known megatron-core warning is added when a model is built.
    code = ("import logging, os, sys; hook, argv = sys.excepthook, list(sys.argv); "
            "import finetune.deid.__main__, finetune.predict, tokenizer.__main__, pretrain.model; "
            "assert sys.excepthook is hook and sys.argv == argv and 'HYDRA_FULL_ERROR' not in os.environ; "
            "assert not logging.getLogger('megatron.core.transformer.transformer_layer').filters")
    run = subprocess.run([sys.executable, "-c", code, "output=x_{shard}.jsonl"], capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
