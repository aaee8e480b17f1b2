"""The BERT vocabulary layout (the 104-token header, final assembly, Megatron padding) and the one
reader of a vocabulary directory every stage uses (`load_vocabulary`)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from gatortron_common.logging import InputError, get_logger

logger = get_logger(__name__)

VOCAB_FILE = "vocab.txt"
REPORT_FILE = "report.json"  # written by `python -m tokenizer`: the build's settings and statistics
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"  # HF's; holds do_lower_case for vocabularies made elsewhere

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
CONTINUATION = "##"
# Megatron pads the embedding table to a multiple of this times the tensor-parallel size.
MAKE_VOCAB_SIZE_DIVISIBLE_BY = 128


def bert_header() -> list[str]:
    """`[PAD]`, `[unused1]`..`[unused99]`, `[UNK]`, `[CLS]`, `[SEP]`, `[MASK]`: ids 0, 1-99, 100-103."""
    return [PAD, *(f"[unused{i}]" for i in range(1, 100)), UNK, CLS, SEP, MASK]


def padded_vocab_size(vocab_size: int, tensor_parallel: int = 1,
                      divisible_by: int = MAKE_VOCAB_SIZE_DIVISIBLE_BY) -> int:
    """Embedding rows Megatron allocates: `vocab_size` rounded up to a multiple of divisible_by × TP."""
    multiple = divisible_by * tensor_parallel
    return -(-vocab_size // multiple) * multiple


def assemble_vocab(learned: Iterable[str], alphabet: Iterable[str], vocab_size: int) -> list[str]:
    """Header, then every alphabet character in both forms (`c` and `##c`), then learned tokens
    in the trainer's priority order, cut at `vocab_size`.

    Both forms of each character guarantee that any word over the alphabet has a WordPiece
    segmentation, so nothing in the alphabet ever becomes [UNK].

    Raises:
        InputError: vocab_size cannot hold the header and the alphabet.
    """
    header = bert_header()
    chars = list(dict.fromkeys(c for c in alphabet if c.strip()))
    required = [*chars, *(CONTINUATION + c for c in chars)]
    if len(header) + len(required) > vocab_size:
        raise InputError(f"vocab_size={vocab_size} is smaller than the header ({len(header)}) plus the "
                         f"alphabet in both forms ({len(required)}); raise vocab_size")
    body = dict.fromkeys(required)
    reserved = set(header)
    for token in learned:
        if len(body) >= vocab_size - len(header):
            break
        if token and token not in reserved and not any(ch.isspace() for ch in token):
            body.setdefault(token)
    return header + list(body)[: vocab_size - len(header)]


@dataclass(frozen=True)
class Vocabulary:
    """A checked vocab.txt and how text must be normalized before WordPiece uses it.

    Attributes:
        path: the vocab.txt file.
        tokens: one per id, in id order.
        lowercase: uncased (lowercase + strip accents, as BERT uncased).
        normalization: the Unicode form the vocabulary was built with ("" when unknown).
        sha256: of vocab.txt's bytes: the vocabulary's identity.
    """

    path: Path
    tokens: tuple[str, ...]
    lowercase: bool
    normalization: str
    sha256: str

    @property
    def size(self) -> int:
        return len(self.tokens)

    def identity(self) -> dict[str, object]:
        """What datasets and checkpoints record, and compare, to know they share this vocabulary."""
        return {"sha256": self.sha256, "size": self.size, "lowercase": self.lowercase}


def describe_identity(identity: dict | None) -> str:
    """A short, PHI-free description of a recorded vocabulary identity for messages."""
    if not identity:
        return "an unrecorded vocabulary"
    case = "uncased" if identity.get("lowercase") else "cased"
    return f"{identity.get('size')} tokens, {case}, sha256 {str(identity.get('sha256'))[:12]}"


def check_same_vocabulary(expected: dict | None, found: dict | None,
                          expected_what: str, found_what: str) -> None:
    """Refuse a mismatch between two recorded vocabulary identities (an unrecorded one is not compared).

    Raises:
        InputError: naming both sides and both vocabularies.
    """
    if not expected or not found:
        return
    keys = ("sha256", "size", "lowercase")
    if any(expected.get(k) != found.get(k) for k in keys):
        raise InputError(f"vocabulary mismatch: {expected_what} uses {describe_identity(expected)} but "
                         f"{found_what} uses {describe_identity(found)}; use the same vocabulary for both")


def vocab_file_of(vocab: str | Path) -> Path:
    """vocab.txt inside a tokenizer directory, or the path itself when it names a file."""
    path = Path(vocab)
    return path / VOCAB_FILE if path.is_dir() else path


def load_vocabulary(vocab: str | Path, lowercase: bool | None = None) -> Vocabulary:
    """Read and check a vocabulary: a tokenizer directory (vocab.txt plus report.json from
    `python -m tokenizer`, or tokenizer_config.json from elsewhere) or a bare vocab.txt.

    Args:
        vocab: directory or vocab.txt path.
        lowercase: the casing, when the caller knows it; else read from report.json, then
            tokenizer_config.json's do_lower_case, else cased.

    Raises:
        InputError: missing, unreadable, not UTF-8 text, blank or duplicate lines, or no
            [PAD]/[UNK]/[CLS]/[SEP]/[MASK]. Messages name the file and line, never a token.
    """
    path = vocab_file_of(vocab)
    if not path.is_file():
        raise InputError(f"{vocab}: no {VOCAB_FILE}; vocab= takes a directory from python -m tokenizer "
                         f"or a vocab.txt")
    data = path.read_bytes()
    if b"\0" in data:
        raise InputError(f"{path}: binary file (NUL bytes); a vocab.txt has one token per line")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise InputError(f"{path}:{line}: not UTF-8; a vocab.txt is UTF-8 text, one token per line") from None
    tokens = text[:-1].split("\n") if text.endswith("\n") else text.split("\n")
    tokens = [t[:-1] if t.endswith("\r") else t for t in tokens]
    seen: dict[str, int] = {}
    for number, token in enumerate(tokens, start=1):
        if not token.strip():
            raise InputError(f"{path}:{number}: blank line; a vocab.txt has one token per line")
        if token in seen:
            raise InputError(f"{path}:{number}: duplicate token (first at line {seen[token]})")
        seen[token] = number
    missing = [t for t in (PAD, UNK, CLS, SEP, MASK) if t not in seen]
    if missing:
        raise InputError(f"{path}: no {', '.join(missing)}; a BERT vocabulary needs all five special tokens")
    found_lowercase, normalization = recorded_casing(path.parent)
    return Vocabulary(path=path, tokens=tuple(tokens),
                      lowercase=found_lowercase if lowercase is None else lowercase,
                      normalization=normalization, sha256=hashlib.sha256(data).hexdigest())


def recorded_casing(directory: Path) -> tuple[bool, str]:
    """(lowercase, Unicode normalization) a tokenizer directory records: report.json from
    `python -m tokenizer`, else HF's tokenizer_config.json do_lower_case, else (cased, unknown).

    Raises:
        InputError: one of those files is not valid JSON.
    """
    settings = _json_object(directory / REPORT_FILE)
    if "lowercase" in settings:
        return bool(settings["lowercase"]), str(settings.get("unicode_normalization", ""))
    config = _json_object(directory / TOKENIZER_CONFIG_FILE)
    return bool(config.get("do_lower_case", False)), ""


def _json_object(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InputError(f"{path}: not valid JSON") from None
    return value if isinstance(value, dict) else {}
