"""Hugging Face MegatronBert directory -> a megatron-core checkpoint that `python -m pretrain` continues.

The HF weights are read lazily (safetensors, sharded or not, or pytorch_model.bin memory-mapped),
one layer of one megatron-core weight at a time, into megatron-core's own BertModel built whole in
this process; megatron-core's dist_checkpointing then saves it, so it loads at any TP/PP layout.
The checkpoint is step 0 with weights only: no optimizer state, no schedule, no random state, so
the run that continues from it uses its own settings for all three.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from megatron.core.dist_checkpointing.mapping import ShardedTensor
from omegaconf import MISSING
from safetensors import safe_open

from gatortron_common.atomic import atomic_directory
from gatortron_common.logging import InputError, get_logger
from gatortron_common.outputs import check_output_path
from gatortron_common.settings import register_schema
from pretrain import checkpoint
from pretrain.config import ARCHITECTURE_FIELDS, ModelConfig, model_record
from pretrain.hf_layout import (
    BINARY_HEAD_WEIGHTS,
    HF_TIED,
    Shapes,
    from_hf,
    hf_names,
    is_stacked,
    megatron_keys,
)
from pretrain.standalone import build_whole_model, single_process_megatron
from tokenizer.export import export_tokenizer
from tokenizer.vocab import VOCAB_FILE, load_vocabulary, padded_vocab_size, recorded_casing

logger = get_logger("pretrain.import_hf")

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
# Buffers older HF checkpoints carry that are not weights.
_IGNORED = {"bert.embeddings.position_ids"}
# Heads that continued pretraining can start fresh (megatron-core's initialization) when absent:
# the public GatorTron checkpoints are encoders only.
_HEAD_PREFIXES = ("cls.", "bert.pooler.")
HF_TOKENIZER_FILE = "tokenizer.json"


@dataclass
class ImportParallel:
    """Attributes:
        tensor: the tensor-parallel size the continuing run will use (the vocabulary is padded
            to a multiple of make_vocab_size_divisible_by x tensor).
    """

    tensor: int = 1


@dataclass
class ImportConfig:
    """Settings of `python -m pretrain.import_hf` (configs/pretrain/hf/import_hf.yaml).

    Attributes:
        model: a HF directory of a `megatron-bert` model (config.json, weights, tokenizer files).
        output: the checkpoint directory to create (must not hold a checkpoint yet; another
            non-empty directory only with overwrite=true; never one that holds the HF model).
        overwrite: write into an existing non-empty output directory (its vocab/ is replaced).
        name: the model label stored in the checkpoint (default: the HF directory's name).
        binary_head: keep / add the sentence-order head; null = as in the HF model.
        dtype: parameter dtype of the checkpoint: fp32 (default), bf16 or fp16 (match the run's
            train.precision when it keeps model weights in half precision).
        make_vocab_size_divisible_by: vocabulary padding unit (Megatron's 128).
        parallel: see ImportParallel.
        log_level: logging level.
    """

    model: str = MISSING
    output: str = MISSING
    name: str | None = None
    binary_head: bool | None = None
    dtype: str = "fp32"
    make_vocab_size_divisible_by: int = 128
    parallel: ImportParallel = field(default_factory=ImportParallel)
    overwrite: bool = False
    log_level: str = "INFO"


register_schema("import_hf_schema", ImportConfig)


class HfWeights:
    """Names and lazily read tensors of a HF model directory, under `MegatronBertFor*` names
    (a bare `MegatronBertModel` saves without the `bert.` prefix).

    safetensors files are opened for each read and closed after it, so the pages a read touched
    leave this process's memory with it (a file kept open would hold every page read so far).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.sources: dict[str, tuple[object, str]] = {}  # name -> (safetensors path or .bin dict, key)
        index = directory / "model.safetensors.index.json"
        if index.is_file():
            files = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
            for name in files:
                self._add_safetensors(directory / name)
        elif (directory / "model.safetensors").is_file():
            self._add_safetensors(directory / "model.safetensors")
        elif (directory / "pytorch_model.bin").is_file():
            state = torch.load(directory / "pytorch_model.bin", map_location="cpu", mmap=True,
                               weights_only=True)
            for name in state:
                self._add(name, state, name)
        else:
            raise InputError(f"{directory}: no model.safetensors(.index.json) or pytorch_model.bin")

    def _add_safetensors(self, path: Path) -> None:
        if not path.is_file():
            raise InputError(f"{path}: listed in the safetensors index but missing")
        with safe_open(str(path), framework="pt") as handle:
            for name in handle.keys():
                self._add(name, path, name)

    def _add(self, name: str, source: object, original: str) -> None:
        if not name.startswith(("bert.", "cls.")):
            name = "bert." + name
        self.sources[name] = (source, original)

    def names(self) -> set[str]:
        return set(self.sources)

    def read(self, names: list[str]) -> dict[str, torch.Tensor]:
        """The tensors `names` (copies that outlive the file handles)."""
        tensors: dict[str, torch.Tensor] = {}
        by_file: dict[object, list[str]] = {}
        for name in names:
            source, original = self.sources[name]
            if isinstance(source, Path):
                by_file.setdefault(source, []).append(name)
            else:
                tensors[name] = source[original].clone()
        for path, wanted in by_file.items():
            with safe_open(str(path), framework="pt") as handle:
                for name in wanted:
                    tensors[name] = handle.get_tensor(self.sources[name][1])
        return tensors

    def get(self, name: str) -> torch.Tensor:
        return self.read([name])[name]


def model_config_from_hf(config: dict, name: str, binary_head: bool, where: Path) -> ModelConfig:
    """Our ModelConfig for a HF `megatron-bert` config.json."""
    model_type = config.get("model_type")
    if model_type == "bert":
        raise InputError(f"{where}: model_type 'bert' is post-LayerNorm BERT; megatron-core's BertModel is "
                         "pre-LayerNorm (HF 'megatron-bert'), so its weights would compute something else")
    if model_type != "megatron-bert":
        raise InputError(f"{where}: model_type {model_type!r} is not 'megatron-bert'")
    if config.get("hidden_act", "gelu") != "gelu":
        raise InputError(f"{where}: hidden_act {config['hidden_act']!r}; megatron-core's BERT uses gelu")
    try:
        return ModelConfig(
            name=name, num_layers=config["num_hidden_layers"], hidden_size=config["hidden_size"],
            num_attention_heads=config["num_attention_heads"], ffn_hidden_size=config["intermediate_size"],
            seq_length=config["max_position_embeddings"], num_tokentypes=config.get("type_vocab_size", 2),
            binary_head=binary_head, hidden_dropout=config.get("hidden_dropout_prob", 0.1),
            attention_dropout=config.get("attention_probs_dropout_prob", 0.1),
            init_method_std=config.get("initializer_range", 0.02),
            layernorm_epsilon=config.get("layer_norm_eps", 1e-12))
    except KeyError as error:
        raise InputError(f"{where}: config.json lacks {error}") from None


def hf_tokens(directory: Path, rows: int) -> tuple[list[str], bool]:
    """The HF model's vocabulary and whether it lowercases: vocab.txt and its casing through
    `load_vocabulary`, else the tokens of tokenizer.json with the casing the directory records."""
    if (directory / VOCAB_FILE).is_file():
        vocabulary = load_vocabulary(directory)
        tokens, lowercase = list(vocabulary.tokens), vocabulary.lowercase
    elif (directory / HF_TOKENIZER_FILE).is_file():
        tokens = tokenizer_json_tokens(directory / HF_TOKENIZER_FILE)
        lowercase = recorded_casing(directory)[0]
    else:
        raise InputError(f"{directory}: no {VOCAB_FILE} or {HF_TOKENIZER_FILE} to take the vocabulary from")
    if len(tokens) > rows:
        raise InputError(f"{directory}: the tokenizer has {len(tokens)} tokens but the model only {rows} "
                         "embedding rows")
    return tokens, lowercase


def tokenizer_json_tokens(path: Path) -> list[str]:
    """The tokens of a WordPiece tokenizer.json, in id order (an HF model may ship no vocab.txt)."""
    model = json.loads(path.read_text(encoding="utf-8")).get("model", {})
    if model.get("type") != "WordPiece":
        raise InputError(f"{path}: not a WordPiece tokenizer")
    by_id = sorted((index, token) for token, index in model["vocab"].items())
    if [index for index, _ in by_id] != list(range(len(by_id))):
        raise InputError(f"{path}: token ids are not 0..{len(by_id) - 1}")
    return [token for _, token in by_id]


def check_names(weights: HfWeights, shapes: Shapes, where: Path) -> list[str]:
    """Refuse unknown or missing encoder weights (naming them); return the heads to start fresh."""
    wanted = {name for key in megatron_keys(shapes) for name in hf_names(key, shapes)}
    present = weights.names()
    unknown = sorted(present - wanted - HF_TIED - _IGNORED - {n for n in BINARY_HEAD_WEIGHTS.values()})
    if unknown:
        shown = ", ".join(unknown[:10]) + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
        raise InputError(f"{where}: weights that do not belong to a MegatronBert model: {shown}")
    missing = sorted(wanted - present)
    encoder = [name for name in missing if not name.startswith(_HEAD_PREFIXES)]
    if encoder:
        shown = ", ".join(encoder[:10]) + (f" and {len(encoder) - 10} more" if len(encoder) > 10 else "")
        raise InputError(f"{where}: weights missing: {shown}")
    if "cls.predictions.decoder.weight" in present:
        decoder = weights.get("cls.predictions.decoder.weight")
        if not torch.equal(decoder, weights.get("bert.embeddings.word_embeddings.weight")):
            raise InputError(f"{where}: the LM decoder is not tied to the word embeddings; megatron-core's "
                             "BERT ties them")
    return missing


def import_hf(cfg: ImportConfig) -> dict:
    """Convert a HF model directory into a step-0 checkpoint; returns what was done."""
    started = time.perf_counter()
    source, output = Path(cfg.model), Path(cfg.output)
    if not (source / "config.json").is_file():
        raise InputError(f"model={source}: no config.json (a HF model directory is needed)")
    if checkpoint.saved_iterations(output) or (output / checkpoint.TRACKER).exists():
        raise InputError(f"output={output} already holds a checkpoint; choose a new directory")
    check_output_path(output, "output", cfg.overwrite, lambda path: False, inputs=[source],
                      what="checkpoint directory")
    if cfg.dtype not in DTYPES:
        raise InputError(f"dtype={cfg.dtype}: use {', '.join(DTYPES)}")
    config = json.loads((source / "config.json").read_text(encoding="utf-8"))
    weights = HfWeights(source)
    binary_head = cfg.binary_head
    if binary_head is None:
        binary_head = "cls.seq_relationship.weight" in weights.names()
    name = cfg.name or source.resolve().name
    model = model_config_from_hf(config, name, binary_head, source / "config.json")
    rows = int(config.get("vocab_size", 0))
    tokens, lowercase = hf_tokens(source, rows)
    # Keep every HF embedding row (the public GatorTron configs already count the padding).
    padded = padded_vocab_size(max(rows, len(tokens)), cfg.parallel.tensor, cfg.make_vocab_size_divisible_by)
    shapes = Shapes(num_layers=model.num_layers, num_attention_heads=model.num_attention_heads,
                    vocab_size=rows, padded_vocab_size=padded, binary_head=binary_head)
    fresh = check_names(weights, shapes, source)
    unused = sorted(set(BINARY_HEAD_WEIGHTS.values()) & weights.names()) if not binary_head else []
    if unused:
        logger.warning("binary_head=false: %s from %s not imported", ", ".join(unused), source)
    if fresh:
        logger.warning("%d head weight(s) absent from %s start from megatron-core's initialization: %s",
                       len(fresh), source, ", ".join(fresh))

    with atomic_directory(output / "vocab") as staging:
        export_tokenizer(tokens, staging, lowercase)
    with single_process_megatron():
        bert = build_whole_model(model, padded, cfg.dtype)
        filled = fill_model(bert, weights, shapes, skip=set(fresh))
        position = {"consumed_samples": 0, "padded_vocab_size": padded, "vocab_size": len(tokens),
                    "vocab": str((output / "vocab").resolve()), "model": model.name,
                    "vocabulary": load_vocabulary(output / "vocab", lowercase).identity(),
                    "model_config": model_record(model), "imported_from": str(source.resolve())}
        checkpoint.save_checkpoint(output, 0, [bert], None, None, position, keep_last=1, with_rng=False)
    summary = {"source": str(source), "output": str(output), "weights": filled, "fresh": fresh,
               "padded_vocab_size": padded, "vocab_size": len(tokens), "model_config": model_record(model)}
    overrides = " ".join(f"model.{name}={str(getattr(model, name)).lower()}" for name in ARCHITECTURE_FIELDS)
    logger.info("imported %s (%d weights, vocab %d padded to %d, %s) into %s in %.1f s; continue it with "
                "python -m pretrain checkpoint.dir=%s data.vocab=%s %s ...", model.name, filled, len(tokens),
                padded, cfg.dtype, output, time.perf_counter() - started, output, output / "vocab", overrides)
    return summary


def fill_model(bert, weights: HfWeights, shapes: Shapes, skip: set[str]) -> int:
    """Copy the HF weights into megatron-core's model, one global weight at a time; returns how
    many megatron-core weights were filled (heads in `skip` keep their initialization)."""
    by_key: dict[str, list] = {}
    for value in bert.sharded_state_dict().values():
        if isinstance(value, ShardedTensor):  # not the layers' _extra_state objects
            by_key.setdefault(value.key, []).append(value)
    unknown = sorted(set(by_key) - set(megatron_keys(shapes)))
    if unknown:  # a megatron-core change this mapping does not know yet
        raise RuntimeError(f"megatron-core model weights without a HF mapping: {', '.join(unknown)}")
    filled = 0
    with torch.no_grad():
        for key, shards in by_key.items():
            if any(name in skip for name in hf_names(key, shapes)):
                continue
            for shard in shards:
                # Stacked weights are filled a layer at a time (the layer is the first global
                # offset): only one layer's source tensors are in memory besides the model.
                layer = shard.global_offset[0] if is_stacked(key) else None
                part = from_hf(key, weights.read(hf_names(key, shapes, layer)), shapes, layer)
                if tuple(part.shape) != tuple(shard.data.shape):
                    raise InputError(f"{weights.directory}: {key} has shape {tuple(part.shape)}, the model "
                                     f"expects {tuple(shard.data.shape)} (config.json and weights disagree)")
                shard.data.copy_(part)
            filled += 1
    return filled
