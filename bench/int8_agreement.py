"""Does `precision=int8` find the entities fp32 finds? Agreement and strict F1 on fine-tuned models.

    python bench/int8_agreement.py [--demo demo_out] [--base-epochs 5] [--base-lr 3e-4] [--documents 160]

Two fine-tuned de-id models, each run on its synthetic i2b2 2014 test notes with fp32 and with
int8 (`finetune.inference.predictor.Predictor`, the path `finetune.predict` and `finetune.deid` take):

- `demo`: the de-id model `make demo` fine-tunes (`<demo>/deid/model`, on `<demo>/annotated`); the
  row says so when the demo has not been run.
- `base`: a 12-layer / 768-wide MegatronBert (BERT-base size) fine-tuned briefly here with
  `python -m finetune task=deid_2014` from random encoder weights (no pretrained model of that size
  is available offline), on `--documents` synthetic i2b2 2014 notes; built once into
  `bench_out/int8_agreement/` and reused.

Prints per model: entities of each path, the share of fp32's entities that int8 finds identically
(same start, end and type) and the reverse, strict micro F1 of each against the gold, tokens/s of
each and the int8 graph's build time (then a second load, which must find it cached), and fp32's
mean entity score (mean probability of its words' labels) of the entities int8 keeps and of those
it changes. The goal:
≥ 99 % identical entities and F1 within 0.5 point.
"""

from __future__ import annotations

from bench_environment import ROOT

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch
from transformers import AutoTokenizer, MegatronBertConfig, MegatronBertForMaskedLM

from finetune.corpora.document import Document
from finetune.corpora.formats import read_corpus
from finetune.inference.predictor import Predictor
from finetune.models.ner import load_ner_model
from finetune.scoring.entities import score_entities
from synthetic.corpora.notes import generate_notes, write_notes_jsonl
from tokenizer.build import build_vocabulary
from tokenizer.config import TokenizerConfig

OUT = ROOT / "bench_out" / "int8_agreement"
TEST = Path("annotated", "i2b2_2014", "test")


def run(*command: str) -> None:
    subprocess.run([sys.executable, *command], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)


def fine_tuned_model(root: Path, hidden: int, layers: int, documents: int, epochs: int, lr: float) -> Path:
    """A de-id model (`root/deid/model`) fine-tuned from random MegatronBert weights on `documents`
    synthetic i2b2 2014 notes (`root/annotated`, test split beside it); built once, then reused."""
    model = root / "deid" / "model"
    if (model / "config.json").is_file():
        return model
    encoder = root / "encoder"
    if not (encoder / "config.json").is_file():
        write_notes_jsonl(root / "vocab.jsonl", generate_notes(seed=61, target_bytes=2_000_000))
        build_vocabulary(TokenizerConfig(input=[str(root / "vocab.jsonl")], output_dir=str(encoder),
                                         vocab_size=8000, workers=1))
        torch.manual_seed(0)
        vocabulary = len(AutoTokenizer.from_pretrained(encoder))
        config = MegatronBertConfig(vocab_size=vocabulary, hidden_size=hidden, num_hidden_layers=layers,
                                    num_attention_heads=max(1, hidden // 64), intermediate_size=4 * hidden,
                                    max_position_embeddings=512)
        MegatronBertForMaskedLM(config).save_pretrained(encoder)
    run("-m", "synthetic.annotated", f"output_dir={root / 'annotated'}", "corpora=[i2b2_2014]",
        f"documents={documents}", "seed=1", "overwrite=true")
    print(f"fine-tuning a {layers}-layer / {hidden} model for {epochs} epoch(s) (minutes on a CPU) ...",
          flush=True)
    run("-m", "finetune", "task=deid_2014", f"model={encoder}",
        f"data_dir={root / 'annotated' / 'i2b2_2014'}", f"output_dir={root / 'deid'}", "overwrite=true",
        "task.dataset.max_seq_length=128", "task.dataset.stride=32", "task.head.kind=linear",
        f"task.optim.lr={lr}", f"task.trainer.epochs={epochs}", "task.trainer.early_stopping_patience=0")
    return model


def base_model(documents: int, epochs: int = 5, lr: float = 3e-4) -> Path:
    """BERT-base size: 12 layers, 768 wide; one folder per recipe."""
    return fine_tuned_model(OUT / f"base_{documents}d_{epochs}e_lr{lr:g}", 768, 12, documents, epochs, lr)


def predictions(model: Path, precision: str,
                documents: list[Document]) -> tuple[list[Document], dict[str, Any]]:
    started = time.perf_counter()
    predictor = Predictor(load_ner_model(model), precision=precision, device="cpu",
                          int8_cache=OUT / "int8_cache")
    loaded = time.perf_counter() - started
    found = list(predictor.predict(documents))
    graph = predictor.int8.graph if predictor.int8 is not None else None
    return found, {"tokens_per_s": round(predictor.stats.tokens_per_second, 1), "load_s": round(loaded, 2),
                   "graph_built": graph.built if graph else None,
                   "graph_build_s": round(graph.seconds, 2) if graph else None}


def entity_set(document: Document) -> set[tuple[int, int, str]]:
    return {(entity.start, entity.end, entity.type) for entity in document.entities}


def compare(name: str, model: Path, gold_dir: Path) -> dict[str, Any]:
    gold = read_corpus(gold_dir, "i2b2_2014")
    notes = [Document(id=document.id, text=document.text) for document in gold]
    fp32, fp32_run = predictions(model, "fp32", notes)
    int8, int8_run = predictions(model, "int8", notes)
    _, again = predictions(model, "int8", notes)
    a = [entity_set(document) for document in fp32]
    b = [entity_set(document) for document in int8]
    both = sum(len(x & y) for x, y in zip(a, b, strict=True))
    # How sure fp32 was of the entities int8 keeps and of those it changes (near-ties flip first).
    kept, changed = [], []
    for document, found in zip(fp32, b, strict=True):
        for entity in document.entities:
            key = (entity.start, entity.end, entity.type)
            (kept if key in found else changed).append(float(entity.attributes["score"]))
    f1 = {label: score_entities(zip(gold, found, strict=True))["strict"]["micro"]["f1"]
          for label, found in (("fp32", fp32), ("int8", int8))}
    return {"model": name, "documents": len(gold), "entities_fp32": sum(map(len, a)),
            "entities_int8": sum(map(len, b)), "identical": both,
            "identical_of_fp32": round(both / max(sum(map(len, a)), 1), 4),
            "identical_of_int8": round(both / max(sum(map(len, b)), 1), 4),
            "strict_micro_f1_fp32": round(f1["fp32"], 4), "strict_micro_f1_int8": round(f1["int8"], 4),
            "f1_difference_points": round(100 * (f1["int8"] - f1["fp32"]), 2),
            "fp32_score_of_kept": round(sum(kept) / max(len(kept), 1), 3),
            "fp32_score_of_changed": round(sum(changed) / max(len(changed), 1), 3),
            "fp32": fp32_run, "int8": int8_run, "int8_second_load": again}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demo", type=Path, default=ROOT / "demo_out", help="a `make demo` output folder")
    parser.add_argument("--documents", type=int, default=160, help="synthetic notes for the base model")
    parser.add_argument("--base-epochs", type=int, default=5)
    parser.add_argument("--base-lr", type=float, default=3e-4)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    if (args.demo / "deid" / "model" / "config.json").is_file():
        rows.append(compare("demo", args.demo / "deid" / "model", args.demo / TEST))
    else:
        print(f"demo: no {args.demo / 'deid' / 'model'} (run make demo first); row left out", flush=True)
    base = base_model(args.documents, args.base_epochs, args.base_lr)
    rows.append(compare("base (12 x 768)", base, base.parent.parent / TEST))
    print(f"\n{'model':<16} {'ents fp32':>9} {'ents int8':>9} {'same/fp32':>9} {'same/int8':>9} "
          f"{'F1 fp32':>7} {'F1 int8':>7} {'tok/s fp32':>10} {'tok/s int8':>10} {'build s':>7} "
          f"{'2nd load':>8} {'p kept':>6} {'p changed':>9}")
    for row in rows:
        print(f"{row['model']:<16} {row['entities_fp32']:>9} {row['entities_int8']:>9} "
              f"{row['identical_of_fp32']:>9.2%} {row['identical_of_int8']:>9.2%} "
              f"{row['strict_micro_f1_fp32']:>7.4f} {row['strict_micro_f1_int8']:>7.4f} "
              f"{row['fp32']['tokens_per_s']:>10.0f} {row['int8']['tokens_per_s']:>10.0f} "
              f"{row['int8']['graph_build_s'] or 0:>7.1f} "
              f"{'cached' if row['int8_second_load']['graph_built'] is False else 'REBUILT':>8} "
              f"{row['fp32_score_of_kept']:>6.3f} {row['fp32_score_of_changed']:>9.3f}")
    (OUT / "result.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(f"\nwritten to {OUT / 'result.json'}")


if __name__ == "__main__":
    main()
