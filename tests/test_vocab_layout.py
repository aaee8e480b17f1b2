"""Vocabulary layout: BERT header, alphabet coverage, Megatron padding."""

import pytest

from gatortron_common.logging import InputError
from tokenizer.vocab import assemble_vocab, bert_header, padded_vocab_size


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
