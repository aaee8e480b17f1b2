"""data_prep throughput: end-to-end MB/s (read + clean + split + tokenize + write .bin/.idx) on
synthetic notes, with 1 and 2 workers, in one run.

Each configuration runs `python -m data_prep` in a fresh process; the time is the stage's own
measurement around its work (stats.json `seconds`: planning, reading, processing, joining parts,
writing; interpreter start and imports excluded), over the input file's bytes.

Baselines:
- measured here, in the same run: the same pipeline with the HF `tokenizers` encoder
  (`tokenizer_backend=hf`), on a slice of the corpus (it runs at a few MB/s);
- the anchor the issue gives for Megatron-LM's `tools/preprocess_data.py` (core_v0.16.1,
  BertWordPieceCase, --split-sentences, 2 workers) on this machine class: 2.3 MB/s end to end.
  Megatron-LM's tools are not in the megatron-core wheel, so it is not rerun here.

    python bench/prep.py                  # 200 MB of notes (generated once under bench_out/prep/)
    python bench/prep.py size_mb=50       # quicker
"""

from __future__ import annotations

from bench_environment import ROOT

import json
import subprocess
import sys
from pathlib import Path

from gatortron_common.atomic import atomic_open
from synthetic.corpora.notes import generate_notes, write_notes_delimited, write_notes_jsonl

OUT = ROOT / "bench_out" / "prep"
MEGATRON_PREPROCESS_MB_S = 2.3  # the anchor, measured on this machine class
HF_SLICE_MB = 20


def corpus(size_mb: int) -> dict[str, Path]:
    """Synthetic notes of `size_mb` MB as JSONL and TSV (generated once), and a slice for HF."""
    paths = {"jsonl": OUT / f"notes_{size_mb}mb.jsonl", "tsv": OUT / f"notes_{size_mb}mb.tsv",
             "slice": OUT / f"notes_{HF_SLICE_MB}mb_slice.jsonl"}
    if not all(p.is_file() for p in paths.values()):
        OUT.mkdir(parents=True, exist_ok=True)
        print(f"generating {size_mb} MB of synthetic notes ...", flush=True)
        notes = list(generate_notes(seed=7, target_bytes=size_mb * 1_000_000))
        write_notes_jsonl(paths["jsonl"], notes)
        write_notes_delimited(paths["tsv"], notes, "\t")
        write_notes_jsonl(paths["slice"], notes[: len(notes) * HF_SLICE_MB // size_mb])
    return paths


def vocabulary(notes: Path) -> Path:
    directory = OUT / "vocab"
    if not (directory / "vocab.txt").is_file():
        print("building a 50,101-entry vocabulary ...", flush=True)
        subprocess.run([sys.executable, "-m", "tokenizer", f"input={notes}", f"output_dir={directory}",
                        "vocab_size=50101", "log_level=WARNING"], check=True, cwd=ROOT)
    return directory


def run(name: str, source: Path, vocab: Path, **settings) -> dict:
    prefix = OUT / "out" / name
    overrides = [f"{key}={value}" for key, value in settings.items()]
    subprocess.run([sys.executable, "-m", "data_prep", f"input={source}", f"vocab={vocab}",
                    f"output_prefix={prefix}", "overwrite=true", "log_level=WARNING", *overrides],
                   check=True, cwd=ROOT)
    stats = json.loads(Path(f"{prefix}.stats.json").read_text())
    stats["mb_s"] = stats["bytes_in"] / 1e6 / stats["seconds"]
    mb = stats["bytes_in"] / 1e6
    print(f"{name:<20} {mb:6.1f} MB {stats['seconds']:6.2f} s {stats['mb_s']:6.1f} MB/s  "
          f"({stats['documents']} docs, {stats['sentences']} sentences, {stats['tokens']} tokens, "
          f"{stats['units']} unit(s), backend {','.join(stats['tokenizer_backend'])})", flush=True)
    return stats


def main() -> None:
    args = dict(arg.split("=", 1) for arg in sys.argv[1:])
    size_mb = int(args.get("size_mb", 200))
    paths = corpus(size_mb)
    vocab = vocabulary(paths["slice"])
    results = {
        "jsonl_workers1": run("jsonl_workers1", paths["jsonl"], vocab, workers=1),
        "jsonl_workers2": run("jsonl_workers2", paths["jsonl"], vocab, workers=2),
        "tsv_workers1": run("tsv_workers1", paths["tsv"], vocab, workers=1),
        "tsv_workers2": run("tsv_workers2", paths["tsv"], vocab, workers=2),
        "hf_slice_workers2": run("hf_slice_workers2", paths["slice"], vocab, workers=2,
                                 tokenizer_backend="hf"),
    }
    same = all((OUT / "out" / f"jsonl_workers1.{suffix}").read_bytes()
               == (OUT / "out" / f"jsonl_workers2.{suffix}").read_bytes() for suffix in ("bin", "idx"))
    one, two = results["jsonl_workers1"]["mb_s"], results["jsonl_workers2"]["mb_s"]
    summary = {
        "machine": "this machine (see `nproc`)", "size_mb": size_mb, "results": results,
        "scaling_1_to_2_workers": two / one, "workers_1_and_2_identical_bytes": same,
        "vs_megatron_preprocess_anchor": two / MEGATRON_PREPROCESS_MB_S,
        "vs_hf_encoder_same_pipeline": two / results["hf_slice_workers2"]["mb_s"],
    }
    print(f"\n2 workers vs 1: x{summary['scaling_1_to_2_workers']:.2f} (outputs identical: {same})")
    print(f"2 workers vs Megatron-LM preprocess_data.py anchor ({MEGATRON_PREPROCESS_MB_S} MB/s): "
          f"x{summary['vs_megatron_preprocess_anchor']:.1f}")
    print(f"2 workers vs the same pipeline with the HF encoder: "
          f"x{summary['vs_hf_encoder_same_pipeline']:.1f}")
    with atomic_open(OUT / "results.json", "w") as handle:
        json.dump(summary, handle, indent=2, default=str)
    print(f"results: {OUT / 'results.json'}")


if __name__ == "__main__":
    main()
