"""Apply a fine-tuned model to documents and write the entities back in the input's format.

    python -m finetune.predict model=runs/deid/model input=notes/ format=txt output=preds.jsonl
    python -m finetune.predict model=runs/deid/model input=i2b2_2014/test format=i2b2_2014 output=preds_xml/
    python -m finetune.predict model=runs/n2c2/model input=n2c2/test format=brat output=preds_brat/ \
        precision=bf16 batch_size=32

Inputs: any format of `finetune.formats` (its gold entities, if any, are replaced), plain text
(`format=txt`: a `.txt` file or a directory of them, subfolders included, one document per file,
id = the relative path without the suffix) and
canonical JSONL. Output: the same format (txt input -> JSONL unless `output_format=brat`), exact
character offsets, each entity with `attributes.score` (mean probability of its words' labels;
written where the format has room for attributes: JSONL, i2b2 XML). A JSONL input's records come
back whole: their other keys in place and in order, the id's JSON type kept, the entities replaced.
An existing output is replaced only with `overwrite=true`, and never when it is, holds or lies inside
the input or the model (`gatortron_common.outputs`).

Fast path (`finetune.inference`): documents are read and processed `chunk_documents` at a time,
each tokenized once, cut into windows overlapping by the model's stride, windows sorted by
length and batched under `torch.inference_mode`. JSONL and text inputs stream; other formats are
read whole. Shards for Slurm arrays: `shard_index` / `shard_count` (default from
SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT) take every shard_count-th document, and `{shard}`
in `output` is replaced by the shard index. Ends with a summary: documents, tokens, entities per
type, tokens/s. Settings: configs/finetune/predict.yaml.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hydra
from omegaconf import MISSING, DictConfig
from tqdm import tqdm

from finetune.decoding import DECODINGS
from finetune.document import Document, read_jsonl, write_jsonl
from finetune.formats import FORMATS, read_corpus
from finetune.formats.common import read_text, text_files
from finetune.formats.outputs import check_output, write_output
from finetune.inference import LongNoteProgress, Predictor
from finetune.model import describe, load_ner_model
from gatortron_common.atomic import restrict_outputs_to
from gatortron_common.cli import run_command, run_stage
from gatortron_common.logging import InputError, get_logger
from gatortron_common.outputs import replacing
from gatortron_common.settings import HYDRA_VERSION, config_dir, register_schema
from gatortron_common.shards import resolve_shard

logger = get_logger("finetune.predict")
TEXT_FORMAT = "txt"


@dataclass
class PredictConfig:
    """Settings of `python -m finetune.predict`.

    Attributes:
        model: a model directory written by `python -m finetune` (its `model/`).
        input: the documents: a file or directory, as `format` wants.
        format: `txt` or one of `finetune.formats.FORMATS`.
        output: where predictions go (a file for jsonl/conll, else a directory); `{shard}` is
            replaced by the shard index. Never the input or the model, a path holding them or one
            inside them.
        output_format: the output's format; None = `format` (jsonl for txt input).
        batch_size: the most windows per forward pass.
        batch_tokens: the most tokens per forward pass (0 = no limit; None = 512 on a CPU, no
            limit on a GPU).
        precision: `fp32`, `bf16` (autocast; fast on CPUs with bf16 units and on GPUs) or `fp16` (GPU).
        device: `auto`, `cpu`, `cuda` or `cuda:N`.
        stride: subwords shared by neighbouring windows; None keeps the model's.
        decoding: `viterbi` or `argmax`; None keeps the model's.
        chunk_documents: documents tokenized and batched together.
        shard_index: this process's shard (None: SLURM_ARRAY_TASK_ID, else 0).
        shard_count: number of shards (None: SLURM_ARRAY_TASK_COUNT, else 1).
        read_options: reader options (e.g. `allow_unknown` for i2b2_2014).
        write_options: writer options.
        overwrite: replace an existing output (a file or a directory, whichever is there).
        log_level: logging level.
    """

    model: str = MISSING
    input: str = MISSING
    format: str = MISSING
    output: str = MISSING
    output_format: str | None = None
    batch_size: int = 16
    batch_tokens: int | None = None
    precision: str = "fp32"
    device: str = "auto"
    stride: int | None = None
    decoding: str | None = None
    chunk_documents: int = 64
    shard_index: int | None = None
    shard_count: int | None = None
    read_options: dict[str, Any] = field(default_factory=dict)
    write_options: dict[str, Any] = field(default_factory=dict)
    overwrite: bool = False
    log_level: str = "INFO"


register_schema("finetune_predict_schema", PredictConfig)


def read_text_documents(path: Path) -> tuple[Iterator[Document], int]:
    """Plain-text documents (streamed) and how many: one file, or every `.txt` file under a directory,
    subfolders included (`finetune.formats.common.text_files`); id = the relative path without its
    suffix (`sub/a`)."""

    if not path.exists():
        raise InputError(f"input={path}: no such file or directory")
    files = text_files(path)
    return (Document(id=Path(name).with_suffix("").as_posix(), text=read_text(file))
            for file, name in files), len(files)


def _count_lines(path: Path) -> int:
    """Non-blank lines of a JSONL file, counted in binary blocks (a fraction of the reading time)."""
    with open(path, "rb") as handle:
        return sum(1 for line in handle if line.strip())


def read_documents(settings: PredictConfig) -> tuple[Iterable[Document], int]:
    """The input documents, streamed where the format allows (txt, jsonl), and how many (for the
    progress bar's total and ETA)."""
    source = Path(settings.input)
    if settings.format == TEXT_FORMAT:
        return read_text_documents(source)
    if settings.format == "jsonl" and not settings.read_options:
        if not source.is_file():
            raise InputError(f"input={source}: jsonl input must be a file")
        return read_jsonl(source), _count_lines(source)

    documents = list(read_corpus(source, settings.format, **settings.read_options))
    return documents, len(documents)


def validate(settings: PredictConfig) -> tuple[str, Path, int, int]:
    """Check every setting before work; return (output format, output path, shard index, count)."""

    if settings.format not in (TEXT_FORMAT, *FORMATS):
        raise InputError(f"format={settings.format}: expected txt or one of {', '.join(FORMATS)}")
    output_format = settings.output_format or ("jsonl" if settings.format == TEXT_FORMAT else settings.format)
    if output_format not in FORMATS:
        raise InputError(f"output_format={output_format}: expected one of {', '.join(FORMATS)}")
    if settings.decoding is not None and settings.decoding not in DECODINGS:
        raise InputError(f"decoding={settings.decoding}: expected one of {', '.join(DECODINGS)}")
    if settings.chunk_documents < 1:
        raise InputError(f"chunk_documents={settings.chunk_documents}: must be at least 1")
    index, count = resolve_shard(settings.shard_index, settings.shard_count)
    if count > 1 and "{shard}" not in settings.output:
        raise InputError("output must contain {shard} when shard_count > 1 (one output per shard)")
    output = Path(settings.output.replace("{shard}", str(index)))
    source = Path(settings.input)
    if not source.exists():
        raise InputError(f"input={source}: no such file or directory")
    # One output rule: never the documents or the model (nor holding or inside them); an existing
    # output, or a directory where a file is written (and the reverse), only with overwrite=true.
    check_output(output, output_format, settings.overwrite, [source, settings.model], settings.write_options)
    return output_format, output, index, count


def predict(settings: PredictConfig) -> dict[str, Any]:
    """Predict entities for every input document and write them; return the summary (counts only)."""
    output_format, output, index, count = validate(settings)
    restrict_outputs_to([settings.input])
    ner = load_ner_model(settings.model)
    predictor = Predictor(ner, batch_size=settings.batch_size, precision=settings.precision,
                          device=settings.device, stride=settings.stride, decoding=settings.decoding,
                          batch_tokens=settings.batch_tokens, on_windows=LongNoteProgress())
    logger.info("model %s: %s on %s (%s)", settings.model, describe(predictor.info), predictor.device,
                settings.precision)
    documents, total = read_documents(settings)
    if count > 1:
        documents = (document for position, document in enumerate(documents) if position % count == index)
        total = len(range(index, total, count))
    progress = tqdm(desc="predict", total=total, unit=" docs", mininterval=2.0)

    def predictions() -> Iterator[Document]:
        for document in predictor.predict(documents, settings.chunk_documents):
            progress.update(1)
            yield document

    if output_format == "jsonl" and not settings.write_options:
        with replacing(output) as staging:  # takes the place of what validate allowed to be replaced
            write_jsonl(predictions(), staging)  # streamed
    else:
        write_output(predictions(), output, output_format, **settings.write_options)
    progress.close()
    if not predictor.stats.documents:
        logger.warning("the input holds no documents%s; wrote an empty output",
                       " for this shard" if count > 1 else "")
    summary = {**predictor.stats.as_dict(), "output": str(output), "format": output_format,
               "shard": {"index": index, "count": count}}
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
