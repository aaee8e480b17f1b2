"""BIO/BIOES labelling of words, overlap policies and subword alignment as training does it (hand-built
cases)."""

from __future__ import annotations

import pytest
from transformers import BertTokenizer

from finetune.corpora.document import Document, Entity
from finetune.tagging.labels import (
    IGNORE_INDEX,
    LabelSettings,
    entities_from_labels,
    label_document,
    label_vocabulary,
    word_spans,
)
from finetune.training.data import training_windows
from gatortron_common.logging import InputError

MED_TEXT = "Pt given aspirin 81 mg daily for chest wall pain."
MED_ENTITIES = [
    Entity(9, 16, "Drug"),        # aspirin
    Entity(17, 22, "Strength"),   # 81 mg
    Entity(23, 28, "Frequency"),  # daily
    Entity(33, 48, "Reason"),     # chest wall pain
]


def words_of(text: str, spans: list[tuple[int, int]]) -> list[str]:
    return [text[start:end] for start, end in spans]


def triples(entities: list[Entity]) -> list[tuple[int, int, str]]:
    return [(e.start, e.end, e.type) for e in entities]


def test_words_split_punctuation_off_clinical_tokens():
    text = "BP:140/90, b.i.d. O'Brien"
    spans, cut = word_spans(text)
    assert words_of(text, spans) == ["BP", ":", "140", "/", "90", ",", "b", ".", "i", ".", "d", ".",
                                     "O", "'", "Brien"]
    assert cut == 0


def test_entity_boundary_inside_a_word_splits_it_and_is_counted():
    text = "Aspirin81mg given"
    document = Document("d", text, [Entity(0, 7, "Drug"), Entity(7, 11, "Strength")])
    labelled = label_document(document)
    assert labelled.word_texts(text) == ["Aspirin", "81mg", "given"]
    assert labelled.labels == [["B-Drug", "B-Strength", "O"]]
    assert labelled.stats.split_words == 1
    # Two cuts in one word still count one word.
    assert word_spans("abcdef", [2, 4]) == ([(0, 2), (2, 4), (4, 6)], 1)


def test_bio_labels_exact():
    labelled = label_document(Document("d", MED_TEXT, list(MED_ENTITIES)))
    assert labelled.word_texts(MED_TEXT) == ["Pt", "given", "aspirin", "81", "mg", "daily", "for", "chest",
                                             "wall", "pain", "."]
    assert labelled.labels == [["O", "O", "B-Drug", "B-Strength", "I-Strength", "B-Frequency", "O",
                                "B-Reason", "I-Reason", "I-Reason", "O"]]
    assert labelled.stats.labelled == {"Drug": 1, "Strength": 1, "Frequency": 1, "Reason": 1}
    assert labelled.stats.dropped == {}


def test_bioes_labels_exact():
    labelled = label_document(Document("d", MED_TEXT, list(MED_ENTITIES)), LabelSettings(scheme="BIOES"))
    assert labelled.labels == [["O", "O", "S-Drug", "B-Strength", "E-Strength", "S-Frequency", "O",
                                "B-Reason", "I-Reason", "E-Reason", "O"]]


@pytest.mark.parametrize("scheme", ["BIO", "BIOES"])
def test_labels_back_to_entities_is_exact_inverse(scheme):
    # Adjacent entities of one type must stay two entities.
    text = "Aspirin Tylenol 5 mg, x"
    entities = [Entity(0, 7, "Drug"), Entity(8, 15, "Drug"), Entity(16, 20, "Strength"),
                                   Entity(22, 23, "Drug")]
    for doc_text, doc_entities in ((MED_TEXT, MED_ENTITIES), (text, entities)):
        labelled = label_document(Document("d", doc_text, list(doc_entities)), LabelSettings(scheme=scheme))
        decoded = entities_from_labels(labelled.words, labelled.labels[0], scheme)
        assert triples(decoded) == triples(list(doc_entities))


def test_lenient_decoding_of_ill_formed_sequences():
    words = [(0, 1), (2, 3), (4, 5), (6, 7)]
    assert triples(entities_from_labels(words, ["O", "I-X", "I-X", "I-Y"])) == [(2, 5, "X"), (6, 7, "Y")]
    assert triples(entities_from_labels(words, ["B-X", "E-X", "E-X", "S-Y"], "BIOES")) == [
        (0, 3, "X"), (4, 5, "X"), (6, 7, "Y")]
    with pytest.raises(InputError, match="label #2"):
        entities_from_labels(words, ["O", "E-X", "O", "O"], "BIO")
    with pytest.raises(InputError, match="3 labels for 4 words"):
        entities_from_labels(words, ["O", "O", "O"])


# "Developed rash and itching on penicillin." Reason "rash" vs ADE "rash and itching".
OVERLAP_TEXT = "Developed rash and itching on penicillin."
OVERLAP_ENTITIES = [Entity(10, 14, "Reason"), Entity(10, 26, "ADE"), Entity(30, 40, "Drug")]


def overlap_labels(settings: LabelSettings):
    return label_document(Document("d", OVERLAP_TEXT, list(OVERLAP_ENTITIES)), settings)


def test_overlap_type_priority_keeps_higher_type_and_counts_drop():
    labelled = overlap_labels(LabelSettings(overlap="type_priority", type_priority=["Reason", "ADE"]))
    assert labelled.labels == [["O", "B-Reason", "O", "O", "O", "B-Drug", "O"]]
    assert labelled.stats.dropped == {"ADE": 1}
    assert labelled.stats.dropped_overlap == {"ADE": 1}
    reverse = overlap_labels(LabelSettings(overlap="type_priority", type_priority=["ADE"]))
    # Reason is not listed, so it ranks below ADE.
    assert reverse.labels == [["O", "B-ADE", "I-ADE", "I-ADE", "O", "B-Drug", "O"]]
    assert reverse.stats.dropped == {"Reason": 1}


def test_overlap_longest_wins_and_ties_go_left():
    labelled = overlap_labels(LabelSettings(overlap="longest"))
    assert labelled.labels == [["O", "B-ADE", "I-ADE", "I-ADE", "O", "B-Drug", "O"]]
    assert labelled.stats.dropped == {"Reason": 1}
    text = "left arm pain"
    tie = label_document(Document("d", text, [Entity(5, 13, "B"), Entity(0, 8, "A")]))
    assert tie.labels == [["B-A", "I-A", "O"]]
    assert tie.stats.dropped == {"B": 1}
    # Same span, two types: the one listed first in the document wins.
    same = label_document(Document("d", text, [Entity(0, 4, "ADE"), Entity(0, 4, "Reason")]))
    assert same.labels == [["B-ADE", "O", "O"]]
    assert same.stats.dropped == {"Reason": 1}


def test_overlap_groups_give_one_sequence_per_group():
    labelled = overlap_labels(LabelSettings(overlap="groups", groups=[["Drug", "Reason"], ["ADE"]]))
    assert labelled.labels == [["O", "B-Reason", "O", "O", "O", "B-Drug", "O"],
                               ["O", "B-ADE", "I-ADE", "I-ADE", "O", "O", "O"]]
    assert labelled.stats.dropped == {}
    assert labelled.stats.labelled == {"Drug": 1, "Reason": 1, "ADE": 1}
    partial = overlap_labels(LabelSettings(overlap="groups", groups=[["Drug"], ["ADE"]]))
    assert partial.stats.dropped_ungrouped == {"Reason": 1}
    assert partial.stats.dropped == {"Reason": 1}
    with pytest.raises(InputError, match="listed more than once: Drug"):
        overlap_labels(LabelSettings(overlap="groups", groups=[["Drug"], ["Drug", "ADE"]]))
    with pytest.raises(InputError, match="overlap='widest'"):
        overlap_labels(LabelSettings(overlap="widest"))


def test_discontinuous_entities_fragments_or_span():
    text = "chest and abdominal pain"
    reason = Entity(0, 24, "Reason", fragments=[(0, 5), (20, 24)])
    fragments = label_document(Document("d", text, [reason]))
    assert fragments.labels == [["B-Reason", "O", "O", "B-Reason"]]
    assert fragments.stats.discontinuous == 1
    assert triples(entities_from_labels(fragments.words, fragments.labels[0])) == [
        (0, 5, "Reason"), (20, 24, "Reason")]
    span = label_document(Document("d", text, [reason]), LabelSettings(discontinuous="span"))
    assert span.labels == [["B-Reason", "I-Reason", "I-Reason", "I-Reason"]]
    # The fragment "pain" overlaps the contiguous "abdominal pain" (14 chars beat 5 + 4).
    both = label_document(Document("d", text, [reason, Entity(10, 24, "Reason")]))
    assert both.labels == [["O", "O", "B-Reason", "I-Reason"]]
    assert both.stats.dropped_overlap == {"Reason": 1}


def test_entity_without_words_is_counted_not_silently_lost():
    labelled = label_document(Document("d", "a    b", [Entity(1, 4, "X"), Entity(5, 6, "Y")]))
    assert labelled.labels == [["O", "B-Y"]]
    assert labelled.stats.dropped_no_words == {"X": 1}


def test_label_vocabulary():
    assert label_vocabulary(["Drug", "ADE", "Drug"]) == ["O", "B-ADE", "I-ADE", "B-Drug", "I-Drug"]
    assert label_vocabulary(["X"], "BIOES") == ["O", "B-X", "I-X", "E-X", "S-X"]


VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "As", "##pir", "##in", "81", "mg", "da", "##ily",
         "given", "x"]


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    path.write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    # transformers 5: vocab= (vocab_file= is silently ignored and makes every token [UNK]).
    tok = BertTokenizer(vocab=str(path), do_lower_case=False, model_max_length=8)
    assert tok.is_fast
    return tok


def _one_window(tokenizer, document: Document, label_to_id: dict[str, int]):
    """The training features of `document` in one window (no windowing), and its subwords."""
    windows = training_windows([document], tokenizer, LabelSettings(), label_to_id, size=1000, overlap=0)
    assert len(windows.features) == 1
    return windows.features[0], windows.documents[0]


def test_first_subword_alignment_with_ignore_index(tokenizer):
    text = "given Aspirin 81 mg daily"
    document = Document("d", text, [Entity(6, 13, "Drug"), Entity(14, 19, "Strength"),
                                    Entity(20, 25, "Frequency")])
    label_to_id = {label: i for i, label in enumerate(label_vocabulary(["Drug", "Frequency", "Strength"]))}
    features, subwords = _one_window(tokenizer, document, label_to_id)
    ids = {token: i for i, token in enumerate(VOCAB)}
    assert features["input_ids"] == [ids[t] for t in ("[CLS]", "given", "As", "##pir", "##in", "81", "mg",
                                                     "da", "##ily", "[SEP]")]
    assert subwords.word_of_token.tolist() == [0, 1, 1, 1, 2, 3, 4, 4]
    o, b_drug, b_freq, b_str, i_str = (label_to_id[k] for k in ("O", "B-Drug", "B-Frequency", "B-Strength",
                                                              "I-Strength"))
    assert features["labels"] == [IGNORE_INDEX, o, b_drug, IGNORE_INDEX, IGNORE_INDEX, b_str, i_str, b_freq,
                                  IGNORE_INDEX, IGNORE_INDEX]
    assert features["attention_mask"] == [1] * 10
    assert (subwords.first_token >= 0).all()


def test_words_the_tokenizer_drops_are_reported(tokenizer):
    # A zero-width space is a "word" to the splitter but yields no subword: its label reaches no token.
    document = Document("d", "given \u200b x", [Entity(6, 7, "X")])
    features, subwords = _one_window(tokenizer, document, {"O": 0, "B-X": 1, "I-X": 2})
    assert subwords.word_of_token.tolist() == [0, 2]
    assert subwords.first_token.tolist() == [0, -1, 1]
    assert features["labels"] == [IGNORE_INDEX, 0, 0, IGNORE_INDEX]


def test_long_document_is_not_truncated(tokenizer):
    text = " ".join(["given 81"] * 100)  # 200 words, model_max_length is 8
    entities = [Entity(i * 9 + 6, i * 9 + 8, "Strength") for i in range(100)]
    label_to_id = {"O": 0, "B-Strength": 1, "I-Strength": 2}
    features, _ = _one_window(tokenizer, Document("d", text, entities), label_to_id)
    assert len(features["input_ids"]) == 202
    assert features["labels"][1:-1] == [0, 1] * 100
    assert features["labels"][0] == features["labels"][-1] == IGNORE_INDEX
