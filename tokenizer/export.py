"""Write a vocabulary as vocab.txt plus the Hugging Face tokenizer files.

`AutoTokenizer.from_pretrained(dir)` then gives a fast BertTokenizer with the right casing,
offline. (transformers 5: build it with `BertTokenizer(vocab=path)`; `vocab_file=` is ignored.)
"""

from __future__ import annotations

from pathlib import Path

from transformers import BertTokenizer

from tokenizer.vocab import CLS, MASK, PAD, SEP, UNK, VOCAB_FILE

__all__ = ["VOCAB_FILE", "bert_tokenizer_from_vocab", "export_tokenizer", "read_vocab_txt", "write_vocab_txt"]
MODEL_MAX_LENGTH = 512


def write_vocab_txt(tokens: list[str], path: Path) -> None:
    path.write_text("".join(f"{token}\n" for token in tokens), encoding="utf-8")


def read_vocab_txt(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").rstrip("\n").split("\n")


def bert_tokenizer_from_vocab(vocab_path: Path, lowercase: bool) -> BertTokenizer:
    """The HF BERT tokenizer for a vocab.txt (fast, Rust-backed in transformers 5)."""
    return BertTokenizer(vocab=str(vocab_path), do_lower_case=lowercase, strip_accents=None,
                         tokenize_chinese_chars=True, unk_token=UNK, sep_token=SEP, pad_token=PAD,
                         cls_token=CLS, mask_token=MASK, model_max_length=MODEL_MAX_LENGTH)


def export_tokenizer(tokens: list[str], directory: Path, lowercase: bool) -> BertTokenizer:
    """Write vocab.txt and the HF tokenizer files into `directory`; return the tokenizer."""
    vocab_path = directory / VOCAB_FILE
    write_vocab_txt(tokens, vocab_path)
    tokenizer = bert_tokenizer_from_vocab(vocab_path, lowercase)
    tokenizer.save_pretrained(str(directory))
    return tokenizer
