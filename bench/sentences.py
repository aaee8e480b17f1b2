"""Sentence splitting on clinical text: boundary F1 on the gold set in tests/data and throughput
on synthetic notes, for our splitter and two well-known general-purpose ones (blingfire, pysbd),
in one run. Needs the bench extra: pip install -e '.[bench]'.

    python bench/sentences.py
"""

from __future__ import annotations

from bench_environment import ROOT

import json
import time
from collections.abc import Callable

from data_prep.sentences import ClinicalSentenceSplitter
from synthetic.corpora.notes import generate_notes

GOLD = ROOT / "tests" / "data" / "sentence_gold.jsonl"
Spans = Callable[[str], list[tuple[int, int]]]


def gold_cases() -> list[dict]:
    return [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]


def gold_spans(case: dict) -> list[tuple[int, int]]:
    spans, start = [], 0
    for sentence in case["sentences"]:
        start = case["text"].index(sentence, start)
        spans.append((start, start + len(sentence)))
        start += len(sentence)
    return spans


def boundaries(spans: list[tuple[int, int]], text: str) -> set[int]:
    """Sentence ends (after trailing whitespace is dropped), the end of the text excluded."""
    ends = {len(text[:end].rstrip()) for _, end in spans}
    ends.discard(len(text.rstrip()))
    return ends


def boundary_f1(splitter: Spans, cases: list[dict]) -> dict:
    tp = fp = fn = 0
    for case in cases:
        predicted = boundaries(splitter(case["text"]), case["text"])
        expected = boundaries(gold_spans(case), case["text"])
        tp += len(predicted & expected)
        fp += len(predicted - expected)
        fn += len(expected - predicted)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "tp": tp, "fp": fp, "fn": fn}


def splitters() -> dict[str, Spans]:
    ours = ClinicalSentenceSplitter()
    found: dict[str, Spans] = {"ours (clinical rules)": ours.spans}
    try:
        import blingfire

        def blingfire_spans(text: str) -> list[tuple[int, int]]:
            return [tuple(span) for span in blingfire.text_to_sentences_and_offsets(text)[1]]
        found["blingfire"] = blingfire_spans
    except ImportError:
        print("blingfire not installed: pip install -e '.[bench]'")
    try:
        import pysbd
        segmenter = pysbd.Segmenter(language="en", clean=False, char_span=True)
        found["pysbd"] = lambda text: [(s.start, s.end) for s in segmenter.segment(text)]
    except ImportError:
        print("pysbd not installed: pip install -e '.[bench]'")
    return found


def throughput(splitter: Spans, texts: list[str]) -> float:
    size = sum(len(t) for t in texts)
    start = time.perf_counter()
    for text in texts:
        splitter(text)
    return size / 1e6 / (time.perf_counter() - start)


def main() -> None:
    cases = gold_cases()
    notes = [n.text for n in generate_notes(seed=5, target_bytes=5_000_000)]
    small = notes[: max(1, len(notes) // 20)]  # pysbd runs at well under 1 MB/s
    print(f"gold set: {len(cases)} clinical-style passages, "
          f"{sum(len(c['sentences']) - 1 for c in cases)} inner boundaries")
    for name, splitter in splitters().items():
        scores = boundary_f1(splitter, cases)
        speed = throughput(splitter, small if name == "pysbd" else notes)
        print(f"{name:<24} boundary P {scores['precision']:.3f} R {scores['recall']:.3f} "
              f"F1 {scores['f1']:.3f} (tp {scores['tp']}, fp {scores['fp']}, fn {scores['fn']})  "
              f"{speed:6.1f} MB/s on synthetic notes (1 core)")
    # How data_prep calls it: many documents per call (~2 MB), vectorized over the whole batch.
    batches = [notes[i:i + 500] for i in range(0, len(notes), 500)]
    size = sum(len(t) for t in notes) / 1e6
    start = time.perf_counter()
    splitter = ClinicalSentenceSplitter()
    for batch in batches:
        splitter.split_many(batch)
    batch_speed = size / (time.perf_counter() - start)
    print(f"{'ours, 500 notes a call':<24} (same sentences)  {batch_speed:6.1f} MB/s on synthetic notes "
          f"(1 core)")


if __name__ == "__main__":
    main()
