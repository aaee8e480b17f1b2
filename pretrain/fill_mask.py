"""Try an exported model: the most likely tokens for each [MASK] in a sentence you give.

    python -m pretrain.fill_mask model=hf/gatortron-base "text='Patient denies [MASK] pain.'" top_k=5

Runs HF's fill-mask pipeline on the CPU, offline. It prints the predictions for the text given on
the command line (and nothing else): use invented text, not a patient's note, in shared logs.
"""

from __future__ import annotations

import gatortron_common.environment  # noqa: F401  HF_HUB_OFFLINE: a local directory, never the hub

from dataclasses import dataclass
from pathlib import Path

import hydra
from omegaconf import MISSING, DictConfig

from gatortron_common.cli import run_command, run_stage
from gatortron_common.logging import InputError
from gatortron_common.settings import HYDRA_VERSION, config_dir, register_schema


@dataclass
class FillMaskConfig:
    """Attributes:
        model: an HF model directory (from python -m pretrain.export).
        text: a sentence with at least one [MASK].
        top_k: predictions shown per mask.
        log_level: logging level.
    """

    model: str = MISSING
    text: str = MISSING
    top_k: int = 5
    log_level: str = "INFO"


register_schema("fill_mask_schema", FillMaskConfig)


def fill_mask(cfg: FillMaskConfig) -> list[list[dict]]:
    """Predictions per [MASK], best first: dicts with `token_str` and `score`."""
    from transformers import pipeline
    from transformers.utils import logging as hf_logging

    # The pooler and sentence-order head are unused by fill-mask: HF's load report would say so.
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()

    if not (Path(cfg.model) / "config.json").is_file():
        raise InputError(f"model={cfg.model}: not a HF model directory (no config.json)")
    if cfg.top_k < 1:
        raise InputError(f"top_k={cfg.top_k}: use 1 or more")
    # Any failure becomes one line here: an exception escaping to Hydra would print the command's
    # overrides, text= included, and HF's messages may quote the input. Only the error type is shown.
    try:
        predictor = pipeline("fill-mask", model=cfg.model, tokenizer=cfg.model, device="cpu")
    except Exception as error:
        raise InputError(f"model={cfg.model}: cannot be loaded as a fill-mask model ({type(error).__name__}; "
                         "is it a directory from python -m pretrain.export?)") from None
    if predictor.tokenizer.mask_token not in cfg.text:
        raise InputError(f"text has no {predictor.tokenizer.mask_token}")
    try:
        found = predictor(cfg.text, top_k=cfg.top_k)
    except Exception as error:
        raise InputError(f"model={cfg.model}: the fill-mask prediction failed "
                         f"({type(error).__name__})") from None
    per_mask = found if found and isinstance(found[0], list) else [found]
    for number, predictions in enumerate(per_mask, start=1):
        shown = "  ".join(f"{p['token_str']!r} {p['score']:.3f}" for p in predictions)
        print(f"[MASK] {number}: {shown}", flush=True)
    return per_mask


@hydra.main(config_path=config_dir("pretrain/hf"), config_name="fill_mask", version_base=HYDRA_VERSION)
def main(cfg: DictConfig) -> None:
    run_stage(cfg, fill_mask, "pretrain.fill_mask")


if __name__ == "__main__":
    run_command(main, FillMaskConfig)
