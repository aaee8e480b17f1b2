"""Pretraining step time: our megatron-core loop vs HF transformers' BertForPreTraining of the same
architecture, on the same batch size and sequence length, fp32, in one process on the CPU.

Both sides do a whole optimizer step on the same masked batches: the next micro-batch from
megatron-core's BERT dataset over a real indexed dataset (data_prep output, one loader worker
masking ahead, as `python -m pretrain` does), forward, masked-LM + sentence-order loss, backward,
gradient clipping at 1.0, AdamW; the timed step includes fetching the batch on both sides. The
runs alternate (ours, HF, ours, HF, ...) so that a busy spell of the machine hits both; the median
step time after warm-up over all rounds is compared (ratio ours / HF; below 1.0: ours is faster).

    python bench/pretrain_step.py                  # ~11M parameters, 2 rounds of 20 timed steps
    python bench/pretrain_step.py layers=8 hidden=512 rounds=3
"""

from __future__ import annotations

from bench_environment import ROOT

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from omegaconf import OmegaConf

from data_prep.build import build_dataset
from data_prep.config import DataPrepConfig
from pretrain.config import PretrainConfig
from pretrain.train import pretrain
from synthetic.corpora.notes import generate_notes, write_notes_jsonl
from tokenizer.build import build_vocabulary
from tokenizer.config import TokenizerConfig
from tokenizer.vocab import load_vocabulary, padded_vocab_size

OUT = ROOT / "bench_out" / "pretrain_step"


def dataset() -> tuple[str, str]:
    vocab, prefix = OUT / "vocab", OUT / "notes"
    if not Path(f"{prefix}.idx").is_file():
        OUT.mkdir(parents=True, exist_ok=True)
        corpus = OUT / "notes.jsonl"
        write_notes_jsonl(corpus, generate_notes(seed=8, target_bytes=8_000_000))
        build_vocabulary(TokenizerConfig(input=[str(corpus)], output_dir=str(vocab), vocab_size=8000,
                                         log_level="WARNING"))
        build_dataset(DataPrepConfig(input=str(corpus), vocab=str(vocab), output_prefix=str(prefix),
                                     log_level="WARNING"))
    return str(prefix), str(vocab)


def ours(args: dict, prefix: str, vocab: str) -> list[float]:
    settings = OmegaConf.merge(OmegaConf.structured(PretrainConfig), {
        "model": {"name": "bench", "num_layers": args["layers"], "hidden_size": args["hidden"],
                  "num_attention_heads": args["heads"], "ffn_hidden_size": 4 * args["hidden"],
                  "seq_length": args["seq"]},
        "data": {"blend": prefix, "vocab": vocab, "split": "98,2,0"},
        "train": {"micro_batch_size": args["batch"], "global_batch_size": args["batch"],
                  "train_iters": args["steps"] + args["warmup"], "lr": 1e-4, "lr_warmup_fraction": 0.0},
        "checkpoint": {"dir": tempfile.mkdtemp(prefix="bench_pretrain_"), "enabled": False},
        "logging": {"log_interval": 1000, "tensorboard_dir": ""}, "log_level": "WARNING"})
    pretrain(OmegaConf.to_object(settings))
    steps = [json.loads(line) for line in (Path(settings.checkpoint.dir) / "metrics.jsonl").open()]
    return [r["step_seconds"] for r in steps if "step_seconds" in r][args["warmup"]:]


def huggingface(args: dict, vocab_size: int, prefix: str, vocab: str) -> list[float]:
    from transformers import BertConfig, BertForPreTraining

    from pretrain.config import DataConfig
    from pretrain.data import build_datasets, micro_batches
    from pretrain.standalone import single_process_megatron

    config = BertConfig(vocab_size=vocab_size, hidden_size=args["hidden"], num_hidden_layers=args["layers"],
                        num_attention_heads=args["heads"], intermediate_size=4 * args["hidden"],
                        max_position_embeddings=args["seq"], type_vocab_size=2)
    model = BertForPreTraining(config).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
    steps = args["steps"] + args["warmup"]
    times = []
    with single_process_megatron():  # megatron-core's dataset builder wants a process group
        splits = build_datasets(DataConfig(blend=prefix, vocab=vocab, split="98,2,0"), args["seq"], True,
                                (steps * args["batch"], 0, 0), tempfile.mkdtemp(prefix="bench_hf_"),
                                lowercase=load_vocabulary(vocab).lowercase)
        batches = micro_batches(splits.train, args["batch"], 0, 1, 0, workers=1)
        for step in range(steps):
            started = time.perf_counter()
            batch = next(batches)
            labels = torch.where(batch["loss_mask"].bool(), batch["labels"], -100)
            optimizer.zero_grad()
            output = model(input_ids=batch["text"], token_type_ids=batch["types"],
                           attention_mask=batch["padding_mask"], labels=labels,
                           next_sentence_label=batch["is_random"])
            output.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            if step >= args["warmup"]:
                times.append(time.perf_counter() - started)
    return times


def main() -> None:
    args = {"layers": 4, "hidden": 256, "heads": 4, "seq": 128, "batch": 8, "steps": 20, "warmup": 3,
            "rounds": 2}
    args.update({key: int(value) for key, value in (a.split("=", 1) for a in sys.argv[1:])})
    prefix, vocab = dataset()
    vocab_size = padded_vocab_size(load_vocabulary(vocab).size, tensor_parallel=1)  # as ours
    ours_times, hf_times = [], []
    for _ in range(args["rounds"]):
        ours_times += ours(args, prefix, vocab)
        hf_times += huggingface(args, vocab_size, prefix, vocab)
    result = {"settings": args, "threads": torch.get_num_threads(),
              "ours_median_s": statistics.median(ours_times), "hf_median_s": statistics.median(hf_times)}
    result["ratio_ours_over_hf"] = result["ours_median_s"] / result["hf_median_s"]
    print(f"{args['layers']} layers, hidden {args['hidden']}, seq {args['seq']}, batch {args['batch']}, "
          f"{args['rounds']} rounds of {args['steps']} steps, "
          f"{torch.get_num_threads()} threads: ours {result['ours_median_s'] * 1000:.1f} ms/step, "
          f"HF BertForPreTraining {result['hf_median_s'] * 1000:.1f} ms/step, "
          f"ratio {result['ratio_ours_over_hf']:.2f}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
