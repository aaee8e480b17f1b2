"""Write the whole synthetic corpus set (notes in three formats, PubMed, Wikipedia) into one directory."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from tqdm import tqdm

from gatortron_common.logging import get_logger
from synthetic.corpora.config import SyntheticCorporaConfig
from synthetic.corpora.notes import delimited_note_sink, generate_notes, jsonl_note_sink
from synthetic.corpora.pubmed import write_pubmed_baseline
from synthetic.corpora.wikipedia import write_wikipedia_dump

log = get_logger(__name__)

PUBMED_FILE = "pubmed/pubmed26n0001.xml.gz"
WIKI_FILE = "wikipedia/enwiki-20260101-pages-articles1.xml.bz2"
_PROGRESS_MIN_BYTES = 20_000_000  # below this generation takes a few seconds; a bar is just noise


def _file_info(path: Path, count: int, unit: str) -> dict[str, Any]:
    return {"path": str(path), unit: count, "bytes": path.stat().st_size}


def write_synthetic_corpora(cfg: SyntheticCorporaConfig | Any) -> dict[str, Any]:
    """Generate all corpora described by `cfg` into `cfg.output_dir`; return a summary.

    Notes are generated once and streamed into the TSV, CSV and JSONL writers together, so the
    three files hold the same notes. The summary holds paths, counts and sizes only, never text.
    """
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = int(round(cfg.notes_mb * 1_000_000))
    paths = {"tsv": out / "notes.tsv", "csv": out / "notes.csv", "jsonl": out / "notes.jsonl"}
    show = cfg.progress if cfg.progress is not None else target >= _PROGRESS_MIN_BYTES

    n_notes = 0
    text_bytes = 0
    with contextlib.ExitStack() as stack:
        sinks = [
            stack.enter_context(delimited_note_sink(paths["tsv"], "\t")),
            stack.enter_context(delimited_note_sink(paths["csv"], ",")),
            stack.enter_context(jsonl_note_sink(paths["jsonl"], cfg.jsonl_text_key)),
        ]
        bar = stack.enter_context(
            tqdm(total=target, unit="B", unit_scale=True, desc="notes", disable=not show))
        for note in generate_notes(cfg.seed, target):
            for write in sinks:
                write(note)
            size = len(note.text.encode("utf-8"))
            n_notes += 1
            text_bytes += size
            bar.update(size)
    log.info("wrote %d notes (%d text bytes) to %s", n_notes, text_bytes, out)

    pubmed_path = out / PUBMED_FILE
    n_articles = write_pubmed_baseline(pubmed_path, cfg.seed, cfg.pubmed_articles, cfg.pubmed_deleted)
    wiki_path = out / WIKI_FILE
    n_pages = write_wikipedia_dump(wiki_path, cfg.seed, cfg.wiki_pages)

    return {
        "output_dir": str(out),
        "seed": cfg.seed,
        "notes": {
            "count": n_notes,
            "text_bytes": text_bytes,
            "files": {fmt: _file_info(p, n_notes, "notes") for fmt, p in paths.items()},
        },
        "pubmed": _file_info(pubmed_path, n_articles, "articles"),
        "wikipedia": _file_info(wiki_path, n_pages, "pages"),
    }
