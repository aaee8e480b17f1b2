"""data_prep at speed: batch tokenization with sentence marks, the two encoder backends, work units
and workers (same bytes whatever the cut), resume from parts, and bad input at scale."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy
import pytest
from prep_runs import killed_after_parts

from data_prep.build import build_dataset
from data_prep.clean import DOCUMENT_MARK, SENTENCE_MARK, clean_document
from data_prep.config import DataPrepConfig
from data_prep.documents import DocumentTokenizer
from data_prep.encode import TextEncoder
from data_prep.sentences import ClinicalSentenceSplitter
from data_prep.units import plan_units
from gatortron_common.logging import InputError, SkipReport
from gatortron_common.readers import read_documents
from synthetic.corpora.notes import generate_notes, write_notes_delimited, write_notes_jsonl
from tokenizer.build import build_vocabulary
from tokenizer.config import TokenizerConfig
from tokenizer.export import bert_tokenizer_from_vocab
from tokenizer.vocab import VOCAB_FILE

TRICKY_DOCUMENTS = [
    "HISTORY OF PRESENT ILLNESS: Pt seen by Dr. Lee. BP 120/80. Temp 98.6°F. Plan: f/u in 2 wk.",
    "Literal [SEP] and [CLS] tokens in text. Next sentence [**Name**] here.",
    "Café au lait spots. Ünal Émile reviewed. 患者 stable. NEXT: ok.",
    "Control\x1e marks\x1d are removed by cleaning. Tab\there. Zero\u200bwidth. Ⅸ fine.",
    "1. Aspirin 81 mg p.o. q.d.\n2. Metoprolol 25 mg b.i.d.\n\nASSESSMENT:\nStable.",
    "\x07\x08 ... !!! ??? . . .",  # tokenizes to punctuation only
    "ab" * 80 + ". Long word above becomes [UNK]. " + "x" * 150 + " end.",
]


@pytest.fixture(scope="module")
def vocabs(tmp_path_factory: pytest.TempPathFactory, notes_corpus: dict[str, Path]) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("par_vocab")
    built = {}
    for name, lowercase in (("cased", False), ("uncased", True)):
        build_vocabulary(TokenizerConfig(input=[str(notes_corpus["tsv"])], output_dir=str(root / name),
                                         vocab_size=3000, workers=1, lowercase=lowercase))
        built[name] = root / name
    return built


def sentence_by_sentence(vocab: Path, lowercase: bool, texts: list[str]) -> tuple[list, list]:
    """The reference: HF BertTokenizer on each sentence alone, empty sentences dropped, with the special
    tokens' strings read as text (as Megatron's legacy BERT tokenizer reads them)."""
    reference = bert_tokenizer_from_vocab(vocab / VOCAB_FILE, lowercase)
    splitter = ClinicalSentenceSplitter()
    documents, counts = [], []
    for text in texts:
        sentences = [reference(s, add_special_tokens=False, split_special_tokens=True)["input_ids"]
                     for s in splitter.split(text)]
        sentences = [s for s in sentences if s]
        documents.append(sentences)
        counts.append(len(sentences))
    return documents, counts


@pytest.mark.parametrize("backend", ["auto", "hf"])
@pytest.mark.parametrize("casing", ["cased", "uncased"])
def test_batch_tokenization_equals_sentence_by_sentence(vocabs: dict[str, Path], casing: str,
                                                        backend: str) -> None:
    lowercase = casing == "uncased"
    notes = [n.text for n in generate_notes(seed=41, target_bytes=60_000)]
    texts = [clean_document(t, "NFKC") for t in TRICKY_DOCUMENTS + notes]
    encoder = TextEncoder(vocabs[casing], lowercase, backend, marks=(SENTENCE_MARK, DOCUMENT_MARK))
    assert encoder.backend == ("nanotoken" if backend == "auto" else "hf")
    ids, lengths, counts = DocumentTokenizer(encoder, ClinicalSentenceSplitter())(texts)
    expected, expected_counts = sentence_by_sentence(vocabs[casing], lowercase, texts)
    assert counts.tolist() == expected_counts
    assert lengths.tolist() == [len(s) for doc in expected for s in doc]
    assert ids.tolist() == [i for doc in expected for s in doc for i in s]
    assert counts[5] == 1 and lengths.min() > 0  # punctuation-only text is still a sentence


class _Diverging:
    """Fault injection: a fast backend whose ids are off by one."""

    def __init__(self, fast) -> None:
        self.fast = fast

    def encode(self, text, **kwargs):
        return self.fast.encode(text, **kwargs) + 1

    def encode_batch(self, texts, **kwargs):
        batch = self.fast.encode_batch(texts, **kwargs)
        batch.ids = batch.ids + 1
        return batch


def test_fast_backend_is_checked_against_hf(vocabs: dict[str, Path],
                                            caplog: pytest.LogCaptureFixture) -> None:
    text = clean_document(TRICKY_DOCUMENTS[0], "NFKC")
    auto = TextEncoder(vocabs["cased"], False, "auto")
    expected = TextEncoder(vocabs["cased"], False, "hf").encode_text(text)
    auto.fast = _Diverging(auto.fast)
    with caplog.at_level(logging.WARNING):
        assert numpy.array_equal(auto.encode_text(text), expected)
    assert auto.backend == "hf" and "differ" in caplog.text
    strict = TextEncoder(vocabs["cased"], False, "nanotoken")
    strict.fast = _Diverging(strict.fast)
    with pytest.raises(InputError, match="differ from HF"):
        strict.encode_text(text)
    with pytest.raises(InputError, match="tokenizer_backend"):
        TextEncoder(vocabs["cased"], False, "fastest")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A JSONL file (a bad line, a duplicate far from its original) and a TSV file."""
    directory = tmp_path_factory.mktemp("par_corpus")
    notes = list(generate_notes(seed=43, target_bytes=700_000))
    jsonl = directory / "a_notes.jsonl"
    write_notes_jsonl(jsonl, notes[:150])
    lines = jsonl.read_text(encoding="utf-8").splitlines(keepends=True)
    lines.insert(90, "{not json\n")
    lines.append(lines[3])  # a duplicate in a later unit
    jsonl.write_text("".join(lines), encoding="utf-8")
    tsv = directory / "b_notes.tsv"
    write_notes_delimited(tsv, notes[150:], "\t")
    return {"jsonl": jsonl, "tsv": tsv, "bad_line": 91}


def run(tmp: Path, name: str, inputs: list[Path], vocab: Path, **settings) -> tuple[str, dict]:
    prefix = str(tmp / name / "notes")
    cfg = DataPrepConfig(input=[str(p) for p in inputs], vocab=str(vocab), output_prefix=prefix, **settings)
    return prefix, build_dataset(cfg)


def same_dataset(a: str, b: str) -> bool:
    suffixes = ("bin", "idx", "hashes.npy")
    return all(Path(f"{a}.{s}").read_bytes() == Path(f"{b}.{s}").read_bytes() for s in suffixes)


def test_units_and_workers_give_the_bytes_of_one_pass(tmp_path: Path, vocabs: dict[str, Path],
                                                      corpus: dict[str, Path]) -> None:
    inputs, vocab = [corpus["jsonl"], corpus["tsv"]], vocabs["cased"]
    one_pass, one = run(tmp_path, "one", inputs, vocab, unit_mb=64)
    cut, many = run(tmp_path, "cut", inputs, vocab, workers=2, unit_mb=0.05)
    assert one["units"] == 2 and many["units"] > 6 and many["workers"] == 2
    assert same_dataset(one_pass, cut)
    for key in ("documents", "sentences", "tokens", "chars_in"):
        assert one[key] == many[key], key
    assert one["skipped"]["by_reason"] == many["skipped"]["by_reason"]
    assert many["skipped"]["by_reason"] == {"malformed_json": 1, "duplicate": 1}
    # The bad line is reported at its line in the file, whichever unit read it.
    assert many["skipped"]["examples"]["malformed_json"] == [f"{corpus['jsonl']}:{corpus['bad_line']}"]
    assert not Path(f"{cut}.parts").exists()
    hf_prefix, hf = run(tmp_path, "hf", inputs, vocab, tokenizer_backend="hf")
    assert same_dataset(one_pass, hf_prefix) and hf["tokenizer_backend"] == ["hf"]


def test_line_ranges_cover_the_file_at_line_starts(corpus: dict[str, Path]) -> None:
    path = corpus["jsonl"]
    units = plan_units([path, corpus["tsv"]], "auto", unit_bytes=20_000)
    ranges = [u.lines for u in units if u.path == str(path)]
    assert len(ranges) > 5 and [u.path for u in units][-1] == str(corpus["tsv"])  # TSV: one unit
    data = path.read_bytes()
    assert ranges[0].start == 0 and ranges[-1].end == len(data)
    for before, after in zip(ranges, ranges[1:], strict=False):
        assert before.end == after.start and data[after.start - 1:after.start] == b"\n"
        assert after.first_line == data[:after.start].count(b"\n") + 1
    whole = [(d.text, d.line) for d in read_documents(path, skips=SkipReport())]
    parts = [(d.text, d.line) for r in ranges for d in read_documents(path, skips=SkipReport(), lines=r)]
    assert parts == whole
    with pytest.raises(InputError, match="only uncompressed JSONL"):
        list(read_documents(corpus["tsv"], lines=ranges[1]))


def test_a_killed_run_reuses_its_complete_parts(tmp_path: Path, vocabs: dict[str, Path],
                                                corpus: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
                                                caplog: pytest.LogCaptureFixture) -> None:
    inputs, vocab = [corpus["jsonl"]], vocabs["cased"]
    prefix = tmp_path / "resumed" / "notes"

    def killed_run(**settings) -> None:
        with killed_after_parts(monkeypatch, 2):
            run(tmp_path, "resumed", inputs, vocab, unit_mb=0.05, **settings)
        assert not Path(f"{prefix}.idx").exists() and not Path(f"{prefix}.bin").exists()
        assert len(list(Path(f"{prefix}.parts").glob("*.idx"))) >= 2

    killed_run()
    with caplog.at_level(logging.INFO):
        killed_run(min_document_chars=30)  # other settings: the two parts are made again
    assert "reusing" not in caplog.text
    with caplog.at_level(logging.INFO):
        resumed, _ = run(tmp_path, "resumed", inputs, vocab, unit_mb=0.05, min_document_chars=30)
    assert "reusing 2 complete part(s)" in caplog.text
    fresh, _ = run(tmp_path, "fresh", inputs, vocab, unit_mb=0.05, min_document_chars=30)
    assert same_dataset(resumed, fresh) and not Path(f"{prefix}.parts").exists()


def test_bad_records_at_scale_are_counted_with_their_place(tmp_path: Path, vocabs: dict[str, Path]) -> None:
    secret = "Zebulon Quartermaine"
    good = "ASSESSMENT: Stable. Follow up with Dr. Lee in two weeks for repeat labs."
    jsonl = tmp_path / "notes.jsonl"
    with open(jsonl, "wb") as handle:
        handle.write(json.dumps({"text": good}).encode() + b"\n")
        handle.write(b'{"text": "bad byte \xff in ' + secret.encode() + b'"}\n')  # line 2: not UTF-8
        handle.write(json.dumps({"text": secret + " " + "x" * 50_000_000}).encode() + b"\n")  # line 3: 50 MB
        handle.write(json.dumps({"text": "   "}).encode() + b"\n")  # line 4: empty
        handle.write(json.dumps({"note": good}).encode() + b"\n")  # line 5: no text key
    tsv = tmp_path / "notes.tsv"
    tsv.write_text(f"NOTE_ID\tNOTE_TEXT\n1\t{good} Second note.\n2\tonly\tone\textra\tfields {secret}\n"
                   f"3\t\"{good} Third note.\"\n", encoding="utf-8")
    prefix, stats = run(tmp_path, "bad", [jsonl, tsv], vocabs["cased"], workers=2, unit_mb=0.01)
    assert stats["documents"] == 3
    reasons = stats["skipped"]["by_reason"]
    assert reasons == {"invalid_utf8": 1, "longer_than_max_document_chars": 1, "empty_document": 1,
                       "missing_key:text": 1, "wrong_field_count:5!=2": 1}
    examples = stats["skipped"]["examples"]
    assert examples["invalid_utf8"] == [f"{jsonl}:2"]
    assert examples["longer_than_max_document_chars"] == [f"{jsonl}:3"]
    assert examples["wrong_field_count:5!=2"] == [f"{tsv}:3"]
    assert secret not in Path(f"{prefix}.stats.json").read_text()
    with pytest.raises(InputError, match=rf"{jsonl}:2: invalid_utf8"):
        run(tmp_path, "strict", [jsonl], vocabs["cased"], strict=True, workers=2, unit_mb=0.01)
    assert not list((tmp_path / "strict").glob("notes.*[!s]"))  # no dataset file; complete parts are kept
