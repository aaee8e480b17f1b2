"""No stage repeats PHI from a bad input or a command-line value in its output, logs or files.

Each case runs one stage's command line (a real process, as a user runs it) on a small input that is
broken where a hostile or careless input breaks, with a planted name and phone number next to the
break. The run must fail with a one-line message (exit status 2 for bad input and bad settings),
and neither its stdout/stderr nor any file it wrote (outputs, reports, stats, temp files, anything
Hydra writes such as .hydra/overrides.yaml) may hold the planted text or any part of it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PHI = "Zebediah Quux 555-0142"
PARTS = ("Zebediah", "Quux", "555-0142")  # the surname alone is PHI too
LETTERS = "abcdefghijklmnopqrstuvwxyz"
WORDS = ["patient", "seen", "for", "chest", "pain", "denies", "fever", "today", "stable", "the", "and", ".",
         ",", ":", "-", *LETTERS, *"0123456789", *(f"##{c}" for c in LETTERS)]
GOOD_NOTE = "Patient seen for chest pain. Denies fever today, stable."


@dataclass(frozen=True)
class Case:
    """One stage run: `build(inputs, work, models)` writes the bad inputs and returns the arguments."""

    stage: str
    name: str
    build: Callable[[Path, Path, dict[str, Path]], list[str]]
    codes: tuple[int, ...] = (2,)
    models: bool = False  # needs the tiny HF models (built once per module)


def _write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _vocab_dir(directory: Path, extra: list[str]) -> Path:
    from tokenizer.vocab import bert_header

    _write(directory / "vocab.txt", "\n".join([*bert_header(), *WORDS, *extra]) + "\n")
    return directory


def _phi_vocab(directory: Path) -> Path:
    """A vocabulary made from notes that were not de-identified: the name, twice (a duplicate line)."""
    return _vocab_dir(directory, ["Zebediah", "Quux", "555-0142", "Zebediah"])


def _i2b2_2014(type_value: str) -> str:
    text = f"\nSeen by {PHI} on 2067-05-03.\n"
    start = text.index("Zebediah")
    return (f'<?xml version="1.0" encoding="UTF-8" ?>\n<deIdi2b2><TEXT><![CDATA[{text}]]></TEXT><TAGS>\n'
            f'<NAME id="P0" start="{start}" end="{start + 13}" text="Zebediah Quux" TYPE="{type_value}" '
            f'comment="" />\n</TAGS></deIdi2b2>\n')


def _good_jsonl(path: Path) -> Path:
    return _write(path, "".join(json.dumps({"text": f"{GOOD_NOTE} Note {i}."}) + "\n" for i in range(5)))


# --- the cases: each builder returns the stage's arguments ----------------------------------------------

def synthetic_bad_type(inputs: Path, work: Path, models: dict[str, Path]) -> list[str]:
    return [f"output_dir={work / 'out'}", f"notes_mb='{PHI}'"]


def tokenizer_headerless_csv(inputs: Path, work: Path, models: dict[str, Path]) -> list[str]:
    notes = _write(inputs / "notes.csv", f'N1,2067-05-03,"{PHI} seen for chest pain, stable."\n'
                                         f'N2,2067-05-04,"{GOOD_NOTE}"\n')
    return [f"input={notes}", f"output_dir={work / 'vocab'}", "format=csv", "strict=true", "vocab_size=200",
            "workers=1"]


def data_prep_vocab_duplicate(inputs: Path, work: Path, models: dict[str, Path]) -> list[str]:
    notes = _good_jsonl(inputs / "notes.jsonl")
    return ["source=text", f"input={notes}", f"vocab={_phi_vocab(inputs / 'vocab')}",
            f"output_prefix={work / 'data' / 'notes'}", "workers=1"]


def blend_yaml_syntax(inputs: Path, work: Path, models: dict[str, Path]) -> list[str]:
    blend = _write(inputs / "blend.yaml", f"corpora:\n  - name: {PHI}\n    prefix: [unclosed\n"
                                          "      weight: 1\n")
    return [f"blend={blend}", f"output={work / 'blend.json'}"]


def merge_truncated_stats(inputs: Path, work: Path, models: dict[str, Path]) -> list[str]:
    for shard in ("notes_shard0", "notes_shard1"):
        for suffix in ("bin", "idx", "hashes.npy"):
            _write(inputs / f"{shard}.{suffix}", b"")
    _write(inputs / "notes_shard0.stats.json", json.dumps({"vocab": "vocab", "documents": 1}))
    _write(inputs / "notes_shard1.stats.json", f'{{"vocab": "vocab", "source": "{PHI}", "documents": ')
    return [f"inputs={inputs / 'notes_shard*'}", f"output_prefix={work / 'merged'}"]


def pretrain_vocab_duplicate(inputs: Path, work: Path, models: dict[str, Path]) -> list[str]:
    return [f"data.blend=[{inputs / 'notes'}]", f"data.vocab={_phi_vocab(inputs / 'vocab')}",
            f"checkpoint.dir={work / 'run'}", "train.train_iters=1"]


def export_checkpoint_metadata(inputs: Path, work: Path, models: dict[str, Path]) -> list[str]:
    root = inputs / "run"
    _write(root / "latest_checkpointed_iteration.txt", "100\n")
    _write(root / "iter_0000100" / "metadata.json",
           json.dumps({"sharded_backend": PHI, "sharded_backend_version": 1}))
    _write(root / "iter_0000100" / "common.pt", f"{PHI} is not a pickle\n")
    return [f"checkpoint={root}", f"output={work / 'hf'}"]


def import_hf_vocab_duplicate(inputs: Path, work: Path, models: dict[str, Path]) -> list[str]:
    model = inputs / "hf"
    _write(model / "config.json", (models["encoder"] / "config.json").read_text(encoding="utf-8"))
    _phi_vocab(model)
    return [f"model={model}", f"output={work / 'run'}"]


def fill_mask_broken_model(inputs: Path, work: Path, models: dict[str, Path]) -> list[str]:
    # A model that fails inside transformers (no weights): an unexpected error, whose report used to
    # come with Hydra's "Error executing job with overrides: [..., text='<the note text>']".
    model = inputs / "hf"
    _write(model / "config.json", (models["encoder"] / "config.json").read_text(encoding="utf-8"))
    _vocab_dir(model, [])
    return [f"model={model}", f"text='{PHI} has [MASK] pain'"]


def fill_mask_unclosed_quote(inputs: Path, work: Path, models: dict[str, Path]) -> list[str]:
    return [f"model={inputs / 'hf'}", f"text='{PHI} has [MASK] pain"]


def finetune_unknown_type(inputs: Path, work: Path, models: dict[str, Path]) -> list[str]:
    for split in ("train", "test"):
        _write(inputs / "corpus" / split / "100-01.xml", _i2b2_2014(PHI))
    return ["task=deid_2014", f"model={models['encoder']}", f"data_dir={inputs / 'corpus'}",
            f"output_dir={work / 'run'}", "task.trainer.epochs=1", "device=cpu"]


def predict_bad_jsonl_value(inputs: Path, work: Path, models: dict[str, Path]) -> list[str]:
    notes = _write(inputs / "notes.jsonl", json.dumps({"id": "n1", "text": GOOD_NOTE}) + "\n"
                   + json.dumps({"id": "n2", "text": {"Zebediah Quux": "555-0142"}}) + "\n")
    return [f"model={models['ner']}", f"input={notes}", "format=jsonl", f"output={work / 'preds.jsonl'}",
            "device=cpu"]


def evaluate_brat_spaces(inputs: Path, work: Path, models: dict[str, Path]) -> list[str]:
    text = f"Seen by {PHI} today.\n"
    for side in ("gold", "pred"):
        _write(inputs / side / "100-01.txt", text)
        _write(inputs / side / "100-01.ann", f"T1 NAME 8 21 {PHI[:13]}\n" if side == "gold"
               else f"T1\tNAME 8 21\t{PHI[:13]}\n")
    return [f"gold={inputs / 'gold'}", f"pred={inputs / 'pred'}", "format=brat",
            f"output_json={work / 'scores.json'}"]


def convert_unknown_type(inputs: Path, work: Path, models: dict[str, Path]) -> list[str]:
    _write(inputs / "corpus" / "100-01.xml", _i2b2_2014(PHI))
    return [f"input={inputs / 'corpus'}", "format=i2b2_2014", "output_format=jsonl", "strict=true",
            f"output={work / 'corpus.jsonl'}"]


def convert_unknown_setting(inputs: Path, work: Path, models: dict[str, Path]) -> list[str]:
    _write(inputs / "corpus" / "100-01.xml", _i2b2_2014("PATIENT"))
    return [f"input={inputs / 'corpus'}", "format=i2b2_2014", "output_format=jsonl",
            f"output={work / 'corpus.jsonl'}", f"+note='{PHI}'"]


def annotated_synthetic_unknown_setting(inputs: Path, work: Path, models: dict[str, Path]) -> list[str]:
    # `+key=` adds a key Hydra accepts: it must be refused as unknown, not kept and ignored.
    return [f"output_dir={work / 'out'}", "documents=4", f"+note='{PHI}'"]


def deid_headerless_csv(inputs: Path, work: Path, models: dict[str, Path]) -> list[str]:
    notes = _write(inputs / "notes.csv", f'N1,2067-05-03,"{PHI} seen for chest pain, call 555-0142."\n'
                                         f'N2,2067-05-04,"{GOOD_NOTE}"\n')
    return ["model=null", f"input={notes}", f"output={work / 'notes_deid.csv'}"]


CASES = [
    Case("synthetic.corpora", "setting_of_wrong_type", synthetic_bad_type),
    Case("tokenizer", "headerless_csv", tokenizer_headerless_csv),
    Case("data_prep", "vocab_duplicate_line", data_prep_vocab_duplicate),
    Case("data_prep.blend", "yaml_syntax_error", blend_yaml_syntax),
    Case("data_prep.merge", "truncated_shard_stats", merge_truncated_stats),
    Case("pretrain", "vocab_duplicate_line", pretrain_vocab_duplicate),
    Case("pretrain.export", "checkpoint_metadata", export_checkpoint_metadata),
    Case("pretrain.import_hf", "vocab_duplicate_line", import_hf_vocab_duplicate, models=True),
    Case("pretrain.fill_mask", "unexpected_error_with_text_override", fill_mask_broken_model, codes=(1, 2),
         models=True),
    Case("pretrain.fill_mask", "unclosed_quote_in_override", fill_mask_unclosed_quote),
    Case("finetune", "i2b2_2014_unknown_type", finetune_unknown_type, models=True),
    Case("finetune.predict", "jsonl_text_not_a_string", predict_bad_jsonl_value, models=True),
    Case("finetune.evaluate", "brat_spaces_for_tabs", evaluate_brat_spaces),
    Case("finetune.convert", "i2b2_2014_unknown_type", convert_unknown_type),
    Case("finetune.convert", "unknown_setting", convert_unknown_setting),
    Case("synthetic.annotated", "unknown_setting", annotated_synthetic_unknown_setting),
    Case("finetune.deid", "headerless_csv", deid_headerless_csv),
]


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 1-layer megatron-bert MLM and a token-classification model fine-tuned from nothing."""
    import torch
    from transformers import MegatronBertConfig, MegatronBertForMaskedLM, MegatronBertForTokenClassification

    from finetune.models.ner import NerInfo, save_ner_model
    from tokenizer.export import export_tokenizer
    from tokenizer.vocab import bert_header

    root = tmp_path_factory.mktemp("tiny_models")
    tokens = [*bert_header(), *WORDS]
    torch.manual_seed(0)
    shape = {"vocab_size": len(tokens), "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
             "intermediate_size": 32, "max_position_embeddings": 64}
    encoder = root / "encoder"
    encoder.mkdir()
    tokenizer = export_tokenizer(tokens, encoder, lowercase=False)
    MegatronBertForMaskedLM(MegatronBertConfig(**shape)).save_pretrained(encoder)
    labels = ["O", "B-PATIENT", "I-PATIENT"]
    ner = MegatronBertForTokenClassification(MegatronBertConfig(
        **shape, num_labels=3, id2label=dict(enumerate(labels)),
        label2id={k: i for i, k in enumerate(labels)}))
    save_ner_model(ner, tokenizer, NerInfo(labels=labels, max_seq_length=64, stride=8), root / "ner")
    return {"encoder": encoder, "ner": root / "ner"}


def _files(root: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def _leaks(name: str, data: bytes) -> list[str]:
    lowered = data.lower()
    return [f"{name} holds {part!r}" for part in PARTS if part.lower().encode() in lowered]


def _masked(text: str) -> str:
    """The output with the planted parts replaced, for a failure message that shows where they were."""
    for part in PARTS:
        text = re.sub(re.escape(part), "<PHI>", text, flags=re.IGNORECASE)
    return text[-2000:]


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.stage}:{case.name}")
def test_bad_input_is_reported_without_phi(case: Case, tmp_path: Path,
                                           request: pytest.FixtureRequest) -> None:
    models = request.getfixturevalue("tiny_models") if case.models else {}
    inputs, work, temp = tmp_path / "inputs", tmp_path / "work", tmp_path / "tmp"
    for directory in (inputs, work, temp):
        directory.mkdir()
    arguments = case.build(inputs, work, models)
    given = _files(tmp_path)
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path,
           "TMPDIR": str(temp), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "HF_HOME": str(temp / "hf"), "GATORTRON_DEBUG": "0"}
    # cwd is a fresh folder so that anything Hydra writes next to the run (outputs/, .hydra/) is seen.
    run = subprocess.run([sys.executable, "-m", case.stage, *arguments], cwd=work, env=env,
                         capture_output=True, timeout=300)
    stderr = _masked(run.stderr.decode("utf-8", "replace"))
    problems = [*_leaks("stdout", run.stdout), *_leaks("stderr", run.stderr)]
    for path, data in _files(tmp_path).items():
        if given.get(path) != data:  # written (or changed) by the run
            problems += _leaks(str(path.relative_to(tmp_path)), data + str(path).encode())
    assert not problems, f"{case.stage} leaked the planted PHI: {problems}; stderr: {stderr}"
    assert run.returncode in case.codes, f"exit status {run.returncode}, expected {case.codes}: {stderr}"
    assert "Traceback" not in stderr and "Error executing job" not in stderr, stderr
    assert [line for line in stderr.splitlines() if " ERROR " in line], f"no one-line error: {stderr}"


def test_unexpected_error_is_one_line_and_traceback_only_on_request(
        capfd: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    from omegaconf import OmegaConf

    from gatortron_common.cli import DEBUG_VARIABLE, run_stage

    def work(settings: object) -> None:
        int(PHI)  # ValueError: invalid literal for int() with base 10: '<the value>'

    cfg = OmegaConf.create({"log_level": "INFO"})
    monkeypatch.delenv(DEBUG_VARIABLE, raising=False)
    with pytest.raises(SystemExit) as stopped:
        run_stage(cfg, work, "demo")
    err = capfd.readouterr().err
    assert stopped.value.code == 1 and not _leaks("stderr", err.encode())
    assert err.count("\n") == 1 and "demo: stopped on an unexpected ValueError" in err

    monkeypatch.setenv(DEBUG_VARIABLE, "1")  # asked for: the traceback, message included
    with pytest.raises(SystemExit):
        run_stage(cfg, work, "demo")
    assert "Traceback" in capfd.readouterr().err


def test_no_stage_config_lets_hydra_write_its_overrides_to_disk() -> None:
    """Hydra's default output dir holds .hydra/overrides.yaml: every command-line value (text=...),
    on disk. Each stage config (one that overrides Hydra's logging) must switch it off."""
    from omegaconf import OmegaConf

    stage_configs = [path for path in sorted((ROOT / "configs").rglob("*.yaml"))
                     if "override hydra/" in path.read_text(encoding="utf-8")]
    assert len(stage_configs) >= 15
    for path in stage_configs:
        hydra = OmegaConf.load(path).get("hydra")
        assert hydra is not None and hydra.get("output_subdir", "unset") is None, path
        assert hydra.run.dir == "." and hydra.job.chdir is False, path
