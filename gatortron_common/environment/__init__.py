"""Process settings every command needs before torch, megatron-core or transformers are imported.

Imported first by each command module (ruff's isort config keeps `gatortron_common.environment`
above every other import, so no module silences the import-order rule E402 for it):
- warnings that are expected on a CPU machine or with plain PyTorch are silenced (the run logs
  which layer spec it uses);
- the Hugging Face hub is never contacted: every model and tokenizer here is a local directory.
`gatortron_common.environment.cpu` adds, for the conversion commands, hiding the GPUs.
"""

from __future__ import annotations

import os
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Expected without Transformer Engine/Apex (CPU, plain PyTorch).
warnings.filterwarnings("ignore", message=r".*(Apex|Transformer Engine).*not installed")
# megatron-core's notice about its own config scope, and torch's note in a single-process conversion.
warnings.filterwarnings("ignore", message=r"full scope is deprecated")
warnings.filterwarnings("ignore", message=r"torch.distributed is disabled")
