"""De-identification throughput: `finetune.deid` rules alone and with models, beside Presidio's patterns.

    python bench/deid_throughput.py [--notes 2000] [--base-notes 200] [--demo demo_out]

All rows run in this process on the same synthetic i2b2 2014 notes (`generate_corpus`, seed 0),
written as a notes .jsonl; each row is one `finetune.deid.tool.deidentify` call (read, detect,
replace, write the notes and the span file), timed by its own summary:

- rules only, tag and surrogate mode, on `--notes` notes;
- rules + a tiny model (`make demo`'s de-id model when `--demo` has one, else a 2-layer / 128 model
  fine-tuned here), fp32 and int8, tag and surrogate mode, on `--notes` notes;
- rules + a BERT-base-size model (12 layers / 768, from `bench/int8_agreement.py`), fp32 and
  int8, tag mode, on the first `--base-notes` notes (fp32 at that size runs ~1,000 subwords/s
  on 2 cores: 2,000 notes would take about ten minutes a row);
- Presidio's pattern recognizers (its default English registry without the spaCy recognizer: no
  NLP engine, the setting its own speed figures are for) on the same `--notes` texts, detection
  only (it writes nothing). Needs `pip install presidio-analyzer` (in `.[bench]`).

Columns: notes/s, characters/s, the model's share of the time (`summary.prediction.seconds`:
tokenizing, windows, forward passes, decoding), the rest (reading, rules, merging, surrogates,
writing) as a share of the model's time, and surrogate mode's time over tag mode's. Goals:
rules only ≥ 100k characters/s; the rest ≤ 10 % of the model's time at base size; surrogate
≤ 1.1× tag.
"""

from __future__ import annotations

from bench_environment import ROOT

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from deid_detectors import PresidioPatterns
from int8_agreement import OUT as AGREEMENT_OUT
from int8_agreement import base_model, fine_tuned_model

from finetune.deid.tool import DeidConfig, deidentify
from synthetic.annotated import generate_corpus

OUT = ROOT / "bench_out" / "deid_throughput"
SECRET = "bench-only-secret-0123456789abcdef"  # synthetic notes; never a real key


def write_notes(path: Path, texts: list[str]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for index, text in enumerate(texts):
            handle.write(json.dumps({"id": f"n{index}", "text": text}) + "\n")


def deid_row(name: str, notes: Path, model: Path | None, mode: str,
             precision: str = "fp32") -> dict[str, Any]:
    output = OUT / f"{name.replace(' ', '_')}.jsonl"
    summary = deidentify(DeidConfig(model=str(model) if model else None, input=str(notes), output=str(output),
                                    mode=mode, precision=precision, device="cpu", overwrite=True,
                                    int8_cache=str(AGREEMENT_OUT / "int8_cache"),
                                    secret=SECRET if mode == "surrogate" else None, log_level="WARNING"))
    seconds = summary["seconds"]
    model_seconds = summary.get("prediction", {}).get("seconds")
    return {"row": name, "notes": summary["notes"], "characters": summary["characters"], "seconds": seconds,
            "notes_per_s": round(summary["notes"] / seconds, 1),
            "characters_per_s": round(summary["characters"] / seconds),
            "model_seconds": model_seconds,
            "rest_over_model": round((seconds - model_seconds) / model_seconds, 3) if model_seconds else None,
            "spans": summary["spans"], "mode": mode, "precision": precision if model else None}


def presidio_row(texts: list[str]) -> dict[str, Any]:
    try:
        presidio = PresidioPatterns.load()
    except ImportError:
        return {"row": "presidio patterns", "status": "not installed (pip install presidio-analyzer)"}
    presidio(texts[:5])  # compiles its patterns outside the timing
    started = time.perf_counter()
    found = presidio(texts)
    seconds = time.perf_counter() - started
    characters = sum(map(len, texts))
    return {"row": "presidio patterns", "notes": len(texts), "characters": characters,
            "seconds": round(seconds, 2), "notes_per_s": round(len(texts) / seconds, 1),
            "characters_per_s": round(characters / seconds), "spans": sum(map(len, found)),
            "recognizers": len(presidio.recognizers)}


def tiny_model(demo: Path) -> tuple[str, Path]:
    if (demo / "deid" / "model" / "config.json").is_file():
        return "demo", demo / "deid" / "model"
    return "tiny", fine_tuned_model(AGREEMENT_OUT / "tiny", 128, 2, 160, epochs=10, lr=3e-3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notes", type=int, default=2000)
    parser.add_argument("--base-notes", type=int, default=200)
    parser.add_argument("--demo", type=Path, default=ROOT / "demo_out", help="a `make demo` output folder")
    parser.add_argument("--skip-base", action="store_true", help="leave out the BERT-base rows")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("GATORTRON_DEID_SECRET", SECRET)
    texts = [document.text for document in generate_corpus("i2b2_2014", seed=0, documents=args.notes)]
    notes, base_notes = OUT / "notes.jsonl", OUT / "base_notes.jsonl"
    write_notes(notes, texts)
    write_notes(base_notes, texts[:args.base_notes])
    print(f"{len(texts)} notes, {sum(map(len, texts)):,} characters", flush=True)
    tiny_name, tiny = tiny_model(args.demo)
    plan: list[tuple[str, Path, Path | None, str, str]] = [
        ("rules only, tag", notes, None, "tag", "fp32"),
        ("rules only, surrogate", notes, None, "surrogate", "fp32"),
    ]
    for precision in ("fp32", "int8"):
        for mode in ("tag", "surrogate"):
            plan.append((f"{tiny_name} {precision}, {mode}", notes, tiny, mode, precision))
    if not args.skip_base:
        base = base_model(160)
        for precision in ("fp32", "int8"):
            plan.append((f"base {precision}, tag", base_notes, base, "tag", precision))
    rows = []
    for name, source, model, mode, precision in plan:
        rows.append(deid_row(name, source, model, mode, precision))
        print(json.dumps(rows[-1]), flush=True)
    rows.append(presidio_row(texts))
    print(json.dumps(rows[-1]), flush=True)
    by_name = {row["row"]: row for row in rows}
    print(f"\n{'row':<24} {'notes':>6} {'notes/s':>8} {'chars/s':>9} {'model s':>8} {'rest/model':>10} "
          f"{'surr/tag':>8}")
    for row in rows:
        if "seconds" not in row:
            print(f"{row['row']:<24} {row.get('status', '')}")
            continue
        tag = by_name.get(row["row"].replace("surrogate", "tag"))
        ratio = row["seconds"] / tag["seconds"] if row.get("mode") == "surrogate" and tag else None
        print(f"{row['row']:<24} {row['notes']:>6} {row['notes_per_s']:>8.1f} {row['characters_per_s']:>9,} "
              f"{row.get('model_seconds') or 0:>8.1f} "
              f"{'' if row.get('rest_over_model') is None else format(row['rest_over_model'], '.1%'):>10} "
              f"{'' if ratio is None else format(ratio, '.2f') + 'x':>8}")
    (OUT / "result.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(f"\nwritten to {OUT / 'result.json'}")


if __name__ == "__main__":
    main()
