"""Peak memory of de-identification: one huge one-line note, and many ordinary notes.

    python bench/deid_memory.py                          # max_seq_length 128; 2 MB note, 2,000 notes
    python bench/deid_memory.py --lengths 128 512 --long-chars 2000000 --notes 2000

Each run is its own process: `finetune.deid.tool.deidentify` (model + rules, tag mode, CPU) on a
tiny random model (MegatronBert, 2 layers, hidden 32, the 63 i2b2 2014 BIO labels, a head that
puts ~7 % of words in entities, so decoding and entity building do real work), and its peak
resident set size is read from `getrusage` when it ends. Inputs: a one-line note of `--long-chars`
characters (synthetic i2b2 2014 notes joined, newlines to spaces) and the texts of
`generate_corpus("i2b2_2014", seed=0, documents=--notes)` as a notes .jsonl.

Two settings per input: `whole` sets `LONG_DOCUMENT_CHARS` and `CHUNK_CHARS` out of reach, which
is the prediction path as it was before notes were streamed (every chunk of notes tokenized,
windowed, scored and decoded whole); `streamed` keeps the defaults. "floor" is the peak of a process
that imports the tool and loads the model and does nothing else (torch, transformers, the model).
The span files of the two settings are compared byte for byte.
"""

from __future__ import annotations

from bench_environment import ROOT

import argparse
import filecmp
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

OUT = ROOT / "bench_out" / "deid_memory"

MAKE_MODEL = """
import sys, torch
from pathlib import Path
from transformers import AutoTokenizer, MegatronBertConfig, MegatronBertForMaskedLM
from finetune.corpora.formats.i2b2_2014 import CATEGORY_OF
from finetune.tagging.labels import label_vocabulary
from finetune.models.ner import NerInfo, build_model, save_ner_model
from synthetic.corpora.notes import generate_notes, write_notes_jsonl
from tokenizer.build import build_vocabulary
from tokenizer.config import TokenizerConfig
root, length = Path(sys.argv[1]), int(sys.argv[2])
encoder = root / "encoder"
if not (encoder / "config.json").is_file():
    write_notes_jsonl(root / "vocab.jsonl", generate_notes(seed=61, target_bytes=400_000))
    build_vocabulary(TokenizerConfig(input=[str(root / "vocab.jsonl")], output_dir=str(encoder),
                                     vocab_size=3000, workers=1))
    torch.manual_seed(0)
    config = MegatronBertConfig(vocab_size=len(AutoTokenizer.from_pretrained(encoder)), hidden_size=32,
                                num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                                max_position_embeddings=512)
    MegatronBertForMaskedLM(config).save_pretrained(encoder)
labels = label_vocabulary(sorted(CATEGORY_OF), "BIO")
model = build_model(encoder, labels, "linear")
with torch.no_grad():
    model.classifier.weight.normal_(0.0, 0.5, generator=torch.Generator().manual_seed(4))
    model.classifier.bias.zero_()
    model.classifier.bias[0] = 8.0  # mostly O
info = NerInfo(labels=labels, categories=dict(CATEGORY_OF), max_seq_length=length, stride=length // 8)
save_ner_model(model, AutoTokenizer.from_pretrained(encoder), info, root / f"model{length}")
"""

MAKE_INPUTS = """
import json, sys
from pathlib import Path
from synthetic.annotated import generate_corpus
root, long_chars, count = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
notes = generate_corpus("i2b2_2014", seed=0, documents=count)
with open(root / "notes.jsonl", "w", encoding="utf-8") as handle:
    for index, note in enumerate(notes):
        handle.write(json.dumps({"id": str(index), "text": note.text}) + "\\n")
pieces, size, index = [], 0, 0
while size < long_chars:  # the corpus repeats if it is shorter than the note
    piece = " ".join(notes[index % len(notes)].text.split())
    pieces.append(piece)
    size += len(piece) + 1
    index += 1
(root / "long.txt").write_text(" ".join(pieces)[:long_chars] + "\\n", encoding="utf-8")
"""

RUN = """
import json, resource, sys, time
import finetune.inference.predictor as inference
from finetune.deid.tool import DeidConfig, deidentify
from finetune.models.ner import load_ner_model
model, source, target, setting = sys.argv[1:5]
if setting == "floor":
    load_ner_model(model)
else:
    if setting == "whole":  # the path before streaming: every chunk of notes windowed whole
        inference.LONG_DOCUMENT_CHARS = inference.CHUNK_CHARS = sys.maxsize
    started = time.perf_counter()
    deidentify(DeidConfig(model=model, input=source, output=target, device="cpu"))
    seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"peak_mb": peak, "seconds": 0.0 if setting == "floor" else seconds}))
"""


def run(code: str, *arguments: str) -> str:
    """stdout of `python -c code arguments` in the repository, on two threads."""
    done = subprocess.run([sys.executable, "-c", code, *arguments], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "2", "TQDM_DISABLE": "1"})
    if done.returncode:
        raise SystemExit(f"a run failed:\n{done.stderr[-3000:]}")
    return done.stdout


def measure(model: Path, source: Path, scratch: Path, setting: str) -> dict[str, float]:
    """Peak RSS (MB) and seconds of one de-identification run in its own process."""
    target = scratch / f"{setting}{source.suffix}"
    return json.loads(run(RUN, str(model), str(source), str(target), setting).splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[128], help="max_seq_length of the models")
    parser.add_argument("--long-chars", type=int, default=2_000_000, help="characters of the one-line note")
    parser.add_argument("--notes", type=int, default=2000, help="ordinary notes")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    run(MAKE_INPUTS, str(OUT), str(args.long_chars), str(args.notes))
    rows, results = [], {}
    for length in args.lengths:
        if not (OUT / f"model{length}" / "config.json").is_file():
            run(MAKE_MODEL, str(OUT), str(length))
        model = OUT / f"model{length}"
        floor = measure(model, OUT / "long.txt", OUT, "floor")["peak_mb"]
        for name, source in (("one-line note", OUT / "long.txt"), ("notes", OUT / "notes.jsonl")):
            with tempfile.TemporaryDirectory(dir=OUT) as scratch:
                whole = measure(model, source, Path(scratch), "whole")
                streamed = measure(model, source, Path(scratch), "streamed")
                same = filecmp.cmp(Path(scratch) / f"whole{source.suffix}.spans.jsonl",
                                   Path(scratch) / f"streamed{source.suffix}.spans.jsonl", shallow=False)
            rows.append((length, name, floor, whole, streamed, same))
            results[f"{length}/{name}"] = {"floor_mb": round(floor, 1), "whole": whole, "streamed": streamed,
                                           "same_spans": same}
    print(f"one-line note: {args.long_chars:,} characters; notes: {args.notes:,}")
    print(f"{'max_seq':>7} {'input':<14}{'floor MB':>9}{'whole MB':>10}{'s':>7}{'streamed MB':>13}{'s':>7}"
          f"{'same spans':>12}")
    for length, name, floor, whole, streamed, same in rows:
        print(f"{length:>7} {name:<14}{floor:>9.0f}{whole['peak_mb']:>10.0f}{whole['seconds']:>7.1f}"
              f"{streamed['peak_mb']:>13.0f}{streamed['seconds']:>7.1f}{str(same):>12}")
    (OUT / "result.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
