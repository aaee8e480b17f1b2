"""Convert an annotated corpus between benchmark formats (and the canonical JSONL).

    python -m finetune.convert input=i2b2_2014/train from=i2b2_2014 to=jsonl output=train.jsonl
    python -m finetune.convert input=preds.jsonl from=jsonl to=i2b2_2014 output=preds_xml/
    python -m finetune.convert input=n2c2_2018/train from=brat to=nemo output=nemo/ \
        +write_options.split=train

Formats: see `finetune.formats`. Prints a summary (documents, entities per type, what was
repaired, mismatched, adjusted or left out, by file and tag id, never text) and writes the
output atomically. Settings: configs/finetune/convert.yaml; `from` and `to` are Hydra keys
(`from` is a Python keyword, so the settings object calls them `from_format` / `to_format`).
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import hydra
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import ValidationError

from finetune.document import Document
from finetune.formats import FormatReport, read_corpus, write_corpus
from gatortron_common.cli import run_stage
from gatortron_common.logging import InputError, configure_logging, get_logger
from gatortron_common.outputs import refuse_output_that_is_input

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs" / "finetune"
_logger = get_logger("finetune.convert")


@dataclass
class ConvertConfig:
    """Settings of `python -m finetune.convert`.

    Attributes:
        input: the corpus to read: a file (jsonl, conll) or a directory (the other formats).
        from_format: its format (Hydra key `from`).
        to_format: the output format (Hydra key `to`).
        output: where to write; replaced atomically, and never the input itself.
        strict: span-text mismatches and entities the reader leaves out are errors.
        read_options: reader options, e.g. `{split: dev}` for nemo, `{tags: [EVENT]}` for i2b2_2012.
        write_options: writer options, e.g. `{split: dev}` for nemo.
        log_level: logging level.
    """

    input: str = MISSING
    from_format: str = MISSING
    to_format: str = MISSING
    output: str = MISSING
    strict: bool = False
    read_options: dict[str, Any] = field(default_factory=dict)
    write_options: dict[str, Any] = field(default_factory=dict)
    log_level: str = "INFO"


def summarize(documents: list[Document], read_report: FormatReport, write_report: FormatReport) -> dict:
    """Counts for the summary: documents, entities per `category/type`, and both reports."""
    types = Counter(f"{e.category}/{e.type}" if e.category else e.type for d in documents for e in d.entities)
    return {"documents": len(documents), "entities": sum(types.values()),
            "entities_per_type": dict(sorted(types.items())), "read": read_report.as_dict(),
            "write": write_report.as_dict()}


def format_summary(summary: dict, settings: ConvertConfig) -> str:
    """The summary as the lines `convert` prints."""
    lines = [f"converted {summary['documents']} document(s) with {summary['entities']} entities "
             f"from {settings.from_format} ({settings.input}) to {settings.to_format} ({settings.output})"]
    lines += [f"  {name}: {count}" for name, count in summary["entities_per_type"].items()]
    for stage in ("read", "write"):
        part = summary[stage]
        kinds = ", ".join(f"{kind} {count}" for kind, count in part["by_kind"].items())
        lines.append(f"{stage}: {kinds}")
        lines += [f"  {count} x {reason} (first at {', '.join(part['examples'].get(reason, []))})"
                  for reason, count in part["by_reason"].items()]
    return "\n".join(lines)


def convert(settings: ConvertConfig) -> dict:
    """Read `settings.input`, write it in the output format, print and return the summary.

    Raises:
        InputError: bad input, unknown format or option, or an output that is the input.
    """
    source, target = Path(settings.input), Path(settings.output)
    # Directory formats replace `output` as a whole: it may neither be nor hold the input.
    refuse_output_that_is_input(target, [source], "output", replaces_directory=True)
    read_report, write_report = FormatReport(strict=settings.strict), FormatReport()
    documents = read_corpus(source, settings.from_format, report=read_report, **settings.read_options)
    write_corpus(documents, target, settings.to_format, report=write_report, **settings.write_options)
    summary = summarize(documents, read_report, write_report)
    print(format_summary(summary, settings), flush=True)
    return summary


def settings_config(cfg: DictConfig) -> DictConfig:
    """The typed settings from the Hydra config, whose `from` / `to` become `from_format` / `to_format`."""
    values = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)
    assert isinstance(values, dict)
    known = {"from", "to"} | {f.name for f in fields(ConvertConfig)} - {"from_format", "to_format"}
    unknown = sorted(str(key) for key in values if key not in known)
    if unknown:  # the keys come from the command line, not from a data file
        raise InputError(f"unknown setting {', '.join(unknown)}: the settings are {', '.join(sorted(known))}")
    for key in ("from", "to"):
        if values.get(key, MISSING) == MISSING:
            raise InputError(f"missing required setting {key}=...: give it on the command line")
    values["from_format"] = values.pop("from")
    values["to_format"] = values.pop("to")
    return OmegaConf.merge(OmegaConf.structured(ConvertConfig), values)


@hydra.main(config_path=str(CONFIG_DIR), config_name="convert", version_base="1.3")
def main(cfg: DictConfig) -> None:
    try:
        typed = settings_config(cfg)
    except (ValidationError, InputError) as error:
        configure_logging()
        _logger.error("%s", f"bad setting {error.full_key}: {error.msg}"
                      if isinstance(error, ValidationError) else error)
        sys.exit(2)
    run_stage(typed, convert, "finetune.convert")


if __name__ == "__main__":
    main()
