"""Vocabulary benchmark: our default trainer vs GatorTron's SentencePiece recipe vs the plain HF
WordPiece trainer, on the same synthetic notes at two sizes (10x apart), in one run.

For each trainer and size, a fresh Python process trains a ~50k vocabulary; this script polls the
process tree's memory (PSS, so pages shared by forked workers count once) and reads the training
wall time the process measured around its training call (interpreter start and imports
excluded). Fertility, [UNK] rate and whole-word share are measured on the same held-out notes
(another seed) with each resulting vocab.txt. Ratios are ours / baseline.

    python bench/vocab.py                       # 30 MB and 300 MB (cached under bench_out/)
    python bench/vocab.py sizes_mb=[5,50]        # quicker
"""

from __future__ import annotations

from bench_environment import ROOT

import json
import subprocess
import sys
import time
from pathlib import Path

import psutil

from gatortron_common.atomic import atomic_open
from synthetic.corpora.notes import generate_notes

OUT = ROOT / "bench_out" / "vocab"
VOCAB_SIZE = 50101

SENTENCEPIECE = """
import io, json, sys, time
import sentencepiece as spm
from tokenizer.train_sentencepiece import sentencepiece_to_wordpiece
from tokenizer.vocab import bert_header
start = time.perf_counter()
model = io.BytesIO()
spm.SentencePieceTrainer.train(input=sys.argv[1], model_writer=model, model_type="bpe",
    vocab_size=int(sys.argv[3]) - 102, character_coverage=0.9999, normalization_rule_name="nmt_nfkc",
    input_sentence_size=0, max_sentence_length=1 << 16, num_threads=2, bos_id=-1, eos_id=-1, minloglevel=2)
sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
tokens = bert_header() + sentencepiece_to_wordpiece(sp.id_to_piece(i) for i in range(sp.get_piece_size()))
seconds = time.perf_counter() - start
open(sys.argv[2], "w").write("".join(t + "\\n" for t in tokens))
print(json.dumps({"seconds": seconds}))
"""

HF_WORDPIECE = """
import json, sys, time
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
from tokenizer.vocab import bert_header
start = time.perf_counter()
tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
tokenizer.normalizer = normalizers.BertNormalizer(lowercase=False)
tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
header = bert_header()
trainer = trainers.WordPieceTrainer(vocab_size=int(sys.argv[3]), special_tokens=header, show_progress=False)
tokenizer.train([sys.argv[1]], trainer)
vocab = tokenizer.get_vocab()
seconds = time.perf_counter() - start
open(sys.argv[2], "w").write("".join(t + "\\n" for t in sorted(vocab, key=vocab.get)))
print(json.dumps({"seconds": seconds}))
"""

OURS = """
import json, shutil, sys, time
from tokenizer.build import build_vocabulary
from tokenizer.config import TokenizerConfig
start = time.perf_counter()
report = build_vocabulary(TokenizerConfig(input=[sys.argv[1]], output_dir=sys.argv[2] + ".dir",
                                          vocab_size=int(sys.argv[3]), log_level="WARNING"))
seconds = time.perf_counter() - start
shutil.copy(sys.argv[2] + ".dir/vocab.txt", sys.argv[2])
print(json.dumps({"seconds": seconds, "train_chars": report["corpus"]["train_chars"]}))
"""

TRAINERS = {"sentencepiece_bpe (GatorTron recipe)": SENTENCEPIECE, "hf_wordpiece (plain)": HF_WORDPIECE,
            "ours (default)": OURS}


def make_corpus(path: Path, megabytes: int, seed: int) -> Path:
    """Blank-line separated synthetic notes, the plain text every trainer here reads."""
    if path.exists():
        return path
    with atomic_open(path, "w", encoding="utf-8") as handle:
        for note in generate_notes(seed=seed, target_bytes=megabytes * 1_000_000):
            handle.write(note.text.strip("\n") + "\n\n")
    return path


def tree_pss_mb(process: psutil.Process) -> float:
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total / 2**20


def run_trainer(script: str, corpus: Path, vocab_out: Path) -> dict:
    started = time.perf_counter()
    process = psutil.Popen([sys.executable, "-c", script, str(corpus), str(vocab_out), str(VOCAB_SIZE)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    peak = 0.0
    while process.poll() is None:
        peak = max(peak, tree_pss_mb(process))
        time.sleep(0.05)
    stdout, stderr = process.communicate()
    if process.returncode:
        raise RuntimeError(f"trainer failed ({process.returncode}): {stderr[-2000:]}")
    result = json.loads(stdout.strip().splitlines()[-1])
    return {**result, "process_seconds": time.perf_counter() - started, "peak_pss_mb": peak}


def quality(vocab_path: Path, heldout: list[str]) -> dict:
    from tokenizer.export import bert_tokenizer_from_vocab
    from tokenizer.quality import measure_quality
    from tokenizer.words import normalize_text
    tokenizer = bert_tokenizer_from_vocab(vocab_path, lowercase=False)
    return measure_quality(tokenizer, [normalize_text(t, "NFKC") for t in heldout]).as_dict()


def main(sizes_mb: list[int]) -> dict:
    OUT.mkdir(parents=True, exist_ok=True)
    heldout = [n.text for n in generate_notes(seed=424242, target_bytes=2_000_000)]
    results: dict = {"machine": {"cores": psutil.cpu_count(), "memory_gb": round(psutil.virtual_memory().total
                                                                                  / 2**30, 1)},
                     "vocab_size": VOCAB_SIZE, "sizes": {}}
    for megabytes in sizes_mb:
        corpus = make_corpus(OUT / f"notes_{megabytes}mb.txt", megabytes, seed=megabytes)
        rows = {}
        for name, script in TRAINERS.items():
            vocab_path = OUT / f"vocab_{megabytes}mb_{name.split()[0]}.txt"
            row = run_trainer(script, corpus, vocab_path)
            row.update(quality(vocab_path, heldout))
            rows[name] = row
            print(f"{megabytes:>5} MB  {name:<38} {row['seconds']:7.2f} s  {row['peak_pss_mb']:7.0f} MB  "
                  f"fertility {row['fertility']:.4f}  unk {row['unk_rate']:.5f}  "
                  f"whole {row['whole_word_share']:.4f}", flush=True)
        results["sizes"][f"{megabytes}MB"] = rows
    _print_ratios(results, sizes_mb)
    with atomic_open(OUT / "vocab_bench.json", "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=2)
    print(f"results: {OUT / 'vocab_bench.json'}")
    return results


def _print_ratios(results: dict, sizes_mb: list[int]) -> None:
    sp, hf, ours = TRAINERS
    print("\nratios (ours / baseline): time, peak memory; fertility difference vs the better baseline")
    for megabytes in sizes_mb:
        rows = results["sizes"][f"{megabytes}MB"]
        best = min(rows[sp]["fertility"], rows[hf]["fertility"])
        print(f"{megabytes:>5} MB  time/SP {rows[ours]['seconds'] / rows[sp]['seconds']:.2f}  "
              f"time/HF {rows[ours]['seconds'] / rows[hf]['seconds']:.2f}  "
              f"mem/SP {rows[ours]['peak_pss_mb'] / rows[sp]['peak_pss_mb']:.2f}  "
              f"mem/HF {rows[ours]['peak_pss_mb'] / rows[hf]['peak_pss_mb']:.2f}  "
              f"fertility {100 * (rows[ours]['fertility'] / best - 1):+.2f}%")
    if len(sizes_mb) >= 2:
        small, large = (results["sizes"][f"{m}MB"] for m in (sizes_mb[0], sizes_mb[-1]))
        print(f"growth {sizes_mb[0]} -> {sizes_mb[-1]} MB (peak memory, time):")
        for name in TRAINERS:
            print(f"  {name:<38} memory x{large[name]['peak_pss_mb'] / small[name]['peak_pss_mb']:.2f}  "
                  f"time x{large[name]['seconds'] / small[name]['seconds']:.2f}")


if __name__ == "__main__":
    sizes = [30, 300]
    for argument in sys.argv[1:]:
        if argument.startswith("sizes_mb="):
            sizes = [int(x) for x in argument.split("=", 1)[1].strip("[]").split(",")]
    main(sizes)
