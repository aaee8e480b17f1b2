"""Blend corpora for pretraining: a YAML listing indexed datasets with weights → the weighted
data-path list that megatron-core's `BlendedMegatronDatasetConfig(blend=(prefixes, weights))` and
Megatron's `--data-path w1 p1 w2 p2 ...` take.

    python -m data_prep.blend blend=blends/gatortron.yaml output=/data/bin/blend.json

The blend file::

    corpora:
      - name: uf_notes
        prefix: /data/bin/notes     # from python -m data_prep (or data_prep.merge)
        weight: 0.8                 # relative; normalized to sum to 1
      - name: pubmed
        prefix: /data/bin/pubmed
        weight: 0.2

Leave out every `weight` to sample each corpus in proportion to its tokens (every token seen
equally often: plain concatenation, as GatorTron trained). Each prefix must be a complete dataset
made with the same vocabulary. Relative prefixes are taken from the current directory.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import hydra
import yaml
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from data_prep.indexed_writer import is_complete, read_stats
from data_prep.merge import check_same_vocabularies
from gatortron_common.atomic import atomic_write_text
from gatortron_common.cli import run_command, run_stage
from gatortron_common.logging import InputError, get_logger
from gatortron_common.settings import HYDRA_VERSION, config_dir, register_schema

logger = get_logger("data_prep.blend")


@dataclass
class CorpusEntry:
    """One corpus of a blend file."""

    name: str = MISSING
    prefix: str = MISSING
    weight: float | None = None


@dataclass
class BlendFile:
    corpora: list[CorpusEntry] = field(default_factory=list)


@dataclass
class BlendConfig:
    """Attributes:
        blend: the blend YAML.
        output: where to write the blend as JSON (prefixes, weights, data_path, per-corpus counts).
        log_level: logging level.
    """

    blend: str = MISSING
    output: str | None = None
    log_level: str = "INFO"


register_schema("blend_schema", BlendConfig)


@dataclass(frozen=True)
class Blend:
    """Corpora with normalized sampling weights, in file order."""

    names: list[str]
    prefixes: list[str]
    weights: list[float]
    tokens: list[int]
    documents: list[int]

    @property
    def data_path(self) -> list[str]:
        """Megatron's interleaved form: weight, prefix, weight, prefix, ..."""
        return [item for w, p in zip(self.weights, self.prefixes, strict=True) for item in (repr(w), p)]

    def as_dict(self) -> dict:
        columns = zip(self.names, self.prefixes, self.weights, self.tokens, self.documents, strict=True)
        keys = ("name", "prefix", "weight", "tokens", "documents")
        corpora = [dict(zip(keys, values, strict=True)) for values in columns]
        return {"prefixes": self.prefixes, "weights": self.weights, "data_path": self.data_path,
                "corpora": corpora}


def load_blend(path: str | Path) -> Blend:
    """Read and check a blend file.

    Raises:
        InputError: unreadable file, no corpora, duplicate names, missing or incomplete datasets,
            datasets made with different vocabularies, weights that are not positive or only
            partly given.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such blend file")
    entries = _read_blend_file(path)
    corpora = entries.corpora
    if not corpora:
        raise InputError(f"{path}: lists no corpora")
    names = [c.name for c in corpora]
    if len(set(names)) != len(names):
        repeated = sorted(n for n in set(names) if names.count(n) > 1)
        raise InputError(f"{path}: corpus names repeat: {repeated}")
    stats = []
    for corpus in corpora:
        if not is_complete(corpus.prefix):
            raise InputError(f"{path}: corpus {corpus.name}: {corpus.prefix} is not a complete dataset "
                             f"(run python -m data_prep for it first)")
        stats.append(read_stats(corpus.prefix))
    check_same_vocabularies([c.prefix for c in corpora], stats, "corpus")
    for key in ("token_dtype", "lowercase"):
        values = {str(s.get(key)) for s in stats}
        if len(values) > 1:
            raise InputError(f"{path}: corpora differ in {key}: {sorted(values)}")
    tokens = [int(s["tokens"]) for s in stats]
    given = [c.weight is not None for c in corpora]
    if any(given) and not all(given):
        raise InputError(f"{path}: give a weight for every corpus, or for none (then: by tokens)")
    raw = [float(c.weight) for c in corpora] if all(given) else [float(t) for t in tokens]
    if not all(w > 0 and math.isfinite(w) for w in raw):
        raise InputError(f"{path}: weights must be positive numbers")
    total = sum(raw)
    return Blend(names, [c.prefix for c in corpora], [w / total for w in raw], tokens,
                 [int(s["documents"]) for s in stats])


def _read_blend_file(path: Path) -> BlendFile:
    """The blend file as checked settings. Messages name the file and the line or key, never a value."""
    try:
        loaded = OmegaConf.load(path)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise InputError(f"{where}: not valid YAML ({type(error).__name__})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    except OmegaConfBaseException as error:
        raise InputError(f"{path}: not a blend file ({type(error).__name__})") from None
    if not isinstance(loaded, DictConfig):
        raise InputError(f"{path}: not a blend file (expected a mapping with a corpora: list)")
    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(BlendFile), loaded))
    except OmegaConfBaseException as error:
        raise InputError(f"{path}: not a blend file ({type(error).__name__} at {error.full_key})") from None


def describe_blend(cfg: BlendConfig) -> dict:
    """Load, log and optionally write the blend; return it as a dict."""
    blend = load_blend(cfg.blend)
    total_tokens = sum(blend.tokens)
    for name, weight, tokens, documents in zip(blend.names, blend.weights, blend.tokens, blend.documents,
                                               strict=True):
        # Relative exposure: how often a token of this corpus is seen compared with plain concatenation.
        exposure = weight / (tokens / total_tokens) if tokens else float("inf")
        logger.info("%-20s weight %.4f  %12d tokens  %10d documents  x%.2f vs concatenation",
                    name, weight, tokens, documents, exposure)
    logger.info("data_path: %s", " ".join(blend.data_path))
    result = blend.as_dict()
    if cfg.output:
        atomic_write_text(cfg.output, json.dumps(result, indent=2) + "\n")
        logger.info("blend written to %s", cfg.output)
    return result


@hydra.main(config_path=config_dir("data_prep"), config_name="blend", version_base=HYDRA_VERSION)
def main(cfg: DictConfig) -> None:
    run_stage(cfg, describe_blend, "data_prep.blend")


if __name__ == "__main__":
    run_command(main, BlendConfig)
