"""Settings of the vocabulary stage (Hydra structured config; YAML in configs/tokenizer/)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omegaconf import MISSING

from gatortron_common.settings import register_schema

ALGORITHMS = ("wordpiece", "sentencepiece_bpe")


@dataclass
class TokenizerConfig:
    """Build a clinical WordPiece vocabulary.

    Attributes:
        input: file, glob, or list of them: plain text, JSONL, notes CSV/TSV, PubMed baseline XML
            (`pubmed*.xml`), MediaWiki dumps (`*pages-articles*.xml*`); .gz/.bz2/.xz ok.
        output_dir: where vocab.txt, the HF tokenizer files and report.json go. An existing
            non-empty directory is replaced only if it is an earlier output of this stage (its
            report.json and vocab.txt mark it) or with overwrite=true; never if it holds an input.
        overwrite: replace an existing output_dir that is not an earlier tokenizer output.
        vocab_size: size of vocab.txt including the 104-token BERT header (GatorTron: 50101).
        lowercase: uncased vocabulary (lowercase + strip accents, BERT uncased).
        algorithm: "wordpiece" (HF WordPiece trainer on parallel word counts, default) or
            "sentencepiece_bpe" (GatorTron's recipe, converted to WordPiece).
        format: "auto" (from file names) or text / jsonl / csv / tsv / pubmed / wikipedia for every input.
        text_key: JSONL key with the text.
        text_column: CSV/TSV column with the text.
        sample_bytes: training-text budget; larger corpora are sampled uniformly down to it,
            so memory and time stay bounded on 100 GB+ inputs. 0 reads everything.
        heldout_bytes: text set aside (never trained on) to measure vocabulary quality.
        workers: processes counting words; 0 = one per available core.
        max_words: most frequent words given to the WordPiece trainer (its cost grows with them).
        max_table_words: bound on distinct words held while counting (memory bound); the rarest
            are pruned beyond it.
        character_coverage: share of characters the alphabet must cover (rarer ones become [UNK]),
            in (0, 1].
        min_document_frequency: a learned token that starts a word must be a word (or the start of
            one) found in at least this many documents, so one patient's name or number never becomes
            a token; digit strings over 4 digits never do. 1 turns the document rule off.
        unicode_normalization: NFKC (GatorTron's nmt_nfkc) or "" for none; data_prep applies the
            same normalization before tokenizing.
        seed: sampling seed.
        strict: bad records raise instead of being counted and skipped.
        log_level: logging level.
    """

    input: Any = MISSING  # str or list of str: OmegaConf has no str|list union
    output_dir: str = MISSING
    overwrite: bool = False
    vocab_size: int = 50101
    lowercase: bool = False
    algorithm: str = "wordpiece"
    format: str = "auto"
    text_key: str = "text"
    text_column: str = "NOTE_TEXT"
    sample_bytes: int = 100_000_000
    heldout_bytes: int = 1_000_000
    workers: int = 0
    max_words: int = 40_000
    max_table_words: int = 400_000
    character_coverage: float = 0.9999
    min_document_frequency: int = 5
    unicode_normalization: str = "NFKC"
    seed: int = 1234
    strict: bool = False
    log_level: str = "INFO"


register_schema("tokenizer_schema", TokenizerConfig)
