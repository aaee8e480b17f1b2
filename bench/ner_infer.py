"""NER inference throughput: `finetune.predict`'s path vs HF `pipeline("token-classification")`.

    python bench/ner_infer.py [--notes 200] [--batch-size 16] [--stride 32] [--precisions fp32,int8]
    python bench/ner_infer.py --device cuda --precisions fp32,bf16 --no-pipeline   # on a GPU

Both run in this process, one after the other, on the same model and the same synthetic notes
(many longer than 512 subwords): a 12-layer / 768-wide MegatronBert (BERT-base size) with random
encoder weights. So that the two can be compared entity by entity, the model's output for a token
depends on that token alone: position embeddings and the residual branches' output projections are
zero (every matmul still runs, so the compute is a 12-layer model's), and the classifier reads the
token identity from its embedding: a fixed set of whole-word vocabulary tokens is B-NAME / B-DATE /
B-LOCATION, everything else O. Windows, batching and decoding then decide alone whether the two
paths find the same entities.

Baseline: `pipeline("token-classification", aggregation_strategy="simple", stride=128)` (HF's way to
handle notes longer than 512 subwords: chunks overlapping by 128, one chunk per forward), fp32 on
the CPU. Ours: `finetune.inference.predictor.Predictor` (windows overlapping by `--stride`, sorted by
length, batched, `inference_mode`) at each of `--precisions` on `--device`; `int8` is the ONNX
Runtime graph `precision=int8` uses (built from the model saved under bench_out/ner_infer/model and
cached: its build time is printed apart and is not in the timing). Prints tokens/s of each (tokens
= the notes' subwords, counted once), the ratio to the pipeline, the share of the pipeline's
entities each finds (same start, end, type), and on a GPU the peak memory.
"""

from __future__ import annotations

import bench_environment  # noqa: F401  the repository on sys.path, process settings

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from transformers import AutoTokenizer, MegatronBertConfig, MegatronBertForTokenClassification, pipeline

from finetune.corpora.document import Document
from finetune.inference.predictor import PredictionStats, Predictor
from finetune.models.ner import NerInfo, load_ner_model, save_ner_model
from finetune.tagging.labels import label_vocabulary
from synthetic.corpora.notes import generate_notes, write_notes_jsonl
from tokenizer.build import build_vocabulary
from tokenizer.config import TokenizerConfig

OUT = Path("bench_out/ner_infer")
TYPES = ("DATE", "LOCATION", "NAME")


def vocabulary(notes_path: Path) -> Path:
    directory = OUT / "vocab"
    if not (directory / "tokenizer.json").is_file():
        build_vocabulary(TokenizerConfig(input=[str(notes_path)], output_dir=str(directory), vocab_size=8000,
                                         workers=1))
    return directory


def entity_tokens(tokenizer, texts: list[str]) -> dict[int, str]:
    """Whole-word tokens that, in these notes, never start a longer word: a third of them get a type."""
    starts_longer: set[int] = set()
    seen: set[int] = set()
    for text in texts:
        encoding = tokenizer(text, add_special_tokens=False, verbose=False)
        ids, words = encoding["input_ids"], encoding.word_ids()
        for index, token in enumerate(ids):
            if index + 1 < len(ids) and words[index + 1] == words[index]:
                starts_longer.add(token)
            seen.add(token)
    vocab = tokenizer.convert_ids_to_tokens(sorted(seen - starts_longer))
    chosen = {}
    for token in vocab:
        if token.isalnum() and len(token) >= 3 and sum(map(ord, token)) % 3 == 0:
            chosen[tokenizer.convert_tokens_to_ids(token)] = TYPES[len(token) % len(TYPES)]
    return chosen


def bench_model(tokenizer, labels: list[str], typed: dict[int, str]) -> MegatronBertForTokenClassification:
    config = MegatronBertConfig(vocab_size=len(tokenizer), hidden_size=768, num_hidden_layers=12,
                                num_attention_heads=12, intermediate_size=3072, max_position_embeddings=512,
                                num_labels=len(labels), id2label=dict(enumerate(labels)),
                                label2id={label: i for i, label in enumerate(labels)})
    torch.manual_seed(0)
    model = MegatronBertForTokenClassification(config).eval()
    with torch.no_grad():
        model.bert.embeddings.position_embeddings.weight.zero_()
        for layer in model.bert.encoder.layer:
            for dense in (layer.attention.output.dense, layer.output.dense):
                dense.weight.zero_()
                dense.bias.zero_()
        # Token identity -> a one-hot direction in the embedding -> a label in the classifier.
        embeddings = model.bert.embeddings.word_embeddings.weight
        embeddings.mul_(0.01)
        embeddings[:, 0] += 1.0
        for token, entity_type in typed.items():
            embeddings[token, 0] -= 1.0
            embeddings[token, 1 + TYPES.index(entity_type)] += 1.0
        model.bert.embeddings.token_type_embeddings.weight.zero_()
        model.classifier.weight.zero_()
        model.classifier.bias.zero_()
        model.classifier.weight[0, 0] = 10.0
        for index, entity_type in enumerate(TYPES):
            model.classifier.weight[labels.index(f"B-{entity_type}"), 1 + index] = 10.0
    return model


def pipeline_entities(model, tokenizer, texts: list[str]) -> tuple[list[set], float]:
    tagger = pipeline("token-classification", model=model, tokenizer=tokenizer, aggregation_strategy="simple",
                      stride=128, device=-1)
    started = time.perf_counter()
    outputs = [tagger(text) for text in texts]
    seconds = time.perf_counter() - started
    return [{(e["start"], e["end"], e["entity_group"]) for e in found} for found in outputs], seconds


def our_entities(model_dir: Path, texts: list[str], batch_size: int, stride: int, precision: str,
                 device: str) -> tuple[list[set], float, Predictor]:
    predictor = Predictor(load_ner_model(model_dir), batch_size=batch_size, device=device, stride=stride,
                          precision=precision, int8_cache=OUT / "int8_cache")
    if predictor.int8 is not None:
        graph = predictor.int8.graph
        print(f"int8 graph: {f'built in {graph.seconds:.1f} s' if graph.built else 'cached'}", flush=True)
    documents = [Document(id=str(i), text=text) for i, text in enumerate(texts)]
    predictor.predict_chunk(documents[:2])  # warm-up (and a GPU's kernels) outside the timing
    predictor.stats = PredictionStats()
    started = time.perf_counter()
    predictions = list(predictor.predict(documents, chunk_documents=64))
    seconds = time.perf_counter() - started
    return [{(e.start, e.end, e.type) for e in d.entities} for d in predictions], seconds, predictor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notes", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--stride", type=int, default=32, help="our window overlap in subwords")
    parser.add_argument("--precisions", default="fp32,int8", help="ours, comma-separated")
    parser.add_argument("--device", default="cpu", help="ours: cpu, cuda or cuda:N (the pipeline: the CPU)")
    parser.add_argument("--no-pipeline", action="store_true", help="leave out the HF pipeline baseline")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    corpus = OUT / "vocab_notes.jsonl"
    if not corpus.is_file():
        write_notes_jsonl(corpus, generate_notes(seed=3, target_bytes=3_000_000))
    tokenizer = AutoTokenizer.from_pretrained(vocabulary(corpus))
    tokenizer.model_max_length = 512  # the pipeline's chunks
    texts = [note.text for note in generate_notes(seed=5, target_bytes=2_000_000)][:args.notes]
    encoded = tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
    lengths = np.array([len(ids) for ids in encoded])
    labels = label_vocabulary(TYPES, "BIO")
    model = bench_model(tokenizer, labels, entity_tokens(tokenizer, texts))
    model_dir = OUT / f"model_{args.notes}"  # the typed tokens depend on the notes
    if not (model_dir / "config.json").is_file():  # kept: its int8 graph stays cached across runs
        save_ner_model(model, tokenizer, NerInfo(labels=labels, max_seq_length=512), model_dir)
    tokens = int(lengths.sum())
    print(f"{len(texts)} notes, {tokens} subwords (median {int(np.median(lengths))}, max {lengths.max()}, "
          f"{int((lengths > 510).sum())} longer than 510); torch threads {torch.get_num_threads()}",
          flush=True)
    ours: dict[str, tuple[list[set], float, Predictor]] = {}
    for precision in args.precisions.split(","):
        ours[precision] = our_entities(model_dir, texts, args.batch_size, args.stride, precision, args.device)
        print(f"ours {precision} on {args.device}: {ours[precision][1]:.1f} s, "
              f"{tokens / ours[precision][1]:.0f} tokens/s", flush=True)
    baseline, pipe_seconds = None, None
    if not args.no_pipeline:
        with torch.inference_mode():
            model(torch.ones(1, 16, dtype=torch.long))  # warm-up outside the timing
        baseline, pipe_seconds = pipeline_entities(model, tokenizer, texts)
        print(f"HF pipeline (simple, stride=128): {pipe_seconds:.1f} s, {tokens / pipe_seconds:.0f} tokens/s",
              flush=True)
    reference = baseline if baseline is not None else ours[next(iter(ours))][0]
    rows = {}
    for precision, (found, seconds, predictor) in ours.items():
        both = sum(len(a & b) for a, b in zip(found, reference, strict=True))
        row = {"tokens_per_s": round(tokens / seconds, 1), "entities": sum(map(len, found)),
               "identical": both,
               "agreement_of_reference_entities": round(both / max(sum(map(len, reference)), 1), 4),
               "agreement_of_these_entities": round(both / max(sum(map(len, found)), 1), 4)}
        if pipe_seconds:
            row["speedup_over_pipeline"] = round(pipe_seconds / seconds, 2)
        if predictor.stats.gpu_peak_bytes:
            row["gpu_peak_memory_gib"] = predictor.stats.as_dict()["gpu_peak_memory_gib"]
        rows[precision] = row
    result = {"notes": len(texts), "tokens": tokens, "device": args.device, "batch_size": args.batch_size,
              "stride": args.stride,
              "reference": "HF pipeline" if baseline is not None else args.precisions.split(",")[0],
              "pipeline_tokens_per_s": round(tokens / pipe_seconds, 1) if pipe_seconds else None,
              "pipeline_entities": sum(map(len, baseline)) if baseline is not None else None, "ours": rows}
    print(json.dumps(result, indent=2))
    (OUT / f"result_{args.device.replace(':', '')}.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
