"""What every benchmark script needs first: the repository on sys.path (so `python bench/<name>.py`
runs without installing the project) and the process settings every command uses, applied before
torch or megatron-core is imported (`gatortron_common.environment`).

Imported first by each script (ruff's isort config keeps it in the first import section).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
importlib.import_module("gatortron_common.environment")
