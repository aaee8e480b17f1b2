"""What every `python -m <stage>` entry point does around its work: typed settings from the Hydra
config, logging, and bad input reported as one clear line (exit status 2) instead of a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

from gatortron_common.logging import InputError, configure_logging, get_logger

Settings = TypeVar("Settings")


def run_stage(cfg: DictConfig, work: Callable[[Any], object], stage: str) -> None:
    """Convert `cfg` to its structured settings object and run `work(settings)`.

    Missing required keys and `InputError`s end the process with status 2 and a one-line message.
    """
    logger = get_logger(stage)
    try:
        settings = OmegaConf.to_object(cfg)
    except MissingMandatoryValue as error:
        configure_logging()
        logger.error("missing required setting %s=...: give it on the command line", error.full_key)
        sys.exit(2)
    configure_logging(getattr(settings, "log_level", "INFO"))
    try:
        work(settings)
    except InputError as error:
        logger.error("%s", error)
        sys.exit(2)
