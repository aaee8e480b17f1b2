"""One vocabulary contract: the casing a tokenizer directory records is what every stage sees."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from data_prep.build import validate
from data_prep.config import DataPrepConfig
from pretrain.from_hf import hf_tokens
from pretrain.to_hf import vocabulary
from tokenizer.export import export_tokenizer
from tokenizer.vocab import bert_header

TOKENS = [*bert_header(), "pain", "##s", "chest"]


def tokenizer_directory(directory: Path, report: bool | None, hf_config: bool | None) -> Path:
    """vocab.txt and tokenizer.json, with report.json (`python -m tokenizer`) and/or HF's
    tokenizer_config.json recording the casing given (None: that file absent)."""
    directory.mkdir()
    export_tokenizer(TOKENS, directory, lowercase=bool(hf_config))
    if hf_config is None:
        (directory / "tokenizer_config.json").unlink()
    if report is not None:
        (directory / "report.json").write_text(json.dumps({"lowercase": report}), encoding="utf-8")
    return directory


def casing_seen(directory: Path) -> dict[str, bool]:
    prep = validate(DataPrepConfig(input="unused.jsonl", vocab=str(directory), output_prefix="unused"))
    export = vocabulary(None, {"vocab": str(directory), "padded_vocab_size": 256}, directory)
    return {"data_prep": prep.lowercase, "export": export.lowercase,
            "import": hf_tokens(directory, rows=256)[1]}


@pytest.mark.parametrize(("report", "hf_config", "lowercase"), [
    (True, None, True),  # python -m tokenizer's report alone
    (False, True, False),  # the report wins over an HF config saying otherwise
    (None, True, True),  # a vocabulary made elsewhere: HF's do_lower_case
    (None, None, False),  # nothing recorded: cased
])
def test_recorded_casing_is_what_data_prep_export_and_import_see(
        tmp_path: Path, report: bool | None, hf_config: bool | None, lowercase: bool) -> None:
    directory = tokenizer_directory(tmp_path / "vocab", report, hf_config)
    assert casing_seen(directory) == {"data_prep": lowercase, "export": lowercase, "import": lowercase}
    (directory / "vocab.txt").unlink()  # an HF model directory may ship tokenizer.json only
    tokens, imported_lowercase = hf_tokens(directory, rows=256)
    assert (tokens, imported_lowercase) == (TOKENS, lowercase)
