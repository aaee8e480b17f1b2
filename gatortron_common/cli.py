"""What every `python -m <stage>` entry point does around its work: typed settings from the Hydra
config, logging, and every failure reported as one line that never repeats a value.

Command-line values can be PHI (`pretrain.fill_mask text='...'` holds note text) and exception
messages often quote values (`invalid literal for int(): '<a line of the note>'`). So:
- bad settings and bad input (`InputError`): one line naming the setting or file, exit status 2;
- Hydra's own errors (unknown key, wrong type, unparsable override, no such config choice): one
  line naming the key, exit status 2, instead of Hydra's multi-line message that quotes the value;
- any other exception: one line naming the stage and the exception type, exit status 1; the
  traceback (with messages, so possibly with values) only when GATORTRON_DEBUG=1.
`{shard}` in a value (predict's and deid's per-shard outputs) reads as written: Hydra's grammar would
take the braces for a dictionary, so such a value is quoted for it (`quote_shard_placeholders`).
Each command's `if __name__ == "__main__"` calls `run_command(main, <settings>)`, which sets these
up; importing this module changes nothing in the process.
Hydra must not write `.hydra/overrides.yaml` (the overrides, on disk): every stage config sets
`hydra.output_subdir: null` and `hydra.run.dir: .`.
The recipe every command follows (config folders, schema registration, `main`): gatortron_common.settings.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException, MissingConfigException, OverrideParseException
from omegaconf import DictConfig, EnumNode, OmegaConf
from omegaconf.errors import (
    ConfigAttributeError,
    ConfigKeyError,
    InterpolationResolutionError,
    MissingMandatoryValue,
    OmegaConfBaseException,
)

from gatortron_common.logging import InputError, configure_logging, get_logger
from gatortron_common.settings import settings_help

DEBUG_VARIABLE = "GATORTRON_DEBUG"
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_KEY = re.compile(r"[+~]{0,2}[A-Za-z_][\w.@/-]*")
_REQUIRED_GROUP = re.compile(r"You must specify '([A-Za-z_][\w./]*)'")


def run_stage(cfg: DictConfig, work: Callable[[Any], object], stage: str) -> None:
    """Convert `cfg` to its structured settings object and run `work(settings)`.

    Bad settings and `InputError`s end the process with status 2, any other exception with status 1,
    each with one line that names what was wrong but no value. Catching everything here also keeps
    Hydra from printing "Error executing job with overrides: [...]" (every override, values included),
    which it still does for an exception raised in the task function outside run_stage: an entry point
    does all its work, settings conversion included, inside run_stage.
    """
    logger = get_logger(stage)
    configure_logging()
    try:
        settings = _settings(cfg)
        configure_logging(_log_level(settings))
        work(settings)
    except InputError as error:
        logger.error("%s", error)
        sys.exit(2)
    except Exception as error:  # noqa: BLE001  the one place unexpected errors are reported
        _log_failure(stage, error)
        sys.exit(1)


def describe_config_error(error: BaseException) -> str:
    """One line for a Hydra / OmegaConf settings error: the key and what is wrong, never the value."""
    if isinstance(error, OverrideParseException):
        return (f"command-line argument {_unparsable_argument()} is not a valid key=value setting "
                f"(check its quotes and brackets)")
    if isinstance(error, MissingConfigException) and error.missing_cfg_file:
        group = error.missing_cfg_file.rpartition("/")[0] or error.missing_cfg_file
        options = f" (one of: {', '.join(error.options)})" if error.options else ""
        return f"no such choice for setting {group}{options}"
    cause = _omegaconf_error(error)
    key = getattr(cause, "full_key", None)
    if key:
        if isinstance(cause, MissingMandatoryValue):
            return f"missing required setting {key}=...: give it on the command line"
        if isinstance(cause, (ConfigKeyError, ConfigAttributeError)):
            return f"unknown setting {key} (a typo? the stage's config lists every setting)"
        if isinstance(cause, InterpolationResolutionError):
            return f"setting {key}: its ${{...}} interpolation could not be resolved"
        choices = _choices(cause)
        if choices:
            return f"bad value for setting {key}: use one of {choices} (the value is not shown)"
        return f"bad value for setting {key} (wrong type or not allowed; the value is not shown)"
    required = _REQUIRED_GROUP.search(str(error))  # Hydra: "You must specify 'task', e.g, task=<OPTION>"
    if required:
        return f"missing required setting {required.group(1)}=...: give it on the command line"
    keys = _override_keys_in(str(error))
    if keys:
        return f"bad command-line setting {', '.join(keys)} (the value is not shown)"
    return f"bad command-line settings ({DEBUG_VARIABLE}=1 shows Hydra's message, which may repeat values)"


def _choices(error: BaseException) -> str:
    """The allowed values of an Enum-typed setting that refused a value ("" for other settings)."""
    node = getattr(error, "child_node", None)
    if not isinstance(node, EnumNode):
        return ""
    return ", ".join([member.name for member in node.enum_type] + (["null"] if node._is_optional() else []))


def _settings(cfg: DictConfig) -> Any:
    try:
        settings = OmegaConf.to_object(cfg)
    except OmegaConfBaseException as error:
        raise InputError(describe_config_error(error)) from None
    unknown = _unknown_keys(cfg) if isinstance(cfg, DictConfig) else []
    if unknown:
        # `+typo=1` adds a key Hydra accepts and to_object() silently keeps as a stray attribute.
        raise InputError(f"unknown setting {unknown[0]} (a typo? the stage's config lists every setting)")
    return settings


def _unknown_keys(node: DictConfig, prefix: str = "") -> list[str]:
    """Keys of `node` (recursively) that its structured-config dataclass does not declare."""
    kind = OmegaConf.get_type(node)
    declared = {f.name for f in dataclasses.fields(kind)} if dataclasses.is_dataclass(kind) else None
    found = []
    for key in node.keys():
        name = f"{prefix}{key}"
        if declared is not None and key not in declared:
            found.append(name)
            continue
        child = node._get_node(key)
        if isinstance(child, DictConfig) and not child._is_none() and not child._is_missing():
            found.extend(_unknown_keys(child, f"{name}."))
    return found


def _log_level(settings: Any) -> str:
    level = str(getattr(settings, "log_level", "INFO")).upper()
    if level not in _LEVELS:
        raise InputError(f"log_level must be one of {', '.join(_LEVELS)}")
    return level


def _log_failure(stage: str, error: BaseException) -> None:
    kind = type(error)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    debug = os.environ.get(DEBUG_VARIABLE) == "1"
    get_logger(stage).error(
        "stopped on an unexpected %s (its message may quote input, so it is not shown%s)", name,
        "" if debug else f"; {DEBUG_VARIABLE}=1 prints the traceback", exc_info=error if debug else None)


def _omegaconf_error(error: BaseException) -> BaseException | None:
    """The first OmegaConf error with a key in the chain of causes (Hydra wraps them)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OmegaConfBaseException) and getattr(current, "full_key", None):
            return current
        current = current.__cause__ or current.__context__
    return None


def _command_line() -> list[str]:
    return sys.argv[1:]


def _unparsable_argument() -> str:
    """Position (and key, when it looks like one) of the first override Hydra cannot parse."""
    parser = OverridesParser.create()
    for position, argument in enumerate(_command_line(), 1):
        try:
            parser.parse_override(argument)
        except HydraException:
            key, equal, _ = argument.partition("=")
            key = key.strip()
            return f"{position} ({key}=...)" if equal and _KEY.fullmatch(key) else str(position)
    return "?"


def _override_keys_in(message: str) -> list[str]:
    """Keys of the command-line overrides that a Hydra message names."""
    try:
        overrides = OverridesParser.create().parse_overrides(_command_line())
    except HydraException:
        return []
    keys = dict.fromkeys(o.key_or_group for o in overrides)
    return [k for k in keys if re.search(rf"(?<![\w.]){re.escape(k)}(?![\w.])", message)]


def _main_stage() -> str:
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    name = spec.name if spec is not None else Path(sys.argv[0]).stem
    return name.removesuffix(".__main__")


def _report_uncaught(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
    """sys.excepthook: Hydra's setting errors and anything else that escaped run_stage, as one line."""
    if not issubclass(kind, Exception):
        sys.__excepthook__(kind, error, trace)
        return
    stage = _main_stage()
    configure_logging()
    if isinstance(error, InputError):  # raised outside run_stage; its message names no values
        get_logger(stage).error("%s", error)
        raise SystemExit(2)
    if isinstance(error, (HydraException, OmegaConfBaseException)):
        if os.environ.get(DEBUG_VARIABLE) == "1":
            sys.__excepthook__(kind, error, trace)
        get_logger(stage).error("%s", describe_config_error(error))
        raise SystemExit(2)  # SystemExit raised by an excepthook sets the exit status
    _log_failure(stage, error)
    raise SystemExit(1)


def run_command(main: Callable[[], object], settings: type) -> None:
    """Run a command's `@hydra.main` function as a program: what every `python -m <stage>` does first.

    `--help` (or `-h`) prints every setting of the `settings` dataclass with its default and
    documentation (`gatortron_common.settings.settings_help`; Hydra's own help is `--hydra-help`).
    Hydra's errors are reported as one line (`_install_error_reporting`), and a `{shard}` in a
    command-line value is quoted for Hydra's grammar (`quote_shard_placeholders`). Done here, when the
    program starts, not when this module is imported (importing a stage never changes the process).
    """
    if any(argument in ("--help", "-h") for argument in sys.argv[1:]):
        sys.stdout.write(settings_help(settings, _main_stage()))
        raise SystemExit(0)
    _install_error_reporting()
    sys.argv[1:] = quote_shard_placeholders(sys.argv[1:])
    main()


def _install_error_reporting() -> None:
    """Route Hydra's error reporting to `_report_uncaught`.

    Hydra composes the config (and fails on a bad override) inside `@hydra.main`, before run_stage
    runs, and prints its own multi-line message with the override values, exit status 1. It offers
    one documented switch: HYDRA_FULL_ERROR=1 makes it re-raise instead of printing. The exception
    then leaves `main()` and reaches sys.excepthook, Python's documented hook for exactly that. This
    keeps the entry points' plain `@hydra.main` and touches no Hydra internals (patching its
    private run_and_report, or composing the config ourselves with the Compose API, would either
    depend on Hydra's internals or drop its command-line features: --cfg, --help, -m). Every stage
    starts through `run_command`, so installing there covers all of them.
    """
    os.environ["HYDRA_FULL_ERROR"] = "1"
    sys.excepthook = _report_uncaught


def quote_shard_placeholders(arguments: list[str]) -> list[str]:
    """`output=/preds/part_{shard}.jsonl` as Hydra's quoted string `output='/preds/part_{shard}.jsonl'`.

    Only a key=value argument whose value holds `{shard}` and is not quoted already (and has no quote
    or backslash of its own, which Hydra's quoted strings would read differently) is changed."""
    quoted = []
    for argument in arguments:
        key, equals, value = argument.partition("=")
        if (equals and "{shard}" in value and _KEY.fullmatch(key)
                and not any(character in value for character in "'\"\\")):
            argument = f"{key}='{value}'"
        quoted.append(argument)
    return quoted
