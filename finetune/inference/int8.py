"""`precision=int8` on CPUs: the fine-tuned model as an ONNX Runtime graph with int8 weights.

Why ONNX Runtime's dynamic quantization and not torchao: measured on 2 cores (AVX2 + VNNI), a
12-layer / 768-wide MegatronBert, 512 subwords, batch 1 (`bench/int8_runtimes.py`): torch fp32
~900 tokens/s, ONNX Runtime fp32 ~2,100, ONNX Runtime int8 ~5,100; torchao's int8 dynamic
activation + int8 weight ~2,300 in eager mode and ~3,100 under `torch.compile`, which compiles
again (~25 s) for every new batch shape, and windows come in every length. The int8 graph needs no
compiler, runs the same for every shape, and is a plain file that can be cached.

The fp32 model directory stays the source of truth. The graph is built from it once: exported
with `torch.onnx.export` (batch and length dynamic), checked against the torch model on two
padded batches of different lengths, then its weights quantized to int8 per output channel
(activations quantized on the fly). It is kept in a cache folder under a key made of the model
directory's files (names, sizes, modification times), the recipe and the ONNX Runtime version, so
a changed model gets a new graph and an unchanged one is never rebuilt. A build is locked (array
tasks that start together build it once) and atomic (a killed build leaves no graph that looks
complete); only the int8 graph is kept, the fp32 export is deleted.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gatortron_common.atomic import atomic_directory
from gatortron_common.fingerprint import files_fingerprint
from gatortron_common.logging import InputError, get_logger

logger = get_logger("finetune.int8")

GRAPH_FILE = "model.int8.onnx"
RECORD_FILE = "int8.json"
# What the graph is made with; part of the cache key (a change builds new graphs).
RECIPE = {"format": 2, "opset": 17, "quantized": "encoder MatMuls (not the classifier, not the embeddings)",
          "weights": "int8, per output channel", "activations": "uint8, dynamic"}
# The exported fp32 graph must reproduce the torch model's logits this closely (they differ only
# by the order of floating-point operations) before it is quantized.
EXPORT_TOLERANCE = 1e-3
# Above this size the exported graph keeps its weights in a side file (protobuf's 2 GB limit).
EXTERNAL_DATA_BYTES = 1_500_000_000


def default_cache() -> Path:
    """`$XDG_CACHE_HOME/gatortron/int8` (else `~/.cache/gatortron/int8`)."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "gatortron" / "int8"


def runtime_version() -> str:
    """The installed ONNX Runtime's version (raises InputError naming the missing package)."""
    try:
        import onnxruntime
    except ImportError:
        raise InputError("precision=int8 needs onnxruntime and onnx: pip install onnxruntime onnx") from None
    return onnxruntime.__version__


def cache_key(model_dir: Path) -> str:
    """The key of a model's graph: its files, the recipe and the runtime that quantizes it."""
    files, _ = files_fingerprint(model_dir)
    identity = json.dumps({"model": files, "recipe": RECIPE, "onnxruntime": runtime_version()},
                          sort_keys=True)
    return hashlib.sha256(identity.encode()).hexdigest()[:24]


@dataclass
class Int8Graph:
    """Where a model's int8 graph is, and whether this run built it (and how long that took)."""

    path: Path
    built: bool
    seconds: float


def int8_graph(model_dir: str | Path, model: Any, cache: str | Path | None = None) -> Int8Graph:
    """The int8 graph of the model saved in `model_dir` (loaded as `model`): from the cache, else
    built and cached (see the module docstring).

    Raises:
        InputError: onnxruntime missing, the cache folder not writable, or a graph that does not
            reproduce the model.
    """
    source = Path(model_dir)
    folder = Path(cache) if cache else default_cache()
    key = cache_key(source)
    target = folder / key
    graph = target / GRAPH_FILE
    if graph.is_file():
        logger.info("int8: the model's graph is cached: %s", graph)
        return Int8Graph(graph, built=False, seconds=0.0)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = open(folder / f".{key}.lock", "a")  # noqa: SIM115  held for the build
    except OSError as error:
        raise InputError(f"int8_cache={folder}: cannot be written ({error.strerror})") from None
    with lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # another task may be building this very graph
        if graph.is_file():
            logger.info("int8: the model's graph was built by another task: %s", graph)
            return Int8Graph(graph, built=False, seconds=0.0)
        started = time.perf_counter()
        logger.info("int8: building the graph of %s once (cache %s)", source, target)
        with atomic_directory(target) as staging:
            _build(model, staging / GRAPH_FILE)
            (staging / RECORD_FILE).write_text(json.dumps(
                {"model": str(source.resolve()), "recipe": RECIPE, "onnxruntime": runtime_version(),
                 "torch": torch.__version__}, indent=2) + "\n", encoding="utf-8")
        seconds = time.perf_counter() - started
    logger.info("int8: built and cached in %.1f s: %s", seconds, graph)
    return Int8Graph(graph, built=True, seconds=seconds)


def _build(model: Any, output: Path) -> None:
    """Export `model` to ONNX, check the export, quantize its weights into `output`."""
    with tempfile.TemporaryDirectory(prefix=".export.", dir=output.parent) as scratch:
        exported = Path(scratch) / "model.fp32.onnx"
        export_onnx(model, exported)
        _check_export(model, exported)
        quantize_graph(exported, output)


def quantize_graph(exported: Path, output: Path) -> None:
    """`exported` (fp32) with the encoder's weight matrices int8 per output channel, activations
    quantized at run time. The embeddings (a lookup, no arithmetic to save) and the classifier (a
    sliver of the compute, and where an error moves a label directly) stay fp32: on a briefly trained
    12-layer model this raised the entities identical to fp32's from 96.1 % to 97.7 % at the same
    speed (`bench/int8_agreement.py`)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(exported), load_external_data=False)
    classifier = [node.name for node in graph.graph.node
                  if node.op_type == "MatMul" and "classifier" in node.name]
    large = sum(path.stat().st_size for path in exported.parent.iterdir()) > EXTERNAL_DATA_BYTES
    logging.disable(logging.WARNING)  # the quantizer logs every tensor it skips on the root logger
    try:
        quantize_dynamic(exported, output, weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"], nodes_to_exclude=classifier,
                         use_external_data_format=large)
    finally:
        logging.disable(logging.NOTSET)


def _sample_batches(model: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """Two padded batches of different lengths (the graph must not have fixed either)."""
    generator = np.random.default_rng(0)
    vocabulary = model.config.vocab_size
    batches = []
    for rows, width in ((2, 24), (3, 9)):
        ids = generator.integers(5, vocabulary, (rows, width), dtype=np.int64)
        mask = np.ones((rows, width), dtype=np.int64)
        mask[-1, width // 2:] = 0
        batches.append((ids, mask))
    return batches


def export_onnx(model: Any, path: Path) -> None:
    """`model` (a HF token-classification model) as an fp32 ONNX graph: input_ids and attention_mask
    in, logits out, batch and length dynamic."""
    ids, mask = (torch.from_numpy(array) for array in _sample_batches(model)[0])
    dynamic = {name: {0: "batch", 1: "length"} for name in ("input_ids", "attention_mask", "logits")}
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer's notes on Python control flow
        torch.onnx.export(model, (ids, mask), str(path), input_names=["input_ids", "attention_mask"],
                          output_names=["logits"], dynamic_axes=dynamic, opset_version=RECIPE["opset"],
                          dynamo=False)


def _check_export(model: Any, path: Path) -> None:
    session = onnx_session(path, threads=1)
    for ids, mask in _sample_batches(model):
        with torch.no_grad():
            expected = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).logits
        got = session.run(["logits"], {"input_ids": ids, "attention_mask": mask})[0]
        keep = mask.astype(bool)
        difference = float(np.abs(got[keep] - expected.numpy()[keep]).max())
        if not difference <= EXPORT_TOLERANCE:
            raise InputError(f"precision=int8: the ONNX export of this model does not reproduce its logits "
                             f"(largest difference {difference:.2g}); use precision=fp32")


def onnx_session(path: Path, threads: int) -> Any:
    """An ONNX Runtime CPU session of `path` on `threads` threads."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: its notes on the graph are not the user's business
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class Int8Encoder:
    """Logits of padded batches from the int8 graph (what the predictor calls instead of the model)."""

    def __init__(self, graph: Int8Graph, threads: int | None = None) -> None:
        self.graph = graph
        self.session = onnx_session(graph.path, threads or torch.get_num_threads())

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """`[batch, length, labels]` float32 logits."""
        return self.session.run(["logits"], {"input_ids": input_ids, "attention_mask": attention_mask})[0]
