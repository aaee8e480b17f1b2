"""Token-classification models: built from a pretrained encoder, saved self-describing, loaded back.

A fine-tuned model directory holds `config.json` (with `id2label` / `label2id` and a
`gatortron_ner` block: label scheme, the type -> category map for writing formats such as i2b2
2014, window size and stride, decoding, and the recipe it was trained with), the weights, and the
tokenizer files beside them. It loads with the Auto classes alone:

- `head=linear`: HF's own `MegatronBertForTokenClassification` / `BertForTokenClassification`;
- `head=mlp` (NeMo's and GatorTron's head): `AutoModelForTokenClassification.from_pretrained(dir,
  trust_remote_code=True)` runs `modeling_gatortron_ner.py`, which is saved into the directory.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from transformers import AutoConfig, AutoModelForTokenClassification, AutoTokenizer, PretrainedConfig

from finetune.models.modeling_gatortron_ner import GatorTronNerConfig, MegatronBertForTokenClassificationMLP
from gatortron_common.atomic import atomic_directory
from gatortron_common.logging import InputError

NER_KEY = "gatortron_ner"
HEADS: tuple[str, ...] = ("linear", "mlp")
ENCODER_TYPES: tuple[str, ...] = ("megatron-bert", "bert", GatorTronNerConfig.model_type)

AutoConfig.register(GatorTronNerConfig.model_type, GatorTronNerConfig, exist_ok=True)
AutoModelForTokenClassification.register(GatorTronNerConfig, MegatronBertForTokenClassificationMLP,
                                         exist_ok=True)
# save_pretrained copies the head's module into the directory and writes `auto_map` for it.
GatorTronNerConfig.register_for_auto_class()
MegatronBertForTokenClassificationMLP.register_for_auto_class("AutoModelForTokenClassification")


@dataclass
class NerInfo:
    """What a fine-tuned model needs besides its weights to turn text into entities.

    Args:
        labels: label vocabulary in output order (`O` first).
        scheme: `BIO` or `BIOES`.
        categories: entity type -> category, for formats that write both (i2b2 2014 NAME/PATIENT).
        max_seq_length: window length in subwords, special tokens included.
        stride: subwords shared by neighbouring windows.
        decoding: `viterbi` or `argmax`.
        recipe: the training settings (task recipe), kept for the record.
    """

    labels: list[str]
    scheme: str = "BIO"
    categories: dict[str, str] = field(default_factory=dict)
    max_seq_length: int = 512
    stride: int = 128
    decoding: str = "viterbi"
    recipe: dict[str, Any] = field(default_factory=dict)

    def block(self) -> dict[str, Any]:
        """The `gatortron_ner` block of config.json (labels live in `id2label`)."""
        values = asdict(self)
        values.pop("labels")
        return values


@dataclass
class NerModel:
    """A loaded fine-tuned model with its tokenizer and `NerInfo`; `source`: the directory it was
    loaded from (None for a model built in memory)."""

    model: Any
    tokenizer: Any
    info: NerInfo
    source: Path | None = None


def encoder_config(path: str | Path) -> PretrainedConfig:
    """The config of a starting model directory, checked to be a BERT-style encoder.

    Raises:
        InputError: no such directory, no config.json, or a model type we cannot fine-tune.
    """
    directory = Path(path)
    if not (directory / "config.json").is_file():
        raise InputError(f"model={directory}: not a Hugging Face model directory (no config.json)")
    try:
        config = AutoConfig.from_pretrained(directory, local_files_only=True)
    except (OSError, ValueError, KeyError) as error:
        raise InputError(f"model={directory}: config.json cannot be read ({type(error).__name__})") from None
    if config.model_type not in ENCODER_TYPES:
        raise InputError(f"model={directory}: model_type {config.model_type!r} is not one of "
                         f"{', '.join(ENCODER_TYPES)}")
    return config


def ner_info_of(config: PretrainedConfig) -> NerInfo | None:
    """The `NerInfo` saved in a fine-tuned model's config, or None for a plain encoder."""
    block = getattr(config, NER_KEY, None)
    if not block:
        return None
    labels = [config.id2label[index] for index in sorted(int(key) for key in config.id2label)]
    return NerInfo(labels=labels, **block)


def build_model(base: str | Path, labels: list[str], head: str, head_layers: int = 2,
                head_dropout: float = 0.1) -> Any:
    """A token-classification model: the encoder weights of `base` plus a new head for `labels`.

    Args:
        base: a HF `megatron-bert` or `bert` directory (our export, a public GatorTron checkpoint,
            or a fine-tuned model whose head is replaced).
        labels: label vocabulary (`O` first).
        head: `linear` (HF's classifier) or `mlp` (NeMo's: dropout, `head_layers` linear layers).
        head_layers: layers of the `mlp` head.
        head_dropout: dropout before the head.
    """
    config = encoder_config(base)
    mapping = {"id2label": dict(enumerate(labels)), "label2id": {label: i for i, label in enumerate(labels)},
               "num_labels": len(labels)}
    if head == "linear":
        if config.model_type == GatorTronNerConfig.model_type:
            raise InputError(f"model={base}: has an mlp head; fine-tune it with head=mlp")
        config.update({**mapping, "classifier_dropout": head_dropout})
        return AutoModelForTokenClassification.from_pretrained(base, config=config, local_files_only=True,
                                                               ignore_mismatched_sizes=True)
    if head != "mlp":
        raise InputError(f"head={head!r}: expected one of {', '.join(HEADS)}")
    if config.model_type == "bert":
        raise InputError(f"model={base}: the mlp head is built on megatron-bert encoders; use head=linear "
                         f"for a bert model")
    values = {key: value for key, value in config.to_dict().items()
              if key not in ("model_type", "architectures", "auto_map", "transformers_version", NER_KEY,
                             "id2label", "label2id", "num_labels")}
    ner_config = GatorTronNerConfig(**values, **mapping, head_layers=head_layers, head_dropout=head_dropout)
    return MegatronBertForTokenClassificationMLP.from_pretrained(
        base, config=ner_config, local_files_only=True, ignore_mismatched_sizes=True)


def save_ner_model(model: Any, tokenizer: Any, info: NerInfo, target: str | Path) -> None:
    """Write the model, its tokenizer and `info` into `target`, replacing it as a whole."""
    model.config.update({NER_KEY: info.block()})
    with atomic_directory(target) as staging:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)


def load_ner_model(path: str | Path) -> NerModel:
    """A fine-tuned model directory: model (eval mode), fast tokenizer and `NerInfo`.

    Raises:
        InputError: not a model directory, or a model without NER labels.
    """
    directory = Path(path)
    config = encoder_config(directory)
    info = ner_info_of(config)
    if info is None:
        raise InputError(f"model={directory}: has no NER labels (no {NER_KEY} block in config.json); "
                         f"it is not a model fine-tuned by python -m finetune")
    try:
        tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    except (OSError, ValueError) as error:
        raise InputError(f"model={directory}: tokenizer files cannot be loaded "
                         f"({type(error).__name__})") from None
    model = AutoModelForTokenClassification.from_pretrained(directory, local_files_only=True)
    model.eval()
    return NerModel(model=model, tokenizer=tokenizer, info=info, source=directory)


def describe(info: NerInfo) -> str:
    """One line for logs: labels, scheme, window (no text)."""
    return json.dumps({"labels": len(info.labels), "scheme": info.scheme, "window": info.max_seq_length,
                       "stride": info.stride, "decoding": info.decoding})
