"""Build the clinical WordPiece vocabulary (stage 1 of the chain).

Input: plain text (documents separated by blank lines), JSONL (text under `text_key`), notes
CSV/TSV (text in `text_column`, default NOTE_TEXT), PubMed baseline XML (`pubmed*.xml`: title +
abstract) or MediaWiki `*pages-articles*.xml*` dumps (article text), optionally .gz/.bz2/.xz, e.g.::

    NOTE_ID<TAB>MRN<TAB>NOTE_TYPE<TAB>NOTE_DATE<TAB>NOTE_TEXT
    N000001<TAB>...<TAB>"HISTORY OF PRESENT ILLNESS:
    ..."

Output in output_dir: vocab.txt (BERT header [PAD], [unused1..99], [UNK], [CLS], [SEP], [MASK]
then the learned tokens), the HF tokenizer files (AutoTokenizer.from_pretrained(output_dir)),
and report.json (padded sizes for TP=1/2/4/8, held-out fertility, [UNK] rate, words kept whole).

Settings: configs/tokenizer/default.yaml (see tokenizer/config.py for every key). Examples::

    python -m tokenizer input=notes.tsv output_dir=vocab/ vocab_size=50101
    python -m tokenizer 'input=[notes/*.jsonl,pubmed/*.xml.gz,wiki/*pages-articles*.bz2]' \
        output_dir=vocab_uncased/ lowercase=true
    python -m tokenizer input=notes.csv output_dir=vocab_sp/ algorithm=sentencepiece_bpe \
        sample_bytes=1000000000
"""

from __future__ import annotations

import gatortron_common.environment  # noqa: F401  before transformers is imported

import hydra
from omegaconf import DictConfig

from gatortron_common.cli import run_command, run_stage
from gatortron_common.settings import HYDRA_VERSION, config_dir
from tokenizer.build import build_vocabulary
from tokenizer.config import TokenizerConfig


@hydra.main(config_path=config_dir("tokenizer"), config_name="default", version_base=HYDRA_VERSION)
def main(cfg: DictConfig) -> None:
    run_stage(cfg, build_vocabulary, "tokenizer")


if __name__ == "__main__":
    run_command(main, TokenizerConfig)
