"""What a hostile user tried on pretrain, export, import_hf and fill_mask: bad settings refused
in one line before any work; vocabularies compared by contents and casing, not size; outputs
that are not the exporter's own (or that hold an input) never deleted; incomplete checkpoints
named; loader workers that never outlive a killed run, a dead worker that ends the run in one
line with a status a requeue resumes from, and metrics recorded once per step across resumes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from omegaconf import OmegaConf
from omegaconf.errors import ValidationError
from pretrain_runs import ROOT, launch, metrics, overrides, pretrain
from processes import gone, outlived

from gatortron_common.logging import InputError
from pretrain.config import PretrainConfig, validate
from pretrain.from_hf import ImportConfig, import_hf
from pretrain.to_hf import ExportConfig, export_checkpoint
from pretrain.train import pretrain as pretrain_in_process
from tokenizer.vocab import bert_header, load_vocabulary

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
EXIT_RESUMABLE = 75  # pretrain/__main__.py


def run_module(module: str, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *arguments], cwd=ROOT, env=ENV, capture_output=True,
                          text=True, timeout=600)


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]


def settings(**changes) -> PretrainConfig:
    """The tiny model's settings with `changes` ({"train.lr": -1, ...})."""
    base = OmegaConf.merge(OmegaConf.structured(PretrainConfig), {
        "data": {"blend": "x", "vocab": "x"}, "checkpoint": {"dir": "x"},
        "model": {"name": "t", "num_layers": 2, "hidden_size": 64, "num_attention_heads": 4,
                  "ffn_hidden_size": 256, "seq_length": 128}})
    return OmegaConf.to_object(OmegaConf.merge(base, OmegaConf.from_dotlist(
        [f"{key}={value}" for key, value in changes.items()])))


@pytest.mark.parametrize(("changes", "named"), [
    ({"train.train_iters": -1}, "train.train_iters=-1"),
    ({"train.micro_batch_size": 0}, "train.micro_batch_size=0"),
    ({"train.global_batch_size": -8}, "train.global_batch_size=-8"),
    ({"train.lr": -0.001}, "train.lr=-0.001"),
    ({"train.precision": "bf16"}, "train.precision=bf16 needs GPUs"),
    ({"train.precision": "fp16"}, "train.precision=fp16 needs GPUs"),
    ({"model.num_attention_heads": 5}, "model.num_attention_heads=5: must divide model.hidden_size=64"),
    ({"logging.eval_iters": 0}, "logging.eval_iters=0"),
    ({"parallel.virtual_pipeline": 2}, "parallel.virtual_pipeline=2 needs parallel.pipeline >= 2"),
    ({"train.global_batch_size": 6}, "train.global_batch_size=6 is not a multiple of micro_batch_size"),
    ({"data.split": "1,2"}, "data.split='1,2': give three non-negative numbers"),
    ({"parallel.bucket_size": 0}, "parallel.bucket_size=0"),
    ({"log_level": "LOUD"}, "log_level=LOUD"),
])
def test_validate_refuses_each_bad_setting_by_name(changes: dict, named: str) -> None:
    with pytest.raises(InputError, match=named.replace("(", r"\(").replace(".", r"\.")):
        validate(settings(**changes), on_gpu=False)


def test_validate_accepts_the_defaults_and_half_precision_on_gpu() -> None:
    validate(settings(), on_gpu=False)
    validate(settings(**{"train.precision": "bf16"}), on_gpu=True)


def test_validate_checks_the_layout_against_the_world_size() -> None:
    with pytest.raises(InputError, match=r"world size 3 is not a multiple of parallel\.tensor x .* = 2"):
        validate(settings(**{"parallel.tensor": 2}), on_gpu=False, world_size=3)
    # 4 processes at TP=2: 2 data-parallel ranks of 8 samples each, and a global batch of 8.
    with pytest.raises(InputError, match=r"train\.global_batch_size=8 is not a multiple of .* = 16"):
        validate(settings(**{"parallel.tensor": 2}), on_gpu=False, world_size=4)
    validate(settings(**{"parallel.tensor": 2, "train.global_batch_size": 16}), on_gpu=False, world_size=4)


@pytest.mark.parametrize("setting", ["train.lr_decay_style=sideways", "train.precision=fp8",
                                     "parallel.recompute=partial"])
def test_values_outside_a_fixed_set_are_refused_when_the_settings_are_read(setting: str) -> None:
    key, value = setting.split("=")
    with pytest.raises(ValidationError, match=rf"full_key: {key}"):
        settings(**{key: value})


def test_precision_and_recompute_the_machine_cannot_run_end_in_one_line_before_the_vocabulary(
        tmp_path: Path) -> None:
    run, missing = tmp_path / "run", tmp_path / "no_vocab"
    with pytest.raises(InputError, match=r"^train\.precision=bf16 needs GPUs; use fp32 on the CPU$"):
        pretrain_in_process(settings(**{"data.vocab": str(missing), "checkpoint.dir": str(run),
                                        "train.precision": "bf16"}))
    # Transformer Engine's spec only when asked for, and refused where TE does not import (this machine)
    with pytest.raises(InputError, match=r"^model\.spec=te needs Transformer Engine, which is not"):
        pretrain_in_process(settings(**{"data.vocab": str(missing), "checkpoint.dir": str(run),
                                        "model.spec": "te"}))
    bad = run_module("pretrain", "data.blend=nowhere", f"data.vocab={missing}", f"checkpoint.dir={run}",
                     "parallel.recompute=partial")
    assert bad.returncode == 2, bad.stderr[-3000:]
    lines = error_lines(bad)
    assert len(lines) == 1 and "partial" not in lines[0]
    assert "bad value for setting parallel.recompute: use one of selective, full, null" in lines[0]
    assert not run.exists()


def test_bad_settings_and_a_missing_vocabulary_end_in_one_line_before_any_work(tmp_path: Path) -> None:
    run = tmp_path / "run"
    bad = run_module("pretrain", "data.blend=nowhere", f"data.vocab={tmp_path / 'no_vocab'}",
                     f"checkpoint.dir={run}", "train.train_iters=-1", "model.num_attention_heads=5")
    assert bad.returncode == 2, bad.stderr[-3000:]
    assert len(error_lines(bad)) == 1, bad.stderr
    assert "train.train_iters=-1" in bad.stderr and "model.num_attention_heads=5" in bad.stderr
    assert not run.exists()  # nothing was started
    missing = settings(**{"data.vocab": str(tmp_path / "no_vocab"), "checkpoint.dir": str(run)})
    with pytest.raises(InputError, match="no_vocab: no vocab.txt"):
        pretrain_in_process(missing)
    assert not run.exists()


def variant(vocab: Path, where: Path, swap: bool = False, lowercase: bool = False) -> Path:
    """A copy of `vocab` with the same size: two learned tokens swapped, or the casing flipped."""
    shutil.copytree(vocab, where)
    lines = (where / "vocab.txt").read_text(encoding="utf-8").splitlines()
    if swap:
        lines[200], lines[201] = lines[201], lines[200]
        (where / "vocab.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if lowercase:
        report = json.loads((where / "report.json").read_text())
        (where / "report.json").write_text(json.dumps({**report, "lowercase": not report["lowercase"]}))
    return where


@pytest.fixture(scope="module")
def step0(tmp_path_factory: pytest.TempPathFactory, pretrain_data: dict[str, str]) -> dict[str, Path]:
    """A step-0 checkpoint (it records its vocabulary) and same-size vocabularies that differ."""
    root = tmp_path_factory.mktemp("robust")
    run = root / "run"
    assert pretrain(pretrain_data, run, **{"train.train_iters": 0}) == []
    vocab = Path(pretrain_data["vocab"])
    return {"run": run, "vocab": vocab, "swapped": variant(vocab, root / "swapped", swap=True),
            "recased": variant(vocab, root / "recased", lowercase=True)}


def test_vocabularies_are_compared_by_identity_not_size(tmp_path: Path, pretrain_data: dict[str, str],
                                                        step0: dict[str, Path]) -> None:
    # A dataset whose stats record its vocabulary (as data_prep writes them).
    prefix = tmp_path / "notes"
    for suffix in ("bin", "idx", "hashes.npy", "stats.json"):
        shutil.copy(f"{pretrain_data['blend']}.{suffix}", f"{prefix}.{suffix}")
    stats = json.loads(Path(f"{prefix}.stats.json").read_text())
    stats["vocabulary"] = load_vocabulary(step0["vocab"]).identity()
    Path(f"{prefix}.stats.json").write_text(json.dumps(stats))
    data = {**pretrain_data, "blend": str(prefix)}

    new_run = run_module("pretrain", *overrides({**data, "vocab": str(step0["swapped"])}, tmp_path / "new"))
    assert new_run.returncode == 2, new_run.stderr[-3000:]
    assert "vocabulary mismatch: the dataset" in new_run.stderr and "swapped" in new_run.stderr
    assert "Traceback" not in new_run.stderr

    # A dataset from before data_prep recorded its vocabulary: the ids that do not fit are named.
    del stats["vocabulary"]
    Path(f"{prefix}.stats.json").write_text(json.dumps(stats))
    (tmp_path / "small").mkdir()
    (tmp_path / "small" / "vocab.txt").write_text("\n".join([*bert_header(), "a", "##a"]) + "\n")
    older = run_module("pretrain", *overrides({**data, "vocab": str(tmp_path / "small"),
                                               "cache": str(tmp_path / "cache")}, tmp_path / "older",
                                              **{"train.train_iters": 1, "data.num_workers": 0}))
    assert older.returncode == 2, older.stderr[-3000:]
    assert "made with another vocabulary" in older.stderr and "Traceback" not in older.stderr

    resumed = tmp_path / "resumed"
    shutil.copytree(step0["run"], resumed)
    # The dataset records no vocabulary now (above), so the checkpoint's record is what refuses.
    other_case = run_module("pretrain", *overrides({**data, "vocab": str(step0["recased"])}, resumed,
                                                   **{"train.train_iters": 2}))
    assert other_case.returncode == 2, other_case.stderr[-3000:]
    assert f"vocabulary mismatch: the checkpoint in {resumed}" in other_case.stderr
    assert "uncased" in other_case.stderr and not metrics(resumed)

    for name in ("swapped", "recased"):
        with pytest.raises(InputError, match=f"vocabulary mismatch: the checkpoint in .* but vocab=.*{name}"):
            export_checkpoint(ExportConfig(checkpoint=str(step0["run"]), output=str(tmp_path / "hf"),
                                           vocab=str(step0[name])))
    assert not (tmp_path / "hf").exists()


def test_outputs_that_are_not_an_export_or_hold_an_input_are_never_deleted(tmp_path: Path,
                                                                           step0: dict[str, Path]) -> None:
    checkpoint = str(step0["run"])
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="output=.*busy is a non-empty directory that is not a HF model"):
        export_checkpoint(ExportConfig(checkpoint=checkpoint, output=str(busy)))
    (tmp_path / "file").write_text("keep me too")
    with pytest.raises(InputError, match="is an existing file"):
        export_checkpoint(ExportConfig(checkpoint=checkpoint, output=str(tmp_path / "file")))
    for inputs in (checkpoint, str(step0["vocab"]), str(step0["vocab"].parent)):
        with pytest.raises(InputError, match="output="):
            export_checkpoint(ExportConfig(checkpoint=checkpoint, output=inputs, overwrite=True))
    assert (busy / "notes.txt").read_text() == "keep me"
    assert (tmp_path / "file").read_text() == "keep me too"
    assert (step0["run"] / "latest_checkpointed_iteration.txt").is_file()
    assert (step0["vocab"] / "vocab.txt").is_file()

    export = tmp_path / "hf"
    export_checkpoint(ExportConfig(checkpoint=checkpoint, output=str(export)))
    export_checkpoint(ExportConfig(checkpoint=checkpoint, output=str(export)))  # its own output: replaced
    export_checkpoint(ExportConfig(checkpoint=checkpoint, output=str(busy), overwrite=True))
    assert not (busy / "notes.txt").exists() and (busy / "config.json").is_file()

    holder = tmp_path / "holder"
    holder.mkdir()
    (holder / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="output=.*holder is a non-empty directory"):
        import_hf(ImportConfig(model=str(export), output=str(holder)))
    with pytest.raises(InputError, match="is also an input"):
        import_hf(ImportConfig(model=str(export), output=str(export), overwrite=True))
    assert (export / "model.safetensors").is_file()


def test_incomplete_iterations_are_named_and_never_offered(tmp_path: Path, step0: dict[str, Path]) -> None:
    run = tmp_path / "run"
    shutil.copytree(step0["run"], run)
    shutil.copytree(run / "iter_0000000", run / "iter_0000005")
    (run / "iter_0000005" / "metadata.json").unlink()  # a save killed before it finished
    with pytest.raises(InputError, match=r"iter_0000005: incomplete checkpoint .*available: 0$"):
        export_checkpoint(ExportConfig(checkpoint=str(run), output=str(tmp_path / "hf"), iteration="5"))
    with pytest.raises(InputError, match=r"no checkpoint at iteration 7 \(available: 0\)"):
        export_checkpoint(ExportConfig(checkpoint=str(run), output=str(tmp_path / "hf"), iteration="7"))


def test_fill_mask_failures_never_echo_the_text(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "no-such-model"}))
    planted = "Zyxwv-Planted-Note-Text"
    result = run_module("pretrain.fill_mask", f"model={tmp_path}", f"text='{planted} has [MASK] pain'")
    assert result.returncode == 2, result.stderr[-3000:]
    assert planted not in result.stdout + result.stderr
    assert len(error_lines(result)) == 1 and f"model={tmp_path}" in result.stderr


def loader_workers(process: subprocess.Popen) -> list[psutil.Process]:
    """The run's DataLoader workers (torch names them; checkpoint writers come and go beside them)."""
    return [child for child in psutil.Process(process.pid).children(recursive=True)
            if child.name() == "pt_data_worker"]


def wait_for_steps(run: Path, process: subprocess.Popen, steps: int) -> None:
    deadline = time.monotonic() + 300
    while len(metrics(run)) < steps and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert process.poll() is None and len(metrics(run)) >= steps


def test_loader_workers_die_with_the_run_and_resumes_record_each_step_once(
        tmp_path: Path, pretrain_data: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    run = tmp_path / "run"
    monkeypatch.setenv("GATORTRON_REQUEUE_FILE", str(tmp_path / "requeue"))  # for torchrun
    long = {"train.train_iters": 100_000, "checkpoint.save_interval": 2, "data.num_workers": 1,
            "logging.tensorboard_dir": "''"}
    # A loader worker dies (as one did by a segfault): one line, the status a requeue resumes on.
    process = launch(pretrain_data, run, **long)
    wait_for_steps(run, process, 3)
    workers = loader_workers(process)
    assert len(workers) == 1
    workers[0].send_signal(signal.SIGKILL)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == EXIT_RESUMABLE, output[-3000:]
    assert (tmp_path / "requeue").read_text() == "failed\n"
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "DataLoader worker" in errors[0], output[-3000:]
    # The training process is SIGKILLed: its helpers go with it (the loader worker; megatron-core's
    # checkpoint-writer queue manager, which imports torch: ~280 MB each).
    process = launch(pretrain_data, run, **long)
    saved = int((run / "latest_checkpointed_iteration.txt").read_text())
    wait_for_steps(run, process, saved + 3)
    helpers = psutil.Process(process.pid).children(recursive=True)
    workers = loader_workers(process)
    assert len(workers) == 1
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    process.stdout.close()
    assert gone(workers[0].pid, 2)  # torch's own watchdog would take up to 5 s
    survivors = outlived(helpers, 3)
    assert not survivors, f"helper processes outlived the killed run: {survivors}"
    # The second run first dropped the first one's records of the steps it replayed.
    steps = [r["iteration"] for r in metrics(run)]
    assert steps == list(range(1, len(steps) + 1))
