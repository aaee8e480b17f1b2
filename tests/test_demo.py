"""`make demo` end to end (CPU): the whole chain runs, and its output shows no synthetic PHI string
except in the one before/after pair it prints on purpose."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from finetune.corpora.formats import read_corpus

ROOT = Path(__file__).resolve().parents[1]
PAIR_START = "--- before (synthetic) ---"
PAIR_END = "demo outputs in "


@pytest.mark.slow
def test_make_demo_runs_and_its_logs_carry_no_phi(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(["make", "--no-print-directory", "demo", f"DEMO_DIR={demo}"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=1500)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    for name in ("hf/config.json", "deid/model/config.json", "deid/test_scores.json", "notes_tagged.tsv",
                 "notes_surrogate.tsv", "deid_audit.spans.audit.json"):
        assert (demo / name).is_file(), name
    start, end = output.index(PAIR_START), output.index(PAIR_END)
    logs = output[:start] + output[end:]
    phi = {document.text[e.start:e.end] for split in ("train", "test")
           for document in read_corpus(demo / "annotated" / "i2b2_2014" / split, "i2b2_2014")
           for e in document.entities if e.end - e.start >= 6}
    assert len(phi) > 500
    leaked = sorted(string for string in phi if string in logs)
    assert not leaked, f"{len(leaked)} synthetic PHI strings in the demo's logs"
    shown = output[start:end]
    assert "[**NAME**]" in shown and "mode=surrogate" in shown
