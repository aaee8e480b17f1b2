"""Where each command's Hydra settings live and how its typed schema is registered.

Every command follows one recipe (see `gatortron_common.cli`): the module that defines a settings
dataclass registers it with `register_schema` next to its definition, the YAML under
`configs/<package>/` names that schema first in its `defaults`, and the command's
`@hydra.main(config_path=config_dir("<package>"), config_name=..., version_base=HYDRA_VERSION)`
`main(cfg)` only calls `gatortron_common.cli.run_stage(cfg, work, stage)`, and the module's
`if __name__ == "__main__":` calls `gatortron_common.cli.run_command(main, <settings dataclass>)`.
The dataclass is where each setting's default and documentation live (`--help` prints them); the
YAML keeps only what differs from it.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
import textwrap
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore

# configs/ at the repository root, found from this file so any working directory works.
CONFIG_ROOT = Path(__file__).resolve().parents[1] / "configs"
HYDRA_VERSION = "1.3"
_DOC_ENTRY = re.compile(r"^([A-Za-z_]\w*): ?(.*)$")


def config_dir(package: str) -> str:
    """The folder of `package`'s YAML settings (configs/<package>), as `@hydra.main` wants it."""
    return str(CONFIG_ROOT / package)


def register_schema(name: str, schema: type) -> None:
    """Make `schema` (a settings dataclass) the config named `name`, so a YAML's defaults can extend it and
    every key is typed and checked (an unknown key or a wrong type is then a one-line setting error)."""
    ConfigStore.instance().store(name=name, node=schema)


def field_docs(schema: type) -> dict[str, str]:
    """Each field's text in the `Attributes:` (or `Args:`) section of a settings dataclass's docstring;
    fields it inherits are documented where they are declared (the base's docstring)."""
    docs: dict[str, str] = {}
    for base in reversed(schema.__mro__[1:]):
        if dataclasses.is_dataclass(base):
            docs.update(_own_field_docs(base))
    docs.update(_own_field_docs(schema))
    return docs


def _own_field_docs(schema: type) -> dict[str, str]:
    docs: dict[str, str] = {}
    entry_indent: int | None = None
    name = None
    for line in (schema.__doc__ or "").splitlines():
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if stripped.endswith(("Attributes:", "Args:")):
            entry_indent, name = None, None
            docs.setdefault("", "")  # inside a section from here
            continue
        if "" not in docs or not stripped:
            continue
        if entry_indent is None:
            entry_indent = indent
        if indent < entry_indent:  # the section ended
            break
        entry = _DOC_ENTRY.match(stripped) if indent == entry_indent else None
        if entry:
            name = entry.group(1)
            docs[name] = entry.group(2).strip()
        elif name:
            docs[name] += " " + stripped
    docs.pop("", None)
    return docs


def documented_defaults(schema: type, prefix: str = "") -> list[tuple[str, Any, str]]:
    """(dotted key, default, documentation) of every setting of `schema`, nested settings flattened."""
    docs = field_docs(schema)
    rows: list[tuple[str, Any, str]] = []
    inherited = {item.name for base in schema.__mro__[1:] if dataclasses.is_dataclass(base)
                 for item in dataclasses.fields(base)}
    # The command's own settings first, then those every command of its kind shares.
    for item in sorted(dataclasses.fields(schema), key=lambda item: item.name in inherited):
        if item.default is not dataclasses.MISSING:
            default = item.default
        elif item.default_factory is not dataclasses.MISSING:
            default = item.default_factory()
        else:
            default = "???"
        if dataclasses.is_dataclass(default):
            rows.extend(documented_defaults(type(default), f"{prefix}{item.name}."))
        else:
            rows.append((f"{prefix}{item.name}", default, docs.get(item.name, "")))
    return rows


def settings_help(schema: type, command: str) -> str:
    """What `python -m <command> --help` prints: every setting, its default and what it does."""
    first = inspect.cleandoc(schema.__doc__ or "").splitlines()[:1]
    summary = first[0] if first and first[0] not in ("Attributes:", "Args:") else \
        f"Settings of `python -m {command}`."
    out = [summary, "", f"    python -m {command} key=value ...", "",
           "Settings (default; ??? = required). The YAML under configs/ sets only what differs from these."]
    for key, default, doc in documented_defaults(schema):
        value = "???" if default == "???" else json.dumps(default, default=str)
        out.append(f"  {key} = {value}")
        out.extend(f"      {line}" for line in textwrap.wrap(doc, 96))
    return "\n".join(out) + "\n"
