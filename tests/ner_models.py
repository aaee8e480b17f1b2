"""Tiny encoders and corpora for the fine-tuning tests (made here, never downloaded)."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoTokenizer, MegatronBertConfig, MegatronBertForMaskedLM

from finetune.training.config import (
    DatasetConfig,
    FinetuneConfig,
    HeadConfig,
    OptimConfig,
    TaskConfig,
    TrainerConfig,
)
from synthetic.annotated import AnnotatedCorporaConfig, write_annotated_corpora
from synthetic.corpora.notes import generate_notes, write_notes_jsonl
from tokenizer.build import build_vocabulary
from tokenizer.config import TokenizerConfig


def make_encoder(root: Path, hidden: int = 128, layers: int = 2, positions: int = 512, seed: int = 0) -> Path:
    """A randomly initialised MegatronBert (MLM) with a WordPiece vocabulary of synthetic notes."""
    corpus = root / "notes.jsonl"
    write_notes_jsonl(corpus, generate_notes(seed=61, target_bytes=400_000))
    directory = root / "encoder"
    build_vocabulary(TokenizerConfig(input=[str(corpus)], output_dir=str(directory), vocab_size=3000,
                                     workers=1))
    tokenizer = AutoTokenizer.from_pretrained(directory)
    torch.manual_seed(seed)
    config = MegatronBertConfig(vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=layers,
                                num_attention_heads=4, intermediate_size=4 * hidden,
                                max_position_embeddings=positions)
    MegatronBertForMaskedLM(config).save_pretrained(directory)
    return directory


def make_corpora(root: Path, documents: int, corpora: list[str], seed: int = 0) -> Path:
    """The synthetic annotated corpora (train/ and test/ per corpus) under `root`."""
    write_annotated_corpora(AnnotatedCorporaConfig(output_dir=str(root), seed=seed, documents=documents,
                                                   corpora=corpora, test_fraction=0.25))
    return root


def settings(model: Path, data_dir: Path, output_dir: Path, recipe: str = "deid_2014", fmt: str = "i2b2_2014",
             epochs: int = 6, lr: float = 3e-3, head: str = "linear", **dataset: object) -> FinetuneConfig:
    """Fine-tuning settings for a tiny CPU run (short windows, a high learning rate)."""
    values = {"format": fmt, "max_seq_length": 128, "stride": 32, **dataset}
    return FinetuneConfig(
        task=TaskConfig(name=recipe, dataset=DatasetConfig(**values), head=HeadConfig(kind=head),
                        optim=OptimConfig(lr=lr), trainer=TrainerConfig(epochs=epochs, batch_size=8,
                                                                         early_stopping_patience=0,
                                                                         logging_steps=50)),
        model=str(model), data_dir=str(data_dir), output_dir=str(output_dir), device="cpu", seed=7)
