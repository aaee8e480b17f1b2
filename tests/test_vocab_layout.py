"""Vocabulary layout: BERT header, alphabet coverage, Megatron padding; malformed vocab.txt files."""

from pathlib import Path

import pytest

from gatortron_common.logging import InputError
from tokenizer.megatron_adapter import MegatronWordPieceTokenizer
from tokenizer.vocab import assemble_vocab, bert_header, load_vocabulary, padded_vocab_size


def test_bert_header_ids_are_exact() -> None:
    header = bert_header()
    assert len(header) == 104
    assert header[0] == "[PAD]"
    assert header[1:100] == [f"[unused{i}]" for i in range(1, 100)]
    assert header[100:] == ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]


@pytest.mark.parametrize(("size", "tp", "padded"), [
    (50101, 1, 50176), (50101, 2, 50176), (50101, 8, 50176),
    (30522, 1, 30592), (30522, 2, 30720), (30522, 4, 30720), (30522, 8, 30720),
    (128, 1, 128), (129, 1, 256), (1, 2, 256),
])
def test_padded_vocab_size_is_multiple_of_128_times_tp(size: int, tp: int, padded: int) -> None:
    assert padded_vocab_size(size, tp) == padded
    assert padded % (128 * tp) == 0 and padded >= size


def test_assemble_puts_both_character_forms_before_learned_tokens() -> None:
    vocab = assemble_vocab(["a", "b", "##b", "ab", "[CLS]", "ab", "x y", "abc"], ["a", "b"], 104 + 6)
    assert vocab[:104] == bert_header()
    assert vocab[104:] == ["a", "b", "##a", "##b", "ab", "abc"]


def test_assemble_cuts_at_vocab_size() -> None:
    vocab = assemble_vocab(["ab", "abc", "abcd"], ["a"], 104 + 3)
    assert vocab[104:] == ["a", "##a", "ab"]


def test_vocab_size_smaller_than_header_and_alphabet_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="vocab_size=110 is smaller"):
        assemble_vocab([], list("abcd"), 110)


def write_vocab(directory: Path, lines: list[str] | bytes) -> Path:
    path = directory / "vocab.txt"
    if isinstance(lines, bytes):
        path.write_bytes(lines)
    else:
        path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


GOOD = [*bert_header(), "z", "##z", "zqxj"]


@pytest.mark.parametrize(("lines", "message"), [
    ([t for t in GOOD if t != "[UNK]"], r"no \[UNK\]"),
    ("\n".join(GOOD).encode() + b"\n\x00\x01\x02\n", "binary file"),
    ([*GOOD, "zqxj"], r":108: duplicate token \(first at line 107\)"),
    ([*GOOD[:105], "", *GOOD[105:]], ":106: blank line"),
    ([*GOOD[:105], "   ", *GOOD[105:]], ":106: blank line"),
    ("\n".join(GOOD).encode() + b"\n\xff\xfe\n", ":108: not UTF-8"),
])
def test_malformed_vocab_is_a_clear_error(tmp_path: Path, lines: list[str] | bytes, message: str) -> None:
    path = write_vocab(tmp_path, lines)
    with pytest.raises(InputError, match=message) as raised:
        load_vocabulary(tmp_path)
    assert str(raised.value).startswith(str(path)) and "\n" not in str(raised.value)
    assert "zqxj" not in str(raised.value)  # no token in the message


def test_megatron_adapter_checks_its_vocab(tmp_path: Path) -> None:
    write_vocab(tmp_path, [t for t in GOOD if t != "[UNK]"])
    with pytest.raises(InputError, match=r"no \[UNK\]"):
        MegatronWordPieceTokenizer(tmp_path)
    write_vocab(tmp_path, GOOD)
    adapter = MegatronWordPieceTokenizer(tmp_path / "vocab.txt")
    assert adapter.unk == 100 and adapter.vocab_size == len(GOOD)
    assert adapter.unique_identifiers["vocab_sha256"] == load_vocabulary(tmp_path).sha256
