"""Windows over long documents, constrained decoding, and predict -> write -> evaluate round trips."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from ner_models import make_corpora, make_encoder
from transformers import AutoTokenizer, MegatronBertConfig, MegatronBertForTokenClassification

from finetune.corpora.document import Document, Entity
from finetune.corpora.formats import read_corpus, write_corpus
from finetune.evaluate import evaluate_documents
from finetune.inference.predictor import Predictor, predicted_document
from finetune.models.ner import NerInfo, NerModel
from finetune.tagging.decoding import LabelDecoder, allowed_transitions, viterbi
from finetune.tagging.labels import (
    OUTSIDE,
    LabelSettings,
    label_vocabulary,
    place_entities,
    word_spans,
)
from finetune.tagging.windows import plan_windows
from finetune.training.data import category_map
from gatortron_common.logging import InputError


@pytest.mark.parametrize(("length", "size", "overlap"), [(1, 10, 0), (10, 10, 3), (11, 10, 3), (1000, 126, 0),
                                                         (1000, 126, 32), (777, 62, 61), (130, 126, 100)])
def test_windows_cover_every_token_once_from_its_most_central_window(length: int, size: int,
                                                                     overlap: int) -> None:
    windows = plan_windows(length, size, overlap)
    owned = [t for w in windows for t in range(w.own_start, w.own_end)]
    assert owned == list(range(length))
    for left, right in itertools.pairwise(windows):
        assert len(left) == size and left.end - right.start == overlap  # never more overlap than the stride
    for window in windows:
        assert len(window) <= size and window.start <= window.own_start <= window.own_end <= window.end

    def centrality(w, t):
        return min(t - w.start, w.end - 1 - t)

    for window in windows:
        for token in range(window.own_start, window.own_end):
            best = max(centrality(w, token) for w in windows if w.start <= token < w.end)
            assert centrality(window, token) == best


def test_stride_must_leave_room() -> None:
    with pytest.raises(InputError, match="stride"):
        plan_windows(100, 10, 10)


def valid(labels: list[str], scheme: str) -> bool:
    previous = OUTSIDE
    for label in [*labels, OUTSIDE]:
        tag, _, kind = label.partition("-")
        before_tag, _, before_kind = previous.partition("-")
        if tag in ("I", "E") and not (before_tag in ("B", "I") and before_kind == kind):
            return False
        if scheme == "BIOES" and tag in ("O", "B", "S") and before_tag in ("B", "I"):
            return False
        previous = label
    return True


@pytest.mark.parametrize("scheme", ["BIO", "BIOES"])
def test_viterbi_is_the_best_allowed_sequence(scheme: str) -> None:
    labels = label_vocabulary(["A", "B"], scheme)
    transitions, starts, ends = allowed_transitions(labels, scheme)
    rng = np.random.default_rng(0)
    for _ in range(30):
        scores = np.log(rng.dirichlet(np.ones(len(labels)), size=4))
        path = viterbi(scores, transitions, starts, ends)
        best = max((p for p in itertools.product(range(len(labels)), repeat=4)
                    if valid([labels[i] for i in p], scheme)),
                   key=lambda p: sum(scores[i, j] for i, j in enumerate(p)))
        assert valid([labels[i] for i in path], scheme)
        assert np.isclose(scores[np.arange(4), list(path)].sum(), scores[np.arange(4), list(best)].sum())


def test_argmax_can_break_the_scheme_viterbi_never_does() -> None:
    labels = label_vocabulary(["A"], "BIO")  # O, B-A, I-A
    scores = np.log(np.array([[0.9, 0.05, 0.05], [0.1, 0.2, 0.7], [0.1, 0.1, 0.8]]))
    words = [(0, 1), (2, 3), (4, 5)]
    argmax = LabelDecoder(labels, "BIO", "argmax").label_path(scores)
    assert [labels[i] for i in argmax] == ["O", "I-A", "I-A"]
    path = LabelDecoder(labels, "BIO", "viterbi").label_path(scores)
    assert [labels[i] for i in path] == ["O", "B-A", "I-A"]
    entity, = LabelDecoder(labels, "BIO").entities(words, scores)
    assert (entity.start, entity.end, entity.type) == (2, 5, "A")
    assert 0 < float(entity.attributes["score"]) < 1


def token_local_model(tokenizer, labels: list[str], positions: int) -> MegatronBertForTokenClassification:
    """A model whose output for a token depends on that token alone: no position embeddings and no
    attention or MLP contribution (their output projections are zero), a random classifier."""
    torch.manual_seed(3)
    config = MegatronBertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,
                                num_attention_heads=2, intermediate_size=64,
                                max_position_embeddings=positions,
                                num_labels=len(labels), id2label=dict(enumerate(labels)),
                                label2id={label: i for i, label in enumerate(labels)})
    model = MegatronBertForTokenClassification(config).eval()
    with torch.no_grad():
        model.bert.embeddings.position_embeddings.weight.zero_()
        for layer in model.bert.encoder.layer:
            for dense in (layer.attention.output.dense, layer.output.dense):
                dense.weight.zero_()
                dense.bias.zero_()
        model.classifier.weight.normal_(0.0, 0.5, generator=torch.Generator().manual_seed(4))
        model.classifier.bias[0] += 3.0  # mostly O, some entities
    return model


@pytest.fixture(scope="module")
def encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_encoder(tmp_path_factory.mktemp("windows_encoder"), hidden=32)


def test_predictions_do_not_depend_on_the_stride_when_the_model_ignores_position(encoder: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(encoder)
    labels = label_vocabulary(["NAME", "DATE"], "BIO")
    model = token_local_model(tokenizer, labels, positions=64)
    corpus = make_corpora(encoder.parent / "corpora_stride", 6, ["i2b2_2014"])
    text = "\n".join(d.text for d in read_corpus(corpus / "i2b2_2014" / "train", "i2b2_2014"))
    document = Document(id="long", text=text)
    results = {}
    for stride in (0, 7, 31, 61):
        info = NerInfo(labels=labels, max_seq_length=64, stride=stride)
        predictor = Predictor(NerModel(model, tokenizer, info), batch_size=5, device="cpu")
        prediction, = predictor.predict([document])
        results[stride] = [(e.start, e.end, e.type, e.attributes["score"]) for e in prediction.entities]
        assert predictor.stats.windows > 10
    assert len(results[0]) > 20
    assert all(result == results[0] for result in results.values())


def oracle_predictions(documents: list[Document],
                       settings: LabelSettings) -> tuple[list[Document], list[Document]]:
    """What a model that predicts the gold labels would output, decoded and written as `finetune.predict`
    does; and the gold it can express (one label sequence: overlaps resolved, fragments split)."""
    types = sorted({e.type for d in documents for e in d.entities})
    labels = label_vocabulary(types, settings.scheme)
    decoder = LabelDecoder(labels, settings.scheme)
    categories = category_map(documents)
    predictions, expressible = [], []
    for document in documents:
        words, _ = word_spans(document.text)
        placement = place_entities(words, document.entities, settings)
        kept = [document.entities[index] for index in placement.labelled]
        word_labels = placement.labels
        scores = np.full((len(words), len(labels)), -30.0, dtype=np.float32)
        scores[np.arange(len(words)), [labels.index(label) for label in word_labels]] = 0.0
        entities = decoder.entities(words, scores)
        for entity in entities:
            entity.category = categories.get(entity.type)
        predictions.append(predicted_document(document, entities))
        pieces = [Entity(start=s, end=e, type=k.type, category=k.category) for k in kept for s, e in k.spans]
        expressible.append(Document(id=document.id, text=document.text, entities=pieces))
    return predictions, expressible


@pytest.mark.parametrize(("corpus", "fmt"), [("i2b2_2010", "i2b2_2010"), ("i2b2_2012", "i2b2_2012"),
                                             ("i2b2_2014", "i2b2_2014"), ("n2c2_2018", "brat"),
                                             ("i2b2_2014", "jsonl")])
def test_gold_predictions_round_trip_through_the_format_and_score_one(tmp_path: Path, corpus: str,
                                                                      fmt: str) -> None:
    root = make_corpora(tmp_path / "corpora", 6, [corpus])
    source = root / corpus / ("test.jsonl" if fmt == "jsonl" else "test")
    gold = read_corpus(source, fmt)
    predictions, expressible = oracle_predictions(gold, LabelSettings())
    output = tmp_path / ("pred.jsonl" if fmt == "jsonl" else "pred")
    write_corpus(predictions, output, fmt)
    read_back = read_corpus(output, fmt)
    results = evaluate_documents(expressible, read_back, fmt)
    assert results["strict"]["micro"]["f1"] == 1.0
    assert results["strict"]["micro"]["tp"] == sum(len(d.entities) for d in expressible) > 0
    # Gold relations, TLINKs and brat attribute lines name gold ids: none are written with predictions.
    assert any(d.relations or d.metadata for d in gold) if corpus in ("i2b2_2012", "n2c2_2018") else True
    assert not any(d.relations or (d.metadata.get(fmt) or {}).get("other_tags") for d in read_back)
    if fmt in ("i2b2_2014", "jsonl"):  # every 2014 entity is expressible: the official view is perfect too
        assert evaluate_documents(gold, read_back, fmt)["strict"]["micro"]["f1"] == 1.0
    if fmt == "i2b2_2014":
        assert results["i2b2_2014"]["views"]["strict"]["micro"]["f1"] == 1.0
