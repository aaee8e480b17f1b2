"""Which int8 runtime for `precision=int8` on CPUs: ONNX Runtime's dynamic quantization vs torchao.

    python bench/int8_runtimes.py [--layers 12] [--hidden 768] [--length 512] [--repeat 5]

One raw forward pass of a MegatronBertForTokenClassification (random weights, BERT-base size by
default, 7 labels), batch 1, `--length` subwords, in this process, each way in turn:

- torch fp32 (`inference_mode`), the reference;
- ONNX Runtime fp32: the model exported with `torch.onnx.export` as `finetune.inference.int8` does;
- ONNX Runtime int8: that graph after `quantize_dynamic` (int8 weights per output channel), the
  graph `precision=int8` builds and caches;
- torchao int8 (`Int8DynamicActivationInt8WeightConfig`), eager and under `torch.compile` (whose
  compile time, paid again for each new input shape, is printed apart), when torchao is installed
  (`pip install torchao`; it is not a dependency: transformers imports it at start-up when present).

Prints tokens/s of each, the ratio to torch fp32, and the largest logit difference and argmax
agreement against torch fp32. Threads: torch's (`torch.get_num_threads()`), the same for ONNX Runtime.
"""

from __future__ import annotations

from bench_environment import ROOT

import argparse
import copy
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from transformers import MegatronBertConfig, MegatronBertForTokenClassification

from finetune.inference.int8 import export_onnx, onnx_session, quantize_graph

OUT = ROOT / "bench_out" / "int8_runtimes"


def tokens_per_second(forward: Callable[[], object], tokens: int, repeat: int) -> float:
    forward()  # warm-up
    started = time.perf_counter()
    for _ in range(repeat):
        forward()
    return tokens * repeat / (time.perf_counter() - started)


def compare(name: str, logits: np.ndarray, reference: np.ndarray, speed: float, base: float) -> dict:
    row = {"runtime": name, "tokens_per_s": round(speed, 1), "vs_torch_fp32": round(speed / base, 2),
           "max_logit_difference": float(np.abs(logits - reference).max()),
           "argmax_agreement": float((logits.argmax(-1) == reference.argmax(-1)).mean())}
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--hidden", type=int, default=768)
    parser.add_argument("--length", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    config = MegatronBertConfig(vocab_size=8000, hidden_size=args.hidden, num_hidden_layers=args.layers,
                                num_attention_heads=args.hidden // 64, intermediate_size=4 * args.hidden,
                                max_position_embeddings=512, num_labels=7)
    model = MegatronBertForTokenClassification(config).eval()
    ids = torch.randint(5, 8000, (1, args.length))
    mask = torch.ones_like(ids)
    feed = {"input_ids": ids.numpy(), "attention_mask": mask.numpy()}
    rows = []
    with torch.inference_mode():
        reference = model(input_ids=ids, attention_mask=mask).logits.numpy()
        base = tokens_per_second(lambda: model(input_ids=ids, attention_mask=mask), args.length, args.repeat)
    rows.append(compare("torch fp32", reference, reference, base, base))

    with tempfile.TemporaryDirectory() as scratch:
        fp32_path, int8_path = Path(scratch) / "fp32.onnx", Path(scratch) / "int8.onnx"
        export_onnx(model, fp32_path)
        quantize_graph(fp32_path, int8_path)
        for name, path in (("onnxruntime fp32", fp32_path), ("onnxruntime int8", int8_path)):
            session = onnx_session(path, torch.get_num_threads())
            logits = session.run(["logits"], feed)[0]
            speed = tokens_per_second(lambda s=session: s.run(["logits"], feed), args.length, args.repeat)
            rows.append(compare(name, logits, reference, speed, base))

    try:
        from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_
    except ImportError:
        print("torchao: not installed (pip install torchao to include it)", flush=True)
    else:
        quantized = copy.deepcopy(model)
        quantize_(quantized, Int8DynamicActivationInt8WeightConfig())
        with torch.inference_mode():
            logits = quantized(input_ids=ids, attention_mask=mask).logits.numpy()
            speed = tokens_per_second(lambda: quantized(input_ids=ids, attention_mask=mask), args.length,
                                      args.repeat)
            rows.append(compare("torchao int8, eager", logits, reference, speed, base))
            compiled = torch.compile(quantized)
            started = time.perf_counter()
            compiled(input_ids=ids, attention_mask=mask)
            seconds = time.perf_counter() - started
            print(f"torch.compile: {seconds:.1f} s for this one input shape", flush=True)
            speed = tokens_per_second(lambda: compiled(input_ids=ids, attention_mask=mask), args.length,
                                      args.repeat)
            rows.append(compare("torchao int8, compiled", logits, reference, speed, base))
    (OUT / "result.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(f"\n{'runtime':<24}{'tokens/s':>10}{'x torch':>9}{'max diff':>10}{'argmax':>8}")
    for row in rows:
        print(f"{row['runtime']:<24}{row['tokens_per_s']:>10.0f}{row['vs_torch_fp32']:>9.2f}"
              f"{row['max_logit_difference']:>10.3f}{row['argmax_agreement']:>8.1%}")


if __name__ == "__main__":
    main()
