"""For commands that run on the CPU whatever the node has (checkpoint conversion): hide the GPUs.

Must be imported before torch (CUDA reads CUDA_VISIBLE_DEVICES once). Deprecation notices from
torch's checkpoint reader/writer and megatron-core's config are not the user's concern there.
"""

from __future__ import annotations

import gatortron_common.environment  # noqa: F401  the settings every command shares

import os
import warnings

os.environ["CUDA_VISIBLE_DEVICES"] = ""
warnings.filterwarnings("ignore", category=FutureWarning)
