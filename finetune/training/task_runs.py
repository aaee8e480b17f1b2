"""What the task commands share (relations, sentence pairs, question answering): their common
settings and recipe, the checks made before any work, the output folder they own, the HF `Trainer`
run (data-parallel under torchrun: every rank trains, rank 0 alone writes, predicts and scores),
and batched inference over encoded examples.

Token classification (`finetune.training.train`) has its own, richer run (dev selection, resume,
TensorBoard); these commands fine-tune a head over whole examples for a fixed number of epochs.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from omegaconf import MISSING
from tqdm import tqdm
from transformers import AutoTokenizer, DataCollatorWithPadding, Trainer, TrainingArguments, set_seed

from finetune.inference.predictor import resolve_device
from finetune.models.ner import encoder_config
from finetune.training.train import is_main_process
from gatortron_common.atomic import atomic_directory, atomic_write_text, restrict_outputs_to
from gatortron_common.logging import InputError
from gatortron_common.outputs import check_output_path


@dataclass
class TaskRecipe:
    """A one-process task's recipe (configs/finetune/task/<name>.yaml, chosen with `task=<name>`; any
    key overridable as `task.lr=1e-5`).

    Attributes:
        name: the recipe's name.
        max_seq_length: subwords per input ([CLS] and [SEP] included).
        epochs: passes over the training examples.
        batch_size: examples per step.
        lr: peak learning rate (AdamW, linear decay).
        weight_decay: AdamW's weight decay.
        warmup_ratio: share of the steps spent warming up.
    """

    name: str = MISSING
    max_seq_length: int = 256
    epochs: int = 3
    batch_size: int = 16
    lr: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1


@dataclass
class TaskRunConfig:
    """Settings every task command has besides its recipe.

    Attributes:
        model: a HF BERT-style encoder directory.
        data_dir: the corpus folder (its layout: the command's docstring).
        output_dir: where `model/`, `test_scores.json` and `summary.json` go.
        task: the recipe.
        seed: for the head's initialisation and the data order.
        device: `auto`, `cpu` or `cuda`.
        overwrite: replace an earlier run of this command in output_dir.
        log_level: logging level.
    """

    model: str
    data_dir: str
    output_dir: str
    task: TaskRecipe = field(default_factory=TaskRecipe)
    seed: int = 42
    device: str = "auto"
    overwrite: bool = False
    log_level: str = "INFO"


@dataclass
class TaskPredictConfig:
    """Settings every task's predict command has.

    Attributes:
        model: a model directory the task's training command saved (`<output_dir>/model`).
        input: what to predict for (the task's input form; gold labels optional).
        output: what is written; never the input.
        batch_size: inputs per forward pass.
        device: `auto`, `cpu` or `cuda`.
        overwrite: replace an existing output.
        log_level: logging level.
    """

    model: str = MISSING
    input: str = MISSING
    output: str = MISSING
    batch_size: int = 32
    device: str = "auto"
    overwrite: bool = False
    log_level: str = "INFO"


def check_file_prediction(settings: TaskPredictConfig, what: str) -> torch.device:
    """The checks of a predict command that reads one file and writes one file, before any work;
    returns the device."""
    check_at_least((("batch_size", settings.batch_size, 1),))
    device = resolve_device(settings.device)
    if not Path(settings.input).is_file():
        raise InputError(f"input={settings.input}: not a file")
    check_output_path(settings.output, "output", settings.overwrite, lambda _: False,
                      inputs=[settings.input, settings.model], what=what, kind="file")
    return device


def check_at_least(values: Sequence[tuple[str, int, int]]) -> None:
    """(name, value, least) triples: an `InputError` naming the first value below its least."""
    for name, value, least in values:
        if value < least:
            raise InputError(f"{name}={value}: must be at least {least}")


def check_task_run(settings: TaskRunConfig, marker: str, what: str) -> None:
    """The shared settings checked before any work (one `InputError` naming the first bad one).

    Args:
            marker: the file that marks an output_dir as this command's own.
        what: what the command writes, for the output refusal.
    """
    recipe = settings.task
    check_at_least((("task.max_seq_length", recipe.max_seq_length, 8), ("task.epochs", recipe.epochs, 1),
                    ("task.batch_size", recipe.batch_size, 1)))
    if not recipe.lr > 0 or not 0 <= recipe.warmup_ratio < 1:
        raise InputError("task.lr must be positive and task.warmup_ratio in [0, 1)")
    config = encoder_config(settings.model)
    positions = getattr(config, "max_position_embeddings", None)
    if positions is not None and recipe.max_seq_length > positions:
        raise InputError(f"task.max_seq_length={recipe.max_seq_length}: the model has {positions} positions")
    resolve_device(settings.device)
    if is_main_process():  # the others would see rank 0's marker appear
        check_output_path(settings.output_dir, "output_dir", settings.overwrite,
                          lambda path: path.is_dir() and (path / marker).is_file(),
                          inputs=[settings.model, settings.data_dir], what=what, kind="directory",
                          within_inputs=True)


def start_output(settings: TaskRunConfig, marker: str) -> Path:
    """Empty `output_dir` (what `check_task_run` let through: our own earlier run, an empty folder,
    or anything under overwrite=true) and mark it as ours; the umask follows the inputs."""
    output = Path(settings.output_dir)
    restrict_outputs_to([settings.model, settings.data_dir])
    if not is_main_process():  # under torchrun rank 0 owns output_dir; the others only train
        return output
    if output.is_dir() and not output.is_symlink():
        shutil.rmtree(output)
    elif output.exists() or output.is_symlink():
        output.unlink()  # a file where the folder goes
    output.mkdir(parents=True, exist_ok=True)  # another rank's Trainer may have made it
    atomic_write_text(output / marker, json.dumps({"settings": asdict(settings)}, indent=2) + "\n")
    return output


def fit(model: Any, tokenizer: Any, dataset: torch.utils.data.Dataset, settings: TaskRunConfig,
        output: Path, collator: Callable | None = None) -> int:
    """Fine-tune `model` on `dataset` with the HF Trainer, data-parallel when started by torchrun (no
    checkpoints kept: the runs are short and the model is saved once, at the end); returns the
    optimizer steps taken."""
    set_seed(settings.seed)
    arguments = TrainingArguments(
        output_dir=str(output / "checkpoints"), num_train_epochs=settings.task.epochs,
        per_device_train_batch_size=settings.task.batch_size, learning_rate=settings.task.lr,
        weight_decay=settings.task.weight_decay, warmup_steps=settings.task.warmup_ratio, save_strategy="no",
        logging_steps=50, report_to="none", seed=settings.seed, data_seed=settings.seed,
        use_cpu=resolve_device(settings.device).type == "cpu")
    trainer = Trainer(model=model, args=arguments, train_dataset=dataset,
                      data_collator=collator or DataCollatorWithPadding(tokenizer))
    steps = trainer.train().global_step
    scratch = output / "checkpoints"  # the Trainer's output_dir, which it makes and leaves empty here
    if is_main_process() and scratch.is_dir() and not any(scratch.iterdir()):
        scratch.rmdir()
    return steps


def other_rank_summary(steps: int) -> dict[str, int] | None:
    """What a rank other than 0 returns once training is done (rank 0 alone saves, predicts and
    scores); None on rank 0."""
    return None if is_main_process() else {"rank": int(os.environ.get("RANK", "0")), "steps": steps}


def batched_outputs(model: Any, tokenizer: Any, features: Sequence[dict[str, list[int]]],
                    batch_size: int = 32, device: torch.device | None = None, progress: bool = False,
                    unit: str = "examples") -> Iterator[tuple[list[int], Any]]:
    """(positions in `features`, model output) per batch: longest first so that a batch pads little,
    under `inference_mode`; `progress` shows a bar."""
    model.eval()
    device = device or next(model.parameters()).device
    order = sorted(range(len(features)), key=lambda i: -len(features[i]["input_ids"]))
    bar = tqdm(total=len(order), desc=unit, unit=f" {unit}", disable=not progress, mininterval=2.0)
    with torch.inference_mode(), bar:
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            padded = tokenizer.pad([features[position] for position in batch], return_tensors="pt")
            yield batch, model(**{key: value.to(device) for key, value in padded.items()})
            bar.update(len(batch))


def save_task_model(model: Any, tokenizer: Any, key: str, block: dict[str, Any], target: str | Path) -> None:
    """Model, tokenizer and the task's description (`key` in config.json, so that the directory is
    self-describing) into `target`, replaced as a whole."""
    model.config.update({key: block})
    with atomic_directory(target) as staging:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)


def load_task_model(path: str | Path, key: str, auto_class: Any,
                    what: str) -> tuple[Any, Any, dict[str, Any]]:
    """(model in eval mode, tokenizer, the `key` block) of a directory `save_task_model` wrote, through
    the Auto classes alone.

    Raises:
        InputError: not a model directory, or no `key` block (not a `what`).
    """
    directory = Path(path)
    block = getattr(encoder_config(directory), key, None)
    if not block:
        raise InputError(f"model={directory}: not a {what} (no {key} block in its config.json)")
    tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    return auto_class.from_pretrained(directory, local_files_only=True).eval(), tokenizer, dict(block)
