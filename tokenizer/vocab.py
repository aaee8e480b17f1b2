"""The BERT vocabulary layout: the 104-token header, final assembly, Megatron padding."""

from __future__ import annotations

from collections.abc import Iterable

from gatortron_common.logging import InputError

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
