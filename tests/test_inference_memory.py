"""Long notes are predicted in bounded memory (streamed) with the predictions of the whole-note path."""

from __future__ import annotations

import itertools
import tracemalloc
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from ner_models import make_encoder
from transformers import AutoTokenizer

from finetune.corpora.document import Document
from finetune.inference.predictor import Predictor
from finetune.models.ner import NerInfo, NerModel, build_model
from finetune.tagging.decoding import EntityStream, LabelDecoder
from finetune.tagging.labels import label_vocabulary, word_span_blocks, word_spans
from finetune.tagging.windows import (
    TokenStream,
    Window,
    count_tokens,
    iter_windows,
    tokenize_words,
    window_count,
)
from synthetic.annotated import generate_corpus

TYPES = ["AGE", "DATE", "NAME", "PHONE"]


def old_plan_windows(length: int, size: int, overlap: int) -> list[Window]:
    """`plan_windows` as it was before it became a generator (the reference)."""
    if length <= size:
        return [Window(0, 0, length, 0, length)]
    spans, start = [], 0
    while True:
        end = min(start + size, length)
        spans.append((start, end))
        if end == length:
            break
        start += size - overlap
    owners = [0]
    for (left_start, left_end), (right_start, right_end) in itertools.pairwise(spans):
        boundary = right_start
        while boundary < left_end and (min(boundary - left_start, left_end - 1 - boundary)
                                       >= min(boundary - right_start, right_end - 1 - boundary)):
            boundary += 1
        owners.append(boundary)
    owners.append(length)
    return [Window(0, start, end, owners[i], owners[i + 1]) for i, (start, end) in enumerate(spans)]


@pytest.mark.parametrize(("size", "overlap"), [(10, 0), (10, 3), (62, 61), (126, 32), (7, 6)])
def test_windows_one_at_a_time_are_the_whole_plan(size: int, overlap: int) -> None:
    for length in [*range(0, 3 * size), 1000, 1001]:
        windows = list(iter_windows(length, size, overlap))
        assert windows == old_plan_windows(length, size, overlap)
        assert window_count(length, size, overlap) == len(windows)


@pytest.fixture(scope="module")
def encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_encoder(tmp_path_factory.mktemp("memory_encoder"), hidden=32)


@pytest.fixture(scope="module")
def long_text() -> str:
    """~45k characters of synthetic notes as one note, with words that have no subwords (control
    characters) inside and at its end."""
    text = "\n".join(note.text for note in generate_corpus("i2b2_2014", seed=1, documents=40))[:45_000]
    return text[:700] + " \x07 \u200b " + text[700:30_000] + " \x07 " + text[30_000:] + " \x07 \u200b"


def ner_model(encoder: Path, scheme: str, max_seq_length: int, stride: int, decoding: str = "viterbi",
              outside_bias: float = 2.5) -> NerModel:
    """A random model (context matters: attention is on) that puts some words in entities."""
    labels = label_vocabulary(TYPES, scheme)
    torch.manual_seed(5)
    model = build_model(encoder, labels, "linear")
    with torch.no_grad():
        model.classifier.weight.normal_(0.0, 0.5, generator=torch.Generator().manual_seed(6))
        model.classifier.bias.zero_()
        model.classifier.bias[0] = outside_bias
    info = NerInfo(labels=labels, categories={t: f"C_{t}" for t in TYPES}, scheme=scheme,
                   max_seq_length=max_seq_length, stride=stride, decoding=decoding)
    return NerModel(model.eval(), AutoTokenizer.from_pretrained(encoder), info)


def streaming(ner: NerModel, block_words: int = 300, group_tokens: int = 400, **options: object) -> Predictor:
    """A predictor that streams every note, in small blocks and groups (many of each)."""
    predictor = Predictor(ner, device="cpu", long_document_chars=0, **options)
    predictor.stream_block_words = block_words
    predictor.stream_group_tokens = group_tokens
    return predictor


def entities_of(documents: list[Document]) -> list[list[tuple]]:
    return [[(e.start, e.end, e.type, e.category, e.attributes["score"]) for e in d.entities]
            for d in documents]


@pytest.mark.parametrize(("scheme", "max_seq_length", "stride", "decoding", "batch_size", "block_words"),
                         [("BIO", 64, 16, "viterbi", 16, 300), ("BIOES", 128, 32, "viterbi", 3, 1000),
                          ("BIO", 96, 0, "argmax", 5, 77)])
def test_a_streamed_note_gets_the_whole_note_predictions(encoder: Path, long_text: str, scheme: str,
                                                         max_seq_length: int, stride: int, decoding: str,
                                                         batch_size: int, block_words: int) -> None:
    ner = ner_model(encoder, scheme, max_seq_length, stride, decoding)
    document = Document(id="long", text=long_text)
    whole = Predictor(ner, device="cpu", batch_size=batch_size, long_document_chars=10**12)
    expected, = whole.predict_chunk([document])
    stream = streaming(ner, block_words=block_words, batch_size=batch_size)
    got, = stream.predict_chunk([document])
    assert entities_of([got]) == entities_of([expected])
    assert len(expected.entities) > 100 and {e.type for e in expected.entities} == set(TYPES)
    assert stream.stats.streamed == 1 and whole.stats.streamed == 0
    assert stream.stats.tokens == whole.stats.tokens == count_tokens(ner.tokenizer, long_text, 50)
    assert stream.stats.windows == whole.stats.windows > 200
    assert stream.stats.entities == whole.stats.entities


def test_notes_long_and_short_in_one_chunk_keep_their_order_and_predictions(encoder: Path,
                                                                            long_text: str) -> None:
    ner = ner_model(encoder, "BIO", 64, 16)
    short = [note.text for note in generate_corpus("i2b2_2014", seed=2, documents=6)]
    documents = [Document(id=str(i), text=text)
                 for i, text in enumerate([short[0], long_text[:12_000], *short[1:4], long_text[-24_000:],
                                           *short[4:]])]
    expected = Predictor(ner, device="cpu", long_document_chars=10**12).predict_chunk(documents)
    predictor = streaming(ner)
    predictor.long_document_chars = 10_000
    predictor.chunk_chars = 2_500  # the short notes in several groups too
    got = predictor.predict_chunk(documents)
    assert [d.id for d in got] == [d.id for d in documents]
    assert entities_of(got) == entities_of(expected)
    assert predictor.stats.streamed == 2 and predictor.stats.documents == len(documents)


def test_windows_and_subwords_held_at_once_do_not_grow_with_the_note(encoder: Path, long_text: str) -> None:
    ner = ner_model(encoder, "BIO", 64, 16)
    held = {}
    for chars in (8_000, 24_000):
        document = Document(id="long", text=long_text[:chars])
        calls: list[tuple[int, int]] = []
        stream = streaming(ner, on_windows=lambda done, total, calls=calls: calls.append((done, total)))
        stream.predict_chunk([document])
        whole = Predictor(ner, device="cpu", long_document_chars=10**12)
        whole.predict_chunk([document])
        held[chars] = (stream.stats.max_windows_held, stream.stats.max_tokens_held)
        # The whole-note path holds every window's scores and every subword at once.
        assert whole.stats.max_windows_held == whole.stats.windows
        assert whole.stats.max_tokens_held == whole.stats.tokens
        assert stream.stats.max_windows_held == 8  # 400 subwords of 62-subword windows, whole batches of 4
        assert stream.stats.max_tokens_held < 2_000 < stream.stats.tokens
        # Progress: (0, total) first, then each group, ending at (total, total).
        total = stream.stats.windows
        assert calls[0] == (0, total) and calls[-1] == (total, total)
        assert [done for done, _ in calls] == sorted({done for done, _ in calls})
    assert held[8_000][0] == held[24_000][0]


class Outside(torch.nn.Module):
    """A model stub that puts every token in O. HF models leave a little cyclic garbage per forward pass
    until the collector runs, which tracemalloc would count; this one leaves none."""

    def __init__(self, labels: int) -> None:
        super().__init__()
        self.labels = labels

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> SimpleNamespace:
        logits = torch.zeros(*input_ids.shape, self.labels)
        logits[..., 0] = 50.0
        return SimpleNamespace(logits=logits)


def test_peak_python_memory_of_a_streamed_note_does_not_grow_with_its_length(encoder: Path,
                                                                           long_text: str) -> None:
    """Measured with tracemalloc (Python objects and numpy arrays, not torch's tensors): the whole-note
    path grows with the note (word lists, subwords, per-word scores, Viterbi back pointers), the streamed
    one does not (no entities to hold: the model puts every word in O)."""
    random = ner_model(encoder, "BIO", 64, 16)
    ner = NerModel(Outside(len(random.info.labels)), random.tokenizer, random.info)
    texts = [long_text[:8_000], long_text[:16_000], long_text[:32_000]]

    def peak(predictor: Predictor, text: str) -> int:
        tracemalloc.start()
        try:
            prediction, = predictor.predict_chunk([Document(id="long", text=text)])
            assert not prediction.entities
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    whole = [peak(Predictor(ner, device="cpu", long_document_chars=10**12), text) for text in texts]
    streamed = [peak(streaming(ner), text) for text in texts]
    assert whole[2] > 3.5 * whole[0]
    # What varies is the largest block of words (how many subwords 300 words make), not the length.
    assert max(streamed) < 1.5 * min(streamed) and max(streamed) < whole[0]


def test_token_stream_gives_the_whole_note_subwords_and_words(encoder: Path, long_text: str) -> None:
    tokenizer = AutoTokenizer.from_pretrained(encoder)
    text = long_text[:8_000]
    whole, = tokenize_words(tokenizer, [word_spans(text)[0]], [text])
    assert [w for block in word_span_blocks(text, 7) for w in block] == whole.words
    assert (whole.first_token == -1).sum() >= 2  # words without subwords are in it
    stream = TokenStream(tokenizer, text, block_words=50)
    ids, words, first = [], [], []
    for window in iter_windows(len(whole), 30, 10):
        ids.append(stream.tokens(window.own_start, window.own_end).copy())
        taken, its_first = stream.take_words(window.own_end)
        words += taken
        first.append(its_first)
    for taken, its_first in stream.rest():
        words += taken
        first.append(its_first)
    assert np.array_equal(np.concatenate(ids), whole.input_ids)
    assert words == whole.words and np.array_equal(np.concatenate(first), whole.first_token)
    assert stream.max_held < 200


def competing_entities(labels: list[str], length: int, rng: np.random.Generator) -> np.ndarray:
    """Scores where an A entity and a B entity both go on for `length` words: until one ends, the best
    paths ending in I-A and in I-B never meet, so no word can be settled."""
    scores = np.full((length, len(labels)), np.log(0.01), dtype=np.float32)
    scores[0, [labels.index("B-A"), labels.index("B-B")]] = np.log(0.45)
    inside = [labels.index("I-A"), labels.index("I-B")]
    scores[1:, inside] = np.log(0.45 + rng.uniform(-0.01, 0.01, size=(length - 1, 2)))
    return scores


@pytest.mark.parametrize(("scheme", "decoding"),
                         [("BIO", "viterbi"), ("BIOES", "viterbi"), ("BIO", "argmax")])
def test_entity_stream_equals_decoding_the_whole_document(scheme: str, decoding: str) -> None:
    labels = label_vocabulary(["A", "B"], scheme)
    decoder = LabelDecoder(labels, scheme, decoding)
    rng = np.random.default_rng(0)
    competing = 0
    for trial in range(40):
        length = int(rng.integers(1, 400))
        # Near-uniform or peaked scores, words without subwords, and two long competing entities.
        concentration = 20.0 if trial % 2 else 0.3
        scores = np.log(rng.dirichlet(np.full(len(labels), concentration), size=length)).astype(np.float32)
        scores[rng.random(length) < 0.05] = np.where(np.arange(len(labels)) == 0, 0.0, -np.inf)
        if trial % 4 == 0 and length > 220:
            scores[10:210] = competing_entities(labels, 200, rng)
            competing += 1
        words = [(2 * i, 2 * i + 1) for i in range(length)]
        expected = decoder.entities(words, scores)
        stream = EntityStream(decoder)
        cuts = sorted({0, length, *rng.integers(0, length, size=int(rng.integers(0, 40)))})
        for start, end in itertools.pairwise(cuts):
            stream.push(words[start:end], scores[start:end])
        got = stream.finish()
        assert [(e.start, e.end, e.type, e.attributes["score"]) for e in got] == \
            [(e.start, e.end, e.type, e.attributes["score"]) for e in expected]
        if decoding == "viterbi" and trial % 4 == 0 and length > 220:
            assert stream.max_pending >= 200  # the competing entities' words waited: still exact
    assert competing >= 3


def test_entity_stream_settles_words_as_it_goes() -> None:
    labels = label_vocabulary(["A", "B"], "BIO")
    rng = np.random.default_rng(1)
    scores = np.log(rng.dirichlet(np.full(len(labels), 0.3), size=20_000)).astype(np.float32)
    stream = EntityStream(LabelDecoder(labels, "BIO"))
    for start in range(0, 20_000, 100):
        stream.push([(2 * i, 2 * i + 1) for i in range(start, start + 100)], scores[start:start + 100])
    assert len(stream.finish()) > 1000 and stream.max_pending < 200
