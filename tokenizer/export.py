"""Write a vocabulary as vocab.txt plus the Hugging Face tokenizer files.

`AutoTokenizer.from_pretrained(dir)` then gives a fast BERT WordPiece tokenizer with the right casing,
offline. (transformers 5: build it with `BertTokenizer(vocab=path)`; `vocab_file=` is ignored.)

Words up to MAX_INPUT_CHARS_PER_WORD characters are split into pieces, as Megatron's BERT tokenizer
(which GatorTron's data was prepared with) does; HF's default of 100 made words of 101-200 characters
[UNK] in fine-tuning and pieces in pretraining. transformers 5's BertTokenizer rebuilds its backend
from vocab.txt on loading and so forgets the setting; the saved tokenizer_config.json therefore names
the generic fast class, which loads tokenizer.json as saved (do_lower_case stays recorded there).
"""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import Tokenizer
from transformers import BertTokenizer

from tokenizer.vocab import CLS, MASK, PAD, SEP, TOKENIZER_CONFIG_FILE, UNK, VOCAB_FILE

MODEL_MAX_LENGTH = 512
# Megatron-LM's legacy BERT tokenizer (bert_tokenization.WordpieceTokenizer) splits words up to 200.
MAX_INPUT_CHARS_PER_WORD = 200
# Loads tokenizer.json as saved (BertTokenizer would rebuild it and drop MAX_INPUT_CHARS_PER_WORD).
SAVED_TOKENIZER_CLASS = "PreTrainedTokenizerFast"


def write_vocab_txt(tokens: list[str], path: Path) -> None:
    path.write_text("".join(f"{token}\n" for token in tokens), encoding="utf-8")


def bert_tokenizer_from_vocab(vocab_path: Path, lowercase: bool) -> BertTokenizer:
    """The HF BERT tokenizer for a vocab.txt (fast, Rust-backed in transformers 5), splitting words
    of up to MAX_INPUT_CHARS_PER_WORD characters into pieces."""
    tokenizer = BertTokenizer(vocab=str(vocab_path), do_lower_case=lowercase, strip_accents=None,
                              tokenize_chinese_chars=True, unk_token=UNK, sep_token=SEP, pad_token=PAD,
                              cls_token=CLS, mask_token=MASK, model_max_length=MODEL_MAX_LENGTH)
    tokenizer.backend_tokenizer.model.max_input_chars_per_word = MAX_INPUT_CHARS_PER_WORD
    return tokenizer


def export_tokenizer(tokens: list[str], directory: Path, lowercase: bool) -> BertTokenizer:
    """Write vocab.txt and the HF tokenizer files into `directory`; return the tokenizer."""
    vocab_path = directory / VOCAB_FILE
    write_vocab_txt(tokens, vocab_path)
    tokenizer = bert_tokenizer_from_vocab(vocab_path, lowercase)
    tokenizer.save_pretrained(str(directory))
    config_path = directory / TOKENIZER_CONFIG_FILE
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["tokenizer_class"] = SAVED_TOKENIZER_CLASS
    # The generic class would otherwise drop BERT's token_type_ids from its outputs.
    config["model_input_names"] = list(tokenizer.model_input_names)
    config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return tokenizer


def text_only_tokenizer(vocab_file: Path, lowercase: bool) -> Tokenizer:
    """HF's BERT backend tokenizer (normalizer, pre-tokenizer, WordPiece) without its added tokens.

    Why: HF matches the special tokens' strings anywhere in the input before any other rule, so a
    note containing "[SEP]" would get the separator's id; Megatron's legacy tokenizer (and
    pretraining data) treat it as text. The WordPiece model still gives [UNK] for unknown words.
    """
    spec = json.loads(bert_tokenizer_from_vocab(vocab_file, lowercase).backend_tokenizer.to_str())
    spec["added_tokens"] = []
    spec["post_processor"] = None  # encode never adds [CLS]/[SEP] here (add_special_tokens=False)
    return Tokenizer.from_str(json.dumps(spec))
