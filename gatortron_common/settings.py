"""Where each command's Hydra settings live and how its typed schema is registered.

Every command follows one recipe (see `gatortron_common.cli`): the module that defines a settings
dataclass registers it with `register_schema` next to its definition, the YAML under
`configs/<package>/` names that schema first in its `defaults`, and the command's
`@hydra.main(config_path=config_dir("<package>"), config_name=..., version_base=HYDRA_VERSION)`
`main(cfg)` only calls `gatortron_common.cli.run_stage(cfg, work, stage)`.
"""

from __future__ import annotations

from pathlib import Path

from hydra.core.config_store import ConfigStore

# configs/ at the repository root, found from this file so any working directory works.
CONFIG_ROOT = Path(__file__).resolve().parents[1] / "configs"
HYDRA_VERSION = "1.3"


def config_dir(package: str) -> str:
    """The folder of `package`'s YAML settings (configs/<package>), as `@hydra.main` wants it."""
    return str(CONFIG_ROOT / package)


def register_schema(name: str, schema: type) -> None:
    """Make `schema` (a settings dataclass) the config named `name`, so a YAML's defaults can extend it and
    every key is typed and checked (an unknown key or a wrong type is then a one-line setting error)."""
    ConfigStore.instance().store(name=name, node=schema)
