"""Apply a fine-tuned model to documents and write the entities back in the input's format.

    python -m finetune.predict model=runs/deid/model input=notes/ format=txt output=preds.jsonl
    python -m finetune.predict model=runs/deid/model input=i2b2_2014/test format=i2b2_2014 output=preds_xml/
    python -m finetune.predict model=runs/n2c2/model input=n2c2/test format=brat output=preds_brat/ \
        precision=bf16 batch_size=32

Inputs: any format of `finetune.corpora.formats` (its gold entities, if any, are replaced), plain text
(`format=txt`: a `.txt` file or a directory of them, subfolders included, one document per file,
id = the relative path without the suffix) and
canonical JSONL. Output: the same format (txt input -> JSONL unless `output_format=brat`), exact
character offsets, each entity with `attributes.score` (mean probability of its words' labels;
written where the format has room for attributes: JSONL, i2b2 XML). A JSONL input's records come
back whole: their other keys in place and in order, the id's JSON type kept, the entities replaced.
An existing output is replaced only with `overwrite=true`, and never when it is, holds or lies inside
the input or the model (`gatortron_common.outputs`).

Fast path (`finetune.inference.predictor`): documents are read and processed `chunk_documents` at a time,
each tokenized once, cut into windows overlapping by the model's stride, windows sorted by
length and batched under `torch.inference_mode`. JSONL and text inputs stream; other formats are
read whole. Shards for Slurm arrays (`finetune.inference.runner`): `shard_index` / `shard_count` (default
from SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT) take the shard_index-th contiguous part of the
input (a JSONL task reads only its lines), and `{shard}` in `output` is replaced by the shard index.
`<output>.done.json`, written last, marks a finished run: rerun identically, it is skipped. Ends
with a summary: documents, tokens, entities per type, tokens/s. Settings: configs/finetune/predict.yaml.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import hydra
from omegaconf import MISSING, DictConfig
from tqdm import tqdm

from finetune.corpora.document import Document, read_jsonl, write_jsonl
from finetune.corpora.formats import FORMATS, read_corpus
from finetune.corpora.formats.common import read_text, text_files
from finetune.corpora.formats.outputs import check_output, write_output
from finetune.inference.runner import (
    InferenceRunConfig,
    RunMarker,
    check_inference_settings,
    inputs_fingerprints,
    load_predictor,
    run_settings,
    shard_of,
)
from finetune.models.ner import describe
from finetune.tagging.decoding import DECODINGS
from gatortron_common.atomic import restrict_outputs_to
from gatortron_common.cli import run_command, run_stage
from gatortron_common.logging import InputError, get_logger
from gatortron_common.outputs import replacing
from gatortron_common.readers import LineRange
from gatortron_common.settings import HYDRA_VERSION, config_dir, register_schema
from gatortron_common.shards import WHOLE_INPUT, Shard

logger = get_logger("finetune.predict")
TEXT_FORMAT = "txt"


@dataclass
class PredictConfig(InferenceRunConfig):
    """Settings of `python -m finetune.predict` (and of every inference run: `finetune.inference.runner`).

    Attributes:
        model: a model directory written by `python -m finetune` (its `model/`).
        input: the documents: a file or directory, as `format` wants.
        format: `txt` or one of `finetune.corpora.formats.FORMATS`.
        output: where predictions go (a file for jsonl/conll, else a directory); `{shard}` is
            replaced by the shard index. Never the input or the model, a path holding them or one
            inside them.
        output_format: the output's format; None = `format` (jsonl for txt input).
        stride: subwords shared by neighbouring windows; None keeps the model's.
        decoding: `viterbi` or `argmax`; None keeps the model's.
        read_options: reader options (e.g. `allow_unknown` for i2b2_2014).
        write_options: writer options.
    """

    model: str = MISSING
    input: str = MISSING
    format: str = MISSING
    output: str = MISSING
    output_format: str | None = None
    stride: int | None = None
    decoding: str | None = None
    read_options: dict[str, Any] = field(default_factory=dict)
    write_options: dict[str, Any] = field(default_factory=dict)


register_schema("finetune_predict_schema", PredictConfig)


def read_text_documents(path: Path, shard: Shard = WHOLE_INPUT) -> tuple[Iterator[Document], int]:
    """Plain-text documents (streamed) of `shard`'s range of the files, and how many: one file, or
    every `.txt` file under a directory, subfolders included (`finetune.corpora.formats.common.text_files`);
    id = the relative path without its suffix (`sub/a`)."""

    if not path.exists():
        raise InputError(f"input={path}: no such file or directory")
    files = shard.items(text_files(path))
    return (Document(id=Path(name).with_suffix("").as_posix(), text=read_text(file))
            for file, name in files), len(files)


def _count_lines(path: Path, part: LineRange) -> int:
    """Non-blank lines of (a range of) a JSONL file, counted in binary (a fraction of the reading time)."""
    count, position = 0, part.start
    with open(path, "rb") as handle:
        handle.seek(part.start)
        for line in handle:
            if part.end is not None and position >= part.end:
                break
            position += len(line)
            count += bool(line.strip())
    return count


def read_documents(settings: PredictConfig, shard: Shard) -> tuple[Iterable[Document], int]:
    """The documents of this shard's part of the input, streamed where the format allows (txt, and
    jsonl, of which only the shard's lines are read), and how many (the progress bar's total)."""
    source = Path(settings.input)
    if settings.format == TEXT_FORMAT:
        return read_text_documents(source, shard)
    if settings.format == "jsonl" and not settings.read_options:
        if not source.is_file():
            raise InputError(f"input={source}: jsonl input must be a file")
        part = shard.part(source).lines
        return read_jsonl(source, part), _count_lines(source, part)
    documents = shard.items(read_corpus(source, settings.format, **settings.read_options))
    return documents, len(documents)


@dataclass
class Plan:
    """Checked settings: the output, this task's shard, and whether an identical run finished."""

    output_format: str
    output: Path
    shard: Shard
    marker: RunMarker
    finished: dict[str, Any] | None


def validate(settings: PredictConfig) -> Plan:
    """Check every setting before work (one `InputError` naming the first bad one)."""

    if settings.format not in (TEXT_FORMAT, *FORMATS):
        raise InputError(f"format={settings.format}: expected txt or one of {', '.join(FORMATS)}")
    output_format = settings.output_format or ("jsonl" if settings.format == TEXT_FORMAT else settings.format)
    if output_format not in FORMATS:
        raise InputError(f"output_format={output_format}: expected one of {', '.join(FORMATS)}")
    if settings.decoding is not None and settings.decoding not in DECODINGS:
        raise InputError(f"decoding={settings.decoding}: expected one of {', '.join(DECODINGS)}")
    check_inference_settings(settings)
    shard = shard_of(settings)
    output = shard.path(settings.output, "output")
    source = Path(settings.input)
    if not source.exists():
        raise InputError(f"input={source}: no such file or directory")
    identity = {"inputs": inputs_fingerprints({"input": settings.input, "model": settings.model}),
                "settings": run_settings(asdict(settings))}
    marker = RunMarker(Path(f"{output}.done.json"), identity)
    finished = marker.finished([output], settings.overwrite)
    if finished is None:
        # One output rule: never the documents or the model (nor holding or inside them); an existing
        # output, or a directory where a file is written (and the reverse), only with overwrite=true.
        check_output(output, output_format, settings.overwrite, [source, settings.model],
                     settings.write_options)
    return Plan(output_format, output, shard, marker, finished)


def predict(settings: PredictConfig) -> dict[str, Any]:
    """Predict entities for every input document and write them; return the summary (counts only).
    A rerun of an identical finished run (or shard) skips it."""
    plan = validate(settings)
    if plan.finished is not None:
        logger.info("already done by an identical run (%s): skipping; overwrite=true redoes it",
                    plan.marker.path)
        return {**plan.finished.get("summary", {}), "skipped": True}
    output, shard = plan.output, plan.shard
    restrict_outputs_to([settings.input])
    plan.marker.path.unlink(missing_ok=True)  # our own, of a run these outputs are about to replace
    predictor = load_predictor(settings.model, settings, stride=settings.stride, decoding=settings.decoding)
    logger.info("model %s: %s on %s (%s)", settings.model, describe(predictor.info), predictor.device,
                settings.precision)
    documents, total = read_documents(settings, shard)
    progress = tqdm(desc="predict", total=total, unit=" docs", mininterval=2.0)

    def predictions() -> Iterator[Document]:
        for document in predictor.predict(documents, settings.chunk_documents):
            progress.update(1)
            yield document

    if plan.output_format == "jsonl" and not settings.write_options:
        with replacing(output) as staging:  # takes the place of what validate allowed to be replaced
            write_jsonl(predictions(), staging)  # streamed
    else:
        write_output(predictions(), output, plan.output_format, **settings.write_options)
    progress.close()
    if not predictor.stats.documents:
        logger.warning("the input holds no documents%s; wrote an empty output",
                       " for this shard" if shard.count > 1 else "")
    summary = {**predictor.stats.as_dict(), "output": str(output), "format": plan.output_format,
               "shard": {"index": shard.index, "count": shard.count}}
    plan.marker.write(summary)  # last: the output is complete, and a rerun may skip
    logger.info("predicted %d documents (%d tokens, %d windows) in %.1f s: %.0f tokens/s; %d entities; "
                "wrote %s", summary["documents"], summary["tokens"], summary["windows"], summary["seconds"],
                summary["tokens_per_second"], summary["entities"], output)
    print(json.dumps(summary, indent=2), flush=True)
    return summary


@hydra.main(config_path=config_dir("finetune"), config_name="predict", version_base=HYDRA_VERSION)
def main(cfg: DictConfig) -> None:
    run_stage(cfg, predict, "finetune.predict")


if __name__ == "__main__":
    run_command(main, PredictConfig)
