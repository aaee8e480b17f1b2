"""Run under torchrun (gloo, CPU): SdpaAttention against megatron-core's DotProductAttention, and the
local spec with SDPA + fused bias-GELU against megatron-core's own local spec, at TP=1 and at TP=world
size. Prints one JSON line per layout (rank 0) with the largest differences found."""

from __future__ import annotations

import json
import os
import warnings

import torch

from pretrain import cpu_backend
from pretrain.attention import SdpaAttention
from pretrain.config import Attention, ModelConfig, ParallelConfig, TrainConfig
from pretrain.model import build_model, transformer_config

warnings.filterwarnings("ignore")
HEADS, HIDDEN, SEQUENCE, BATCH = 4, 64, 24, 3
VALID = (24, 17, 9)  # real tokens per sequence; the rest is padding


def padding() -> torch.Tensor:
    """[b, s] 1 for real tokens, 0 for padding."""
    return (torch.arange(SEQUENCE)[None, :] < torch.tensor(VALID)[:, None]).long()


def core_attention_differences(tp: int) -> dict[str, float]:
    from megatron.core.transformer.dot_product_attention import DotProductAttention
    from megatron.core.transformer.enums import AttnMaskType

    model = ModelConfig(name="t", num_layers=1, hidden_size=HIDDEN, num_attention_heads=HEADS,
                        ffn_hidden_size=4 * HIDDEN, seq_length=SEQUENCE, hidden_dropout=0.0,
                        attention_dropout=0.0)
    config = transformer_config(model, ParallelConfig(tensor=tp), TrainConfig(), on_gpu=False)
    rank = torch.distributed.get_rank() % tp
    heads = slice(rank * HEADS // tp, (rank + 1) * HEADS // tp)
    generator = torch.Generator().manual_seed(5)
    q, k, v = (torch.randn(SEQUENCE, BATCH, HEADS, HIDDEN // HEADS, generator=generator)[:, :, heads]
               for _ in range(3))
    upstream = torch.randn(SEQUENCE, BATCH, HIDDEN // tp, generator=generator)
    real = padding().T[:, :, None].bool()  # [s, b, 1]: the loss reads only real tokens
    upstream = upstream * real
    pad = padding()
    mask = ((pad[:, None, :] * pad[:, :, None]) < 0.5)[:, None]  # megatron-core's BERT mask, [b, 1, s, s]
    results = {}
    for name, module in (("unfused", DotProductAttention), ("sdpa", SdpaAttention)):
        attention = module(config, layer_number=1, attn_mask_type=AttnMaskType.padding, attention_type="self")
        inputs = [t.clone().requires_grad_() for t in (q, k, v)]
        output = attention(*inputs, attention_mask=mask)
        (output * upstream).sum().backward()
        results[name] = (output * real, [t.grad for t in inputs])
    (out_a, grads_a), (out_b, grads_b) = results["unfused"], results["sdpa"]
    return {"output": float((out_a - out_b).abs().max()),
            "grad": max(float((a - b).abs().max()) for a, b in zip(grads_a, grads_b, strict=True)),
            "output_scale": float(out_a.abs().max())}


def whole_model_differences(tp: int) -> dict[str, float | bool]:
    """The same weights in megatron-core's local spec and in ours: logits at real tokens, gradients."""
    base = dict(name="t", num_layers=2, hidden_size=HIDDEN, num_attention_heads=HEADS,
                ffn_hidden_size=4 * HIDDEN, seq_length=SEQUENCE, hidden_dropout=0.0, attention_dropout=0.0)
    theirs_cfg = ModelConfig(**base, attention=Attention.unfused, fused_bias_gelu=False)
    ours_cfg = ModelConfig(**base, attention=Attention.sdpa, fused_bias_gelu=True)
    config = transformer_config(ours_cfg, ParallelConfig(tensor=tp), TrainConfig(), on_gpu=False)
    torch.manual_seed(3)
    theirs = build_model(config, theirs_cfg, 128, pre_process=True, post_process=True)
    ours = build_model(config, ours_cfg, 128, pre_process=True, post_process=True)
    same_keys = sorted(theirs.sharded_state_dict()) == sorted(ours.sharded_state_dict())
    with torch.no_grad():  # large activations, where the tanh form of GELU would show
        for weight in theirs.parameters():
            if weight.dim() > 1:
                weight.normal_(0, 0.3, generator=torch.Generator().manual_seed(weight.numel()))
    ours.load_state_dict(theirs.state_dict(), strict=True)
    generator = torch.Generator().manual_seed(9)
    tokens = torch.randint(0, 128, (BATCH, SEQUENCE), generator=generator)
    types = torch.zeros(BATCH, SEQUENCE, dtype=torch.long)
    real = padding()
    logits = []
    for bert in (theirs, ours):
        lm_logits, binary = bert(tokens, real, tokentype_ids=types)
        # only real tokens count, as in the masked-LM loss
        (lm_logits.float().pow(2).mean(-1) * real).sum().add(binary.float().sum()).backward()
        logits.append(lm_logits * real[:, :, None])
    pairs = list(zip(theirs.parameters(), ours.parameters(), strict=True))
    # differences relative to the largest value compared: the large weights make large activations
    grad = max(float((a.grad - b.grad).abs().max()) for a, b in pairs) / max(
        float(a.grad.abs().max()) for a, _ in pairs)
    logit = float((logits[0] - logits[1]).abs().max()) / float(logits[0].abs().max())
    return {"logits": logit, "grad": grad, "same_keys": same_keys,
            "spec": type(ours.encoder.layers[0].self_attention.core_attention).__name__ + "+"
            + type(ours.encoder.layers[0].mlp).__name__}


def main() -> None:
    from megatron.core import parallel_state, tensor_parallel

    torch.distributed.init_process_group("gloo")
    cpu_backend.apply()
    world = torch.distributed.get_world_size()
    for tp in sorted({1, world}):
        parallel_state.initialize_model_parallel(tensor_model_parallel_size=tp)
        tensor_parallel.model_parallel_cuda_manual_seed(1234)
        report = {"tp": tp, "core": core_attention_differences(tp), "model": whole_model_differences(tp)}
        gathered = [None] * world
        torch.distributed.all_gather_object(gathered, report)
        if torch.distributed.get_rank() == 0:
            print(json.dumps(gathered), flush=True)
        parallel_state.destroy_model_parallel()
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
