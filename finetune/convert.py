"""Convert an annotated corpus between benchmark formats (and the canonical JSONL).

    python -m finetune.convert input=i2b2_2014/train format=i2b2_2014 output_format=jsonl output=train.jsonl
    python -m finetune.convert input=preds.jsonl format=jsonl output_format=i2b2_2014 output=preds_xml/
    python -m finetune.convert input=n2c2_2018/train format=brat output_format=nemo output=nemo/ \
        +write_options.split=train

Formats: see `finetune.corpora.formats`. Prints a summary (documents, entities per type, what was
repaired, mismatched, adjusted or left out, by file and tag id, never text) and writes the
output atomically. Settings: configs/finetune/convert.yaml. The formats are `format` (input) and
`output_format`, as in `python -m finetune.predict`.

An existing `output` is never replaced without `overwrite=true` (nothing counts as convert's own
earlier output: a folder of XML or a .jsonl file may as well be the user's annotated corpus; the
one exception is a NeMo split added to a folder of other NeMo splits, which is left as it is), and
never, even with it, when it is, holds or lies inside the input.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hydra
from omegaconf import MISSING, DictConfig

from finetune.corpora.document import Document
from finetune.corpora.formats import FORMATS, FormatReport, read_corpus
from finetune.corpora.formats.outputs import check_output, write_output
from gatortron_common.atomic import restrict_outputs_to
from gatortron_common.cli import run_command, run_stage
from gatortron_common.logging import InputError
from gatortron_common.settings import HYDRA_VERSION, config_dir, register_schema


@dataclass
class ConvertConfig:
    """Settings of `python -m finetune.convert`.

    Attributes:
        input: the corpus to read: a file (jsonl, conll) or a directory (the other formats).
        format: its format.
        output_format: the output format.
        output: where to write (a file for jsonl/conll, else a directory); written atomically; never
            the input, a path holding it or one inside it.
        strict: span-text mismatches and entities the reader leaves out are errors.
        read_options: reader options, e.g. `{split: dev}` for nemo, `{tags: [EVENT]}` for i2b2_2012.
        write_options: writer options, e.g. `{split: dev}` for nemo.
        overwrite: replace an existing output (file or directory, whichever is there); without it
            an existing output is refused (an empty directory is used when a directory is written).
        log_level: logging level.
    """

    input: str = MISSING
    format: str = MISSING
    output_format: str = MISSING
    output: str = MISSING
    strict: bool = False
    read_options: dict[str, Any] = field(default_factory=dict)
    write_options: dict[str, Any] = field(default_factory=dict)
    overwrite: bool = False
    log_level: str = "INFO"


register_schema("finetune_convert_schema", ConvertConfig)


def summarize(documents: list[Document], read_report: FormatReport, write_report: FormatReport) -> dict:
    """Counts for the summary: documents, entities per `category/type`, and both reports."""
    types = Counter(f"{e.category}/{e.type}" if e.category else e.type for d in documents for e in d.entities)
    return {"documents": len(documents), "entities": sum(types.values()),
            "entities_per_type": dict(sorted(types.items())), "read": read_report.as_dict(),
            "write": write_report.as_dict()}


def format_summary(summary: dict, settings: ConvertConfig) -> str:
    """The summary as the lines `convert` prints."""
    lines = [f"converted {summary['documents']} document(s) with {summary['entities']} entities "
             f"from {settings.format} ({settings.input}) to {settings.output_format} ({settings.output})"]
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
        InputError: bad input, unknown format or option, or an output the output rule refuses.
    """
    source, target = Path(settings.input), Path(settings.output)
    for key, value in (("format", settings.format), ("output_format", settings.output_format)):
        if value not in FORMATS:
            raise InputError(f"{key}={value}: expected one of {', '.join(FORMATS)}")
    check_output(target, settings.output_format, settings.overwrite, [source], settings.write_options)
    restrict_outputs_to([source])
    read_report, write_report = FormatReport(strict=settings.strict), FormatReport()
    documents = read_corpus(source, settings.format, report=read_report, **settings.read_options)
    write_output(documents, target, settings.output_format, report=write_report, **settings.write_options)
    summary = summarize(documents, read_report, write_report)
    print(format_summary(summary, settings), flush=True)
    return summary


@hydra.main(config_path=config_dir("finetune"), config_name="convert", version_base=HYDRA_VERSION)
def main(cfg: DictConfig) -> None:
    run_stage(cfg, convert, "finetune.convert")


if __name__ == "__main__":
    run_command(main, ConvertConfig)
