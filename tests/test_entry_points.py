"""Every command follows one recipe and its settings compose.

The recipe (gatortron_common.settings): the module defining a settings dataclass registers it with
`register_schema`; the command's YAML lives in configs/<package>/ and names that schema first; the
command module's `main` is `@hydra.main(config_path=config_dir(...), config_name=..., version_base=
HYDRA_VERSION)` and only calls `run_stage`. The process settings needed before torch is imported come
from `gatortron_common.environment`, imported first, so no module silences the import-order rule.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from importlib import import_module
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from gatortron_common.cli import quote_shard_placeholders
from gatortron_common.settings import CONFIG_ROOT, HYDRA_VERSION, config_dir

REPO = Path(__file__).resolve().parents[1]

# command, module holding its `main`, module defining its schema, configs/<folder>, config name,
# the settings a user must give (and a value of the right type for each), extra overrides.
COMMANDS = [
    ("tokenizer", "tokenizer.__main__", "tokenizer.config", "tokenizer", "default",
     {"input": "notes.tsv", "output_dir": "vocab"}, []),
    ("data_prep", "data_prep.__main__", "data_prep.config", "data_prep", "default",
     {"input": "notes.jsonl", "vocab": "vocab", "output_prefix": "data/notes"}, []),
    ("data_prep.merge", "data_prep.merge", "data_prep.merge", "data_prep", "merge",
     {"inputs": "data/notes_*", "output_prefix": "data/all"}, []),
    ("data_prep.blend", "data_prep.blend", "data_prep.blend", "data_prep", "blend",
     {"blend": "blends/gatortron.yaml"}, []),
    ("pretrain", "pretrain.__main__", "pretrain.config", "pretrain", "default",
     {"data.blend": "blend.json", "data.vocab": "vocab", "checkpoint.dir": "runs/x"}, ["model=tiny"]),
    ("pretrain.export", "pretrain.export", "pretrain.to_hf", "pretrain/hf", "export",
     {"checkpoint": "runs/x", "output": "hf"}, []),
    ("pretrain.import_hf", "pretrain.import_hf", "pretrain.from_hf", "pretrain/hf", "import_hf",
     {"model": "hf", "output": "runs/y"}, []),
    ("pretrain.fill_mask", "pretrain.fill_mask", "pretrain.fill_mask", "pretrain/hf", "fill_mask",
     {"model": "hf", "text": "no mask"}, []),
    ("finetune", "finetune.__main__", "finetune.training.config", "finetune", "train",
     {"model": "hf", "data_dir": "corpus", "output_dir": "runs/ner"}, ["task=deid_2014"]),
    ("finetune.predict", "finetune.predict", "finetune.predict", "finetune", "predict",
     {"model": "m", "input": "notes", "format": "txt", "output": "pred"}, []),
    ("finetune.evaluate", "finetune.evaluate", "finetune.evaluate", "finetune", "evaluate",
     {"gold": "g", "pred": "p", "format": "i2b2_2014"}, []),
    ("finetune.convert", "finetune.convert", "finetune.convert", "finetune", "convert",
     {"input": "c", "format": "brat", "output_format": "jsonl", "output": "c.jsonl"}, []),
    ("finetune.deid", "finetune.deid.__main__", "finetune.deid.tool", "finetune", "deid",
     {"model": "m", "input": "notes.tsv", "output": "out.tsv"}, []),
    ("finetune.relations", "finetune.relations.__main__", "finetune.relations.train", "finetune", "relations",
     {"model": "hf", "data_dir": "n2c2_2018", "output_dir": "runs/re"}, []),
    ("finetune.relations.predict", "finetune.relations.predict", "finetune.relations.predict", "finetune",
     "relations_predict", {"model": "m", "input": "notes", "output": "pred"}, []),
    ("finetune.pairs", "finetune.pairs.__main__", "finetune.pairs.train", "finetune", "pairs",
     {"model": "hf", "data_dir": "sts", "output_dir": "runs/sts"}, ["task=sts"]),
    ("finetune.pairs.predict", "finetune.pairs.predict", "finetune.pairs.predict", "finetune",
     "pairs_predict", {"model": "m", "input": "pairs.txt", "output": "pred.txt"}, []),
    ("finetune.qa", "finetune.qa.__main__", "finetune.qa.train", "finetune", "qa",
     {"model": "hf", "data_dir": "emrqa", "output_dir": "runs/qa"}, []),
    ("finetune.qa.predict", "finetune.qa.predict", "finetune.qa.predict", "finetune", "qa_predict",
     {"model": "m", "input": "test.json", "output": "answers.json"}, []),
    ("synthetic.corpora", "synthetic.corpora.__main__", "synthetic.corpora.config", "synthetic", "corpora",
     {"output_dir": "corpora"}, []),
    ("synthetic.annotated", "synthetic.annotated.__main__", "synthetic.annotated.config", "synthetic",
     "annotated", {"output_dir": "annotated"}, []),
]


@pytest.mark.parametrize(("command", "entry", "schema", "folder", "name", "required", "extra"), COMMANDS,
                         ids=[row[0] for row in COMMANDS])
def test_settings_compose_typed(command, entry, schema, folder, name, required, extra):
    import_module(schema)  # registers the schema, as importing the command does
    with initialize_config_dir(config_dir(folder), version_base=HYDRA_VERSION):
        bare = compose(name, overrides=extra)
        assert set(OmegaConf.missing_keys(bare)) == set(required), command
        cfg = compose(name, overrides=extra + [f"{key}={value}" for key, value in required.items()])
        hydra = compose(name, overrides=extra, return_hydra_config=True).hydra
    settings = OmegaConf.to_object(cfg)
    assert type(settings).__module__ == schema, command  # typed by the dataclass its module registers
    assert hydra.output_subdir is None and hydra.run.dir == "."  # never writes .hydra/overrides.yaml
    source = (REPO / (entry.replace(".", "/") + ".py")).read_text(encoding="utf-8")
    assert (f'@hydra.main(config_path=config_dir("{folder}"), config_name="{name}", '
            f'version_base=HYDRA_VERSION)') in source
    assert "run_stage(cfg, " in source and f'"{command}")' in source


def test_every_config_belongs_to_a_command():
    """configs/ holds Hydra settings only (a blend is data: blends/), each file used by a command."""
    used = {Path(folder, f"{name}.yaml") for _, _, _, folder, name, _, _ in COMMANDS}
    groups = {Path("pretrain/model"), Path("finetune/task")}  # config groups chosen by model= / task=
    found = {path.relative_to(CONFIG_ROOT) for path in CONFIG_ROOT.rglob("*.yaml")}
    assert {path for path in found if path.parent not in groups} == used
    assert {path.parent for path in found} - {path.parent for path in used} == groups
    assert (REPO / "blends" / "gatortron.yaml").is_file()


NOQA_E402 = "noqa: " + "E402"  # spelled in two parts so that this file does not hold it


def test_no_import_needs_noqa_e402():
    """The environment set-up before torch lives in gatortron_common.environment, imported first."""
    skipped = {".venv", "demo_out", "bench_out"}
    sources = [path for path in REPO.rglob("*.py") if not skipped & set(path.parts)]
    offenders = [str(path.relative_to(REPO)) for path in sources
                 if NOQA_E402 in path.read_text(encoding="utf-8")]
    assert offenders == []


HELP_SCRIPT = """
import importlib, sys
from hydra.core.global_hydra import GlobalHydra
for entry, extra in {calls!r}:
    module = importlib.import_module(entry)
    sys.argv = [entry, *extra, "--help"]
    print("=== " + entry, flush=True)
    try:
        module.main()
    except SystemExit as done:  # Hydra ends --help with sys.exit(0)
        assert not done.code, (entry, done.code)
    GlobalHydra.instance().clear()
"""


def test_every_command_help_in_one_process(tmp_path):
    """`--help` of every command through its real `main` (one process: the imports cost seconds each)."""
    calls = [(entry, extra) for _, entry, _, _, _, _, extra in COMMANDS]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", HELP_SCRIPT.format(calls=calls)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    sections = done.stdout.split("=== ")[1:]
    assert [section.splitlines()[0] for section in sections] == [entry for entry, _ in calls]
    for (_, _, _, _, _, required, _), section in zip(COMMANDS, sections, strict=True):
        assert "== Config ==" in section
        assert all(f"{key.rpartition('.')[2]}: ???" in section for key in required), section
    assert not list(tmp_path.iterdir())  # no outputs/ or .hydra/ written


def test_tokenizer_documents_every_input_format_it_reads():
    """The tokenizer's settings name every format its reader accepts (PubMed and Wikipedia too)."""
    from gatortron_common.readers import TEXT_FORMATS
    from gatortron_common.settings import field_docs
    from tokenizer.config import TokenizerConfig

    format_doc = field_docs(TokenizerConfig)["format"]  # what `python -m tokenizer --help` prints for it
    entry_doc = ast.get_docstring(ast.parse((REPO / "tokenizer" / "__main__.py").read_text(encoding="utf-8")))
    for fmt in TEXT_FORMATS:
        assert fmt in format_doc, fmt
    assert "PubMed" in entry_doc and "pages-articles" in entry_doc


def test_shard_placeholder_reaches_the_stage_as_written() -> None:
    """`output=.../part_{shard}.jsonl` (the documented per-shard output) is quoted for Hydra, whose
    grammar would read the braces as a dictionary; anything else is left alone."""
    arguments = ["output=/preds/part_{shard}.jsonl", "spans=s_{shard}", "output='q_{shard}'", "model=m",
                 "text={shard}'s", "--cfg", "{shard}"]
    assert quote_shard_placeholders(arguments) == [
        "output='/preds/part_{shard}.jsonl'", "spans='s_{shard}'", "output='q_{shard}'", "model=m",
        "text={shard}'s", "--cfg", "{shard}"]
    for argument in quote_shard_placeholders(arguments[:2]):
        override = OverridesParser.create().parse_override(argument)
        assert "{shard}" in override.value()


def test_finetune_shows_the_chain_a_sub_package_per_step_and_the_commands_on_top() -> None:
    """A newcomer finds any piece of fine-tuning in one hop: the top level holds the commands the README
    names, each step of the chain is a sub-package."""
    package = REPO / "finetune"
    modules = sorted(path.name for path in package.glob("*.py"))
    assert modules == ["__init__.py", "__main__.py", "convert.py", "evaluate.py", "predict.py"]
    steps = sorted(path.name for path in package.iterdir() if (path / "__init__.py").is_file())
    assert steps == ["corpora", "deid", "inference", "models", "pairs", "qa", "relations", "scoring",
                     "tagging", "training"]
