"""megatron-core dist checkpoint -> Hugging Face `MegatronBertForPreTraining` / `...ForMaskedLM` directory.

The checkpoint is read tensor by tensor with torch's distributed-checkpoint reader (the format
megatron-core's torch_dist backend writes), each at its global shape, so a checkpoint saved at any
TP/PP layout converts the same way and at most one stacked weight (all layers of one kind) is in
memory at a time. HF tensors go out in safetensors shards as they are made.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import MISSING
from safetensors.torch import save_file
from torch.distributed.checkpoint import FileSystemReader
from torch.distributed.checkpoint import load as dcp_load
from torch.distributed.checkpoint.metadata import TensorStorageMetadata
from transformers import MegatronBertConfig

from gatortron_common.atomic import atomic_directory, atomic_write_text, restrict_outputs_to
from gatortron_common.logging import InputError, get_logger
from gatortron_common.outputs import check_output_path
from gatortron_common.settings import register_schema
from pretrain import checkpoint
from pretrain.config import ModelConfig
from pretrain.hf_layout import Shapes, megatron_keys, to_hf
from pretrain.standalone import model_config_from_dict
from tokenizer.export import export_tokenizer
from tokenizer.vocab import Vocabulary, check_same_vocabulary, load_vocabulary

logger = get_logger("pretrain.export")

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
# Parts of a checkpoint that are not model weights.
_NOT_WEIGHTS = ("optimizer.", "rng_state")
SAFETENSORS_INDEX = "model.safetensors.index.json"
EXPORT_INFO = "export_info.json"  # this exporter's own record: marks a directory it may replace
VERIFY_TOLERANCE = 1e-4  # fp32 logits, megatron-core vs HF


@dataclass
class ExportConfig:
    """Settings of `python -m pretrain.export` (configs/pretrain/hf/export.yaml).

    Attributes:
        checkpoint: a pretraining checkpoint directory (holds iter_*/ and the tracker file).
        output: the HF model directory to write (replaced as a whole when complete). An existing
            non-empty path that is not an earlier export is refused unless overwrite=true; the
            checkpoint or vocabulary (or a directory holding them) is refused always.
        overwrite: replace an existing output that is not an earlier export.
        iteration: "latest" or an iteration number.
        vocab: the tokenizer directory (default: the one the run was trained with).
        dtype: weights dtype in the output: auto (as saved), fp32, bf16 or fp16.
        max_shard_size_mb: largest safetensors file; bigger models are sharded with an index.
        verify: load the checkpoint into megatron-core and the output into HF and compare the
            masked-LM logits (needs both models in memory; fails above 1e-4 for fp32).
        log_level: logging level.
    """

    checkpoint: str = MISSING
    output: str = MISSING
    iteration: str = "latest"
    vocab: str | None = None
    dtype: str = "auto"
    max_shard_size_mb: int = 5000
    verify: bool = False
    overwrite: bool = False
    log_level: str = "INFO"


register_schema("export_schema", ExportConfig)


def resolve_iteration(root: Path, iteration: str | int) -> int:
    """The checkpoint iteration to use; a clear error when there is none or it is missing."""
    if not root.is_dir():
        raise InputError(f"checkpoint={root}: no such directory")
    if str(iteration) == "latest":
        found = checkpoint.latest_iteration(root)
        if found is None:
            raise InputError(f"{root}: no complete checkpoint ({checkpoint.TRACKER} is missing)")
        return found
    if not str(iteration).isdigit():
        raise InputError(f"iteration={iteration}: use 'latest' or a number")
    directory = checkpoint.iteration_dir(root, int(iteration))
    available = ", ".join(str(i) for i in checkpoint.complete_iterations(root)) or "none"
    if not directory.is_dir():
        raise InputError(f"{root}: no checkpoint at iteration {iteration} (available: {available})")
    if not checkpoint.is_complete(directory):
        raise InputError(f"{directory}: incomplete checkpoint (no {checkpoint.COMPLETE_MARKER}: its save did "
                         f"not finish); available: {available}")
    return int(iteration)


def checkpoint_model(root: Path, iteration: int) -> tuple[ModelConfig, dict]:
    """The model settings and position a checkpoint was saved with."""
    position = checkpoint.saved_position(root, iteration)
    if "model_config" not in position:
        raise InputError(f"{checkpoint.iteration_dir(root, iteration)}: the checkpoint does not record its "
                         "model settings (saved by an older version); save it again with this version")
    return model_config_from_dict(position["model_config"]), position


def vocabulary(cfg_vocab: str | None, position: dict, root: Path) -> Vocabulary:
    """The vocabulary to export, checked against the one the checkpoint was trained with (its
    recorded identity: contents and casing, not only the size)."""
    named = cfg_vocab or position.get("vocab")
    if not named:
        raise InputError(f"{root}: the checkpoint does not name its vocabulary; "
                         "give vocab=<tokenizer directory>")
    if not cfg_vocab and not Path(named).exists():  # e.g. a checkpoint copied from another cluster
        raise InputError(f"{root}: the vocabulary the checkpoint was trained with ({named}) is missing here; "
                         "give vocab=<tokenizer directory>")
    vocab = load_vocabulary(named)
    setting = f"vocab={named}" if cfg_vocab else f"its recorded vocabulary {named}"
    check_same_vocabulary(position.get("vocabulary"), vocab.identity(), f"the checkpoint in {root}", setting)
    expected = position.get("vocab_size")
    if expected is not None and vocab.size != expected:
        raise InputError(f"{setting} has {vocab.size} tokens, the checkpoint in {root} was trained "
                         f"with {expected}")
    if vocab.size > position["padded_vocab_size"]:
        raise InputError(f"{setting} has {vocab.size} tokens, more than the checkpoint's "
                         f"{position['padded_vocab_size']} embedding rows")
    return vocab


def is_export(path: Path) -> bool:
    """Whether `path` is an earlier output of this exporter (which a new export may replace)."""
    weights = (path / "model.safetensors").is_file() or (path / SAFETENSORS_INDEX).is_file()
    return path.is_dir() and weights and (path / "config.json").is_file() and (path / EXPORT_INFO).is_file()


def hf_config(model: ModelConfig, vocab_size: int, dtype: torch.dtype,
              pad_token_id: int) -> MegatronBertConfig:
    architecture = "MegatronBertForPreTraining" if model.binary_head else "MegatronBertForMaskedLM"
    return MegatronBertConfig(
        vocab_size=vocab_size, hidden_size=model.hidden_size, num_hidden_layers=model.num_layers,
        num_attention_heads=model.num_attention_heads, intermediate_size=model.ffn_hidden_size,
        hidden_act="gelu", hidden_dropout_prob=model.hidden_dropout,
        attention_probs_dropout_prob=model.attention_dropout, max_position_embeddings=model.seq_length,
        type_vocab_size=model.num_tokentypes, initializer_range=model.init_method_std,
        layer_norm_eps=model.layernorm_epsilon, pad_token_id=pad_token_id, architectures=[architecture],
        dtype=str(dtype).removeprefix("torch."))


class ShardWriter:
    """safetensors files of at most `max_bytes` each, written as tensors arrive, plus HF's index.

    Files are named model-00001-of-0000N.safetensors once N is known (model.safetensors if one).
    """

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory, self.max_bytes = directory, max_bytes
        self.pending: dict[str, torch.Tensor] = {}
        self.pending_bytes = 0
        self.files: list[tuple[Path, list[str]]] = []
        self.total_bytes = 0

    def add(self, name: str, tensor: torch.Tensor) -> None:
        size = tensor.numel() * tensor.element_size()
        if self.pending and self.pending_bytes + size > self.max_bytes:
            self._flush()
        self.pending[name] = tensor
        self.pending_bytes += size
        self.total_bytes += size

    def _flush(self) -> None:
        path = self.directory / f".shard-{len(self.files) + 1:05d}.safetensors"
        save_file(self.pending, str(path), metadata={"format": "pt"})
        self.files.append((path, list(self.pending)))
        self.pending, self.pending_bytes = {}, 0

    def close(self) -> list[str]:
        """Write what is left, name the files, write the index; returns the file names."""
        if self.pending:
            self._flush()
        if len(self.files) == 1:
            self.files[0][0].rename(self.directory / "model.safetensors")
            return ["model.safetensors"]
        count = len(self.files)
        weight_map, names = {}, []
        for number, (path, keys) in enumerate(self.files, start=1):
            name = f"model-{number:05d}-of-{count:05d}.safetensors"
            path.rename(self.directory / name)
            names.append(name)
            weight_map.update(dict.fromkeys(keys, name))
        index = {"metadata": {"total_size": self.total_bytes}, "weight_map": dict(sorted(weight_map.items()))}
        atomic_write_text(self.directory / SAFETENSORS_INDEX, json.dumps(index, indent=2) + "\n")
        return names


def check_weights(metadata, model: ModelConfig, shapes: Shapes, where: Path) -> list[str]:
    """The checkpoint's model weight names, after checking none is missing or unknown."""
    stored = [key for key, value in metadata.state_dict_metadata.items()
              if isinstance(value, TensorStorageMetadata) and not key.startswith(_NOT_WEIGHTS)]
    expected = megatron_keys(shapes)
    unknown = sorted(set(stored) - set(expected))
    missing = [key for key in expected if key not in stored]
    if unknown:
        raise InputError(f"{where}: weights this exporter does not know: {', '.join(unknown)}")
    if missing:
        raise InputError(f"{where}: weights missing for model {model.name} "
                         f"(binary_head={model.binary_head}): {', '.join(missing)}")
    embedding = metadata.state_dict_metadata["embedding.word_embeddings.weight"].size
    if tuple(embedding) != (shapes.padded_vocab_size, model.hidden_size):
        raise InputError(f"{where}: word embeddings are {tuple(embedding)}, the saved settings say "
                         f"({shapes.padded_vocab_size}, {model.hidden_size})")
    return expected


def export_checkpoint(cfg: ExportConfig) -> dict:
    """Convert one checkpoint; returns the summary written to <output>/export_info.json."""
    started = time.perf_counter()
    if cfg.dtype != "auto" and cfg.dtype not in DTYPES:
        raise InputError(f"dtype={cfg.dtype}: use auto, {', '.join(DTYPES)}")
    if cfg.max_shard_size_mb < 1:
        raise InputError(f"max_shard_size_mb={cfg.max_shard_size_mb}: use 1 or more")
    root = Path(cfg.checkpoint)
    iteration = resolve_iteration(root, cfg.iteration)
    directory = checkpoint.iteration_dir(root, iteration)
    model, position = checkpoint_model(root, iteration)
    vocab = vocabulary(cfg.vocab, position, root)
    tokens = list(vocab.tokens)
    vocab_dir = vocab.path.parent
    check_output_path(cfg.output, "output", cfg.overwrite, is_export, inputs=[root, vocab.path, vocab_dir],
                      what="HF model directory written by pretrain.export")
    restrict_outputs_to([directory])  # weights can hold training text: no more readable than the checkpoint
    shapes = Shapes(num_layers=model.num_layers, num_attention_heads=model.num_attention_heads,
                    vocab_size=len(tokens), padded_vocab_size=position["padded_vocab_size"],
                    binary_head=model.binary_head)
    reader = FileSystemReader(str(directory))
    metadata = reader.read_metadata()
    keys = check_weights(metadata, model, shapes, directory)
    saved_dtype = metadata.state_dict_metadata[keys[0]].properties.dtype
    dtype = saved_dtype if cfg.dtype == "auto" else DTYPES[cfg.dtype]

    with atomic_directory(cfg.output) as staging:
        writer = ShardWriter(staging, cfg.max_shard_size_mb * 1024 * 1024)
        parameters = 0
        for key in keys:
            stored = metadata.state_dict_metadata[key]
            tensor = torch.empty(stored.size, dtype=stored.properties.dtype)
            dcp_load({key: tensor}, storage_reader=FileSystemReader(str(directory)), no_dist=True)
            for name, converted in to_hf(key, tensor, shapes):
                writer.add(name, converted.to(dtype))
                parameters += converted.numel()
            del tensor
        files = writer.close()
        export_tokenizer(tokens, staging, vocab.lowercase)
        hf_config(model, len(tokens), dtype, pad_token_id=_pad_id(tokens)).save_pretrained(str(staging))
        summary = {"checkpoint": str(directory.resolve()), "iteration": iteration, "model": model.name,
                   "parameters": parameters, "dtype": str(dtype).removeprefix("torch."), "files": files,
                   "vocab": str(vocab_dir.resolve()), "vocab_size": len(tokens),
                   "padded_vocab_size": shapes.padded_vocab_size, "vocabulary": vocab.identity()}
        if cfg.verify:
            summary["verify_max_abs_logit_diff"] = verify(directory, staging, model, shapes, dtype)
        atomic_write_text(staging / EXPORT_INFO, json.dumps(summary, indent=2) + "\n")
    logger.info("exported %s (iteration %d, %s, %.1fM parameters, %s, %d file(s)) to %s in %.1f s%s",
                model.name, iteration, summary["dtype"], parameters / 1e6,
                "binary head" if model.binary_head else "no binary head", len(files), cfg.output,
                time.perf_counter() - started,
                f"; verified: max |logit difference| {summary['verify_max_abs_logit_diff']:.2e}"
                if cfg.verify else "")
    return summary


def verify(directory: Path, exported: Path, model: ModelConfig, shapes: Shapes, dtype: torch.dtype) -> float:
    """Masked-LM logits of megatron-core (the checkpoint) vs HF (the export) on random tokens,
    with padding in the second sequence; returns the largest absolute difference."""
    from transformers import AutoModelForMaskedLM, AutoModelForPreTraining
    from transformers.utils import logging as hf_logging

    from pretrain.standalone import build_whole_model, load_model_weights, mlm_logits, single_process_megatron

    generator = torch.Generator().manual_seed(0)
    length = min(model.seq_length, 64)
    tokens = torch.randint(0, shapes.vocab_size, (2, length), generator=generator)
    types = torch.zeros_like(tokens)
    types[:, length // 2:] = 1 if model.num_tokentypes > 1 else 0
    mask = torch.ones_like(tokens)
    mask[1, length - length // 4:] = 0
    with single_process_megatron():
        bert = build_whole_model(model, shapes.padded_vocab_size)
        load_model_weights(bert, str(directory))
        reference = mlm_logits(bert, tokens, types, mask)[..., : shapes.vocab_size]
        del bert
    # The class config.json names (with the sentence-order head if there is one): nothing unused.
    auto = AutoModelForPreTraining if model.binary_head else AutoModelForMaskedLM
    hf_logging.disable_progress_bar()
    hf = auto.from_pretrained(str(exported), dtype=torch.float32).eval()
    with torch.no_grad():
        output = hf(input_ids=tokens, token_type_ids=types, attention_mask=mask)
    logits = output.prediction_logits if model.binary_head else output.logits
    keep = mask.bool()
    difference = float((logits[keep] - reference[keep]).abs().max())
    if dtype == torch.float32 and difference > VERIFY_TOLERANCE:
        raise InputError(f"verification failed: megatron-core and HF logits differ by {difference:.2e} "
                         f"(> {VERIFY_TOLERANCE}); the export in progress was discarded")
    return difference


def _pad_id(tokens: list[str]) -> int:
    return tokens.index("[PAD]") if "[PAD]" in tokens else 0
