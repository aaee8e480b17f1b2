"""The checkpoint bridge: megatron-core checkpoints saved at TP=1, TP=2 and PP=2 export to HF
MegatronBert with the same masked-LM logits; the export loads offline with the Auto classes; HF ->
import -> export is bit-identical; an imported checkpoint continues pretraining; bad input gets
errors that name what is wrong."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from pretrain_runs import ROOT, metrics, pretrain
from safetensors.torch import load_file
from torch.distributed.checkpoint import FileSystemReader
from torch.distributed.checkpoint import load as dcp_load
from transformers import AutoModelForMaskedLM, AutoTokenizer, MegatronBertConfig, MegatronBertForPreTraining

from gatortron_common.logging import InputError
from pretrain.from_hf import ImportConfig, import_hf
from pretrain.to_hf import ExportConfig, export_checkpoint
from tokenizer.export import bert_tokenizer_from_vocab, export_tokenizer
from tokenizer.vocab import bert_header, load_vocabulary

LOGIT_TOLERANCE = 1e-4
LAYOUTS = {"tp1": (1, {}), "tp2": (2, {"parallel.tensor": 2}), "pp2": (2, {"parallel.pipeline": 2})}
# A sentence pair with clinical text, and a shorter one padded: token types and padding both count.
TEXTS = [("Pt is a 67 yo male with hx of CHF, presenting with SOB.", "Lasix 40 mg PO BID started."),
         ("No acute distress.", "Afebrile.")]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}

MEGATRON_LOGITS = """
import json, os, sys
os.environ["CUDA_VISIBLE_DEVICES"] = ""
import warnings; warnings.filterwarnings("ignore")
from pathlib import Path
import numpy as np, torch
from pretrain import checkpoint
from pretrain.standalone import build_whole_model, load_model_weights, mlm_logits, single_process_megatron
from pretrain.to_hf import checkpoint_model
inputs = np.load(sys.argv[1])
with single_process_megatron():
    for root, output in json.loads(sys.argv[2]):
        iteration = checkpoint.latest_iteration(root)
        model, position = checkpoint_model(Path(root), iteration)
        bert = build_whole_model(model, position["padded_vocab_size"])
        load_model_weights(bert, str(checkpoint.iteration_dir(root, iteration)))
        logits = mlm_logits(bert, *(torch.from_numpy(inputs[k]) for k in ("ids", "types", "mask")))
        np.save(output, logits.numpy())
"""


def run_module(module: str, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *arguments], cwd=ROOT, env=ENV, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, pretrain_data: dict[str, str]) -> dict[str, Path]:
    """The tiny model (with the sentence-order head, dropout on) trained 3 steps at each layout."""
    root = tmp_path_factory.mktemp("trained")
    runs = {}
    for name, (processes, layout) in LAYOUTS.items():
        runs[name] = root / name
        pretrain(pretrain_data, runs[name], processes, **{"train.train_iters": 3, "model.hidden_dropout": 0.1,
                                                          "model.attention_dropout": 0.1}, **layout)
    return runs


def encode(tokenizer) -> dict[str, np.ndarray]:
    batch = tokenizer([a for a, _ in TEXTS], [b for _, b in TEXTS], padding=True, return_tensors="np")
    return {"ids": batch["input_ids"], "types": batch["token_type_ids"], "mask": batch["attention_mask"]}


def test_exports_from_every_layout_give_megatron_cores_logits(tmp_path: Path,
                                                               trained: dict[str, Path]) -> None:
    exports = {}
    for name, run in trained.items():
        exports[name] = tmp_path / f"hf_{name}"
        summary = export_checkpoint(ExportConfig(checkpoint=str(run), output=str(exports[name])))
        assert summary["iteration"] == 3 and summary["padded_vocab_size"] % 128 == 0
    inputs = encode(AutoTokenizer.from_pretrained(exports["tp1"]))
    assert inputs["mask"].min() == 0 and inputs["types"].max() == 1  # padding and sentence B are covered
    np.savez(tmp_path / "inputs.npz", **inputs)
    jobs = [(str(trained[name]), str(tmp_path / f"megatron_{name}.npy")) for name in trained]
    command = [sys.executable, "-c", MEGATRON_LOGITS, str(tmp_path / "inputs.npz"), json.dumps(jobs)]
    result = subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    keep = torch.from_numpy(inputs["mask"]).bool()
    for name in trained:
        model = AutoModelForMaskedLM.from_pretrained(exports[name]).eval()
        with torch.no_grad():
            logits = model(input_ids=torch.from_numpy(inputs["ids"]),
                           token_type_ids=torch.from_numpy(inputs["types"]),
                           attention_mask=torch.from_numpy(inputs["mask"])).logits
        reference = torch.from_numpy(np.load(tmp_path / f"megatron_{name}.npy"))
        assert reference.shape[-1] > logits.shape[-1] == model.config.vocab_size  # padding rows trimmed
        reference = reference[..., : logits.shape[-1]]
        assert reference[keep].std() > 0.1  # real logits, not a degenerate model
        difference = float((logits[keep] - reference[keep]).abs().max())
        assert difference <= LOGIT_TOLERANCE, (name, difference)


def test_export_command_verifies_and_loads_offline_with_the_auto_classes(
        tmp_path: Path, trained: dict[str, Path], pretrain_data: dict[str, str]) -> None:
    output = tmp_path / "hf"
    result = run_module("pretrain.export", f"checkpoint={trained['tp2']}", f"output={output}", "verify=true")
    assert result.returncode == 0, result.stderr[-3000:]
    info = json.loads((output / "export_info.json").read_text())
    assert 0 <= info["verify_max_abs_logit_diff"] <= LOGIT_TOLERANCE
    assert "exported tiny (iteration 3" in result.stderr
    script = f"""
import json
from transformers import (AutoModel, AutoModelForMaskedLM, AutoModelForTokenClassification, AutoTokenizer,
                          AutoConfig)
path = {str(output)!r}
loaded = [type(AutoModel.from_pretrained(path)).__name__,
          type(AutoModelForMaskedLM.from_pretrained(path)).__name__,
          type(AutoModelForTokenClassification.from_pretrained(path, num_labels=5)).__name__]
tokenizer = AutoTokenizer.from_pretrained(path)
ids = tokenizer("Metoprolol 25 mg PO BID; BP 132/84, HR 72.")["input_ids"]
print(json.dumps({{"loaded": loaded, "ids": ids, "type": AutoConfig.from_pretrained(path).model_type}}))
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=ENV, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["loaded"] == ["MegatronBertModel", "MegatronBertForMaskedLM",
                                "MegatronBertForTokenClassification"]
    assert report["type"] == "megatron-bert"
    source = bert_tokenizer_from_vocab(Path(pretrain_data["vocab"]) / "vocab.txt", lowercase=False)
    assert report["ids"] == source("Metoprolol 25 mg PO BID; BP 132/84, HR 72.")["input_ids"]


def test_sharded_export_loads_like_the_single_file(tmp_path: Path, trained: dict[str, Path]) -> None:
    single = export_checkpoint(ExportConfig(checkpoint=str(trained["tp1"]), output=str(tmp_path / "one")))
    sharded = export_checkpoint(ExportConfig(checkpoint=str(trained["tp1"]), output=str(tmp_path / "many"),
                                             max_shard_size_mb=1))
    assert single["files"] == ["model.safetensors"] and len(sharded["files"]) >= 2
    index = json.loads((tmp_path / "many" / "model.safetensors.index.json").read_text())
    assert sorted(set(index["weight_map"].values())) == sharded["files"]
    one = AutoModelForMaskedLM.from_pretrained(tmp_path / "one").state_dict()
    many = AutoModelForMaskedLM.from_pretrained(tmp_path / "many").state_dict()
    assert one.keys() == many.keys() and all(torch.equal(one[k], many[k]) for k in one)


def random_hf_model(directory: Path, vocab: Path, heads: bool = True) -> dict[str, torch.Tensor]:
    """A MegatronBert with every weight random (LayerNorms too, so swapped names cannot hide)."""
    tokens = list(load_vocabulary(vocab).tokens)
    config = MegatronBertConfig(vocab_size=len(tokens), hidden_size=64, num_hidden_layers=2,
                                num_attention_heads=4, intermediate_size=256, max_position_embeddings=128,
                                layer_norm_eps=1e-12)
    torch.manual_seed(3)
    model = MegatronBertForPreTraining(config)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn_like(parameter) * 0.05)
    target = model if heads else model.bert
    target.save_pretrained(directory)
    export_tokenizer(tokens, directory, lowercase=False)
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_random_hf_model_import_export_is_bit_identical(tmp_path: Path,
                                                        pretrain_data: dict[str, str]) -> None:
    original = random_hf_model(tmp_path / "hf", Path(pretrain_data["vocab"]))
    result = run_module("pretrain.import_hf", f"model={tmp_path / 'hf'}", f"output={tmp_path / 'ckpt'}",
                        "parallel.tensor=2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "ckpt" / "latest_checkpointed_iteration.txt").read_text().strip() == "0"
    export_checkpoint(ExportConfig(checkpoint=str(tmp_path / "ckpt"), output=str(tmp_path / "back")))
    back = load_file(tmp_path / "back" / "model.safetensors")
    stored = {k for k in original if not k.startswith("cls.predictions.decoder.")}  # tied: not stored
    assert set(back) == stored
    assert all(torch.equal(back[k], original[k]) for k in stored), [k for k in stored
                                                                  if not torch.equal(back[k], original[k])]
    source = json.loads((tmp_path / "hf" / "config.json").read_text())
    again = json.loads((tmp_path / "back" / "config.json").read_text())
    for key in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                "intermediate_size", "max_position_embeddings", "type_vocab_size", "layer_norm_eps",
                "architectures", "model_type"):
        assert again[key] == source[key], key
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json"):
        assert (tmp_path / "back" / name).read_bytes() == (tmp_path / "hf" / name).read_bytes(), name
    # Vocabulary padded for TP=2 (multiple of 256) with zero rows.
    reader = FileSystemReader(str(tmp_path / "ckpt" / "iter_0000000"))
    size = reader.read_metadata().state_dict_metadata["embedding.word_embeddings.weight"].size
    embedding = torch.empty(size)
    dcp_load({"embedding.word_embeddings.weight": embedding}, storage_reader=reader, no_dist=True)
    vocab_size = original["bert.embeddings.word_embeddings.weight"].shape[0]
    assert size[0] % 256 == 0 and size[0] >= vocab_size and not embedding[vocab_size:].any()


def test_checkpoint_export_import_keeps_every_real_weight(tmp_path: Path, trained: dict[str, Path]) -> None:
    export_checkpoint(ExportConfig(checkpoint=str(trained["tp1"]), output=str(tmp_path / "hf")))
    result = run_module("pretrain.import_hf", f"model={tmp_path / 'hf'}", f"output={tmp_path / 'ckpt'}")
    assert result.returncode == 0, result.stderr[-3000:]
    before = FileSystemReader(str(trained["tp1"] / "iter_0000003"))
    after = FileSystemReader(str(tmp_path / "ckpt" / "iter_0000000"))
    weights = {k: v for k, v in after.read_metadata().state_dict_metadata.items() if hasattr(v, "size")}
    vocab_size = json.loads((tmp_path / "hf" / "config.json").read_text())["vocab_size"]
    assert len(weights) == 26
    for key, meta in weights.items():
        old, new = torch.empty(meta.size), torch.empty(meta.size)
        dcp_load({key: old}, storage_reader=before, no_dist=True)
        dcp_load({key: new}, storage_reader=after, no_dist=True)
        if key in ("embedding.word_embeddings.weight", "output_layer.bias"):  # padding rows are not exported
            old, new = old[:vocab_size], new[:vocab_size]
        assert torch.equal(old, new), key


def test_pretraining_continues_from_an_imported_model(tmp_path: Path, pretrain_data: dict[str, str]) -> None:
    # An encoder without heads, as the public GatorTron checkpoints are.
    random_hf_model(tmp_path / "hf", Path(pretrain_data["vocab"]), heads=False)
    result = run_module("pretrain.import_hf", f"model={tmp_path / 'hf'}", f"output={tmp_path / 'run'}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "head weight(s) absent" in result.stderr
    assert "cls.predictions.transform.dense.weight" in result.stderr
    model = {"model.num_layers": 2, "model.hidden_size": 64, "model.num_attention_heads": 4,
             "model.ffn_hidden_size": 256, "model.seq_length": 128, "model.binary_head": "false",
             "model.layernorm_epsilon": 1e-12}
    data = {**pretrain_data, "vocab": str(tmp_path / "run" / "vocab")}
    records = pretrain(data, tmp_path / "run", **model, **{"train.train_iters": 2})
    assert [r["iteration"] for r in records] == [1, 2] and all(np.isfinite(r["lm loss"]) for r in records)
    assert "sop loss" not in records[0]
    wrong = run_module("pretrain", *[f"{k}={v}" for k, v in {**model, "model.num_layers": 3}.items()],
                       f"checkpoint.dir={tmp_path / 'run'}", f"data.blend={pretrain_data['blend']}",
                       f"data.vocab={tmp_path / 'run' / 'vocab'}", "data.split='90,10,0'")
    assert wrong.returncode == 2
    assert "model.num_layers: checkpoint 2, this run 3" in wrong.stderr
    assert len(metrics(tmp_path / "run")) == 2


def test_bad_input_is_named(tmp_path: Path, trained: dict[str, Path], pretrain_data: dict[str, str]) -> None:
    with pytest.raises(InputError, match=r"no checkpoint at iteration 7 \(available: 3\)"):
        export_checkpoint(ExportConfig(checkpoint=str(trained["tp1"]), output=str(tmp_path / "x"),
                                       iteration="7"))
    other = tmp_path / "other_vocab"
    other.mkdir()
    (other / "vocab.txt").write_text("\n".join(bert_header()) + "\n")
    with pytest.raises(InputError, match="vocabulary mismatch: the checkpoint .* vocab=.* uses 104 tokens"):
        export_checkpoint(ExportConfig(checkpoint=str(trained["tp1"]), output=str(tmp_path / "x"),
                                       vocab=str(other)))
    assert not (tmp_path / "x").exists()
    random_hf_model(tmp_path / "hf", Path(pretrain_data["vocab"]))
    weights = load_file(tmp_path / "hf" / "model.safetensors")
    from safetensors.torch import save_file

    save_file({**weights, "bert.encoder.layer.0.attention.extra.weight": torch.zeros(2)},
              str(tmp_path / "hf" / "model.safetensors"))
    with pytest.raises(InputError, match=r"do not belong to a MegatronBert model: "
                                         r"bert\.encoder\.layer\.0\.attention\.extra\.weight"):
        import_hf(ImportConfig(model=str(tmp_path / "hf"), output=str(tmp_path / "ckpt")))
    del weights["bert.encoder.layer.1.output.dense.weight"]
    save_file(weights, str(tmp_path / "hf" / "model.safetensors"))
    with pytest.raises(InputError, match=r"weights missing: bert\.encoder\.layer\.1\.output\.dense\.weight"):
        import_hf(ImportConfig(model=str(tmp_path / "hf"), output=str(tmp_path / "ckpt")))
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    (tmp_path / "hf" / "config.json").write_text(json.dumps({**config, "model_type": "bert"}))
    with pytest.raises(InputError, match="post-LayerNorm"):
        import_hf(ImportConfig(model=str(tmp_path / "hf"), output=str(tmp_path / "ckpt")))
    with pytest.raises(InputError, match="already holds a checkpoint"):
        import_hf(ImportConfig(model=str(tmp_path / "hf"), output=str(trained["tp1"])))


def test_bf16_checkpoint_exports_bf16_weights_with_megatron_cores_logits(
        tmp_path: Path, pretrain_data: dict[str, str]) -> None:
    original = random_hf_model(tmp_path / "hf", Path(pretrain_data["vocab"]))
    result = run_module("pretrain.import_hf", f"model={tmp_path / 'hf'}", f"output={tmp_path / 'ckpt'}",
                        "dtype=bf16")
    assert result.returncode == 0, result.stderr[-3000:]
    result = run_module("pretrain.export", f"checkpoint={tmp_path / 'ckpt'}", f"output={tmp_path / 'back'}",
                        "verify=true")
    assert result.returncode == 0, result.stderr[-3000:]
    info = json.loads((tmp_path / "back" / "export_info.json").read_text())
    assert info["dtype"] == "bfloat16" and info["verify_max_abs_logit_diff"] <= LOGIT_TOLERANCE
    back = load_file(tmp_path / "back" / "model.safetensors")
    for name, tensor in back.items():  # every weight, LayerNorms too, is the original rounded to bf16
        assert tensor.dtype == torch.bfloat16 and torch.equal(tensor, original[name].to(torch.bfloat16)), name
