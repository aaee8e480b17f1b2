"""megatron-core's checkpoint-writer queue, owned so that it ends with the training process (the
generic part, helpers that end with their parent, is gatortron_common.lifetime).

Light imports only: a spawned helper imports this module before anything else runs in it.
"""

from __future__ import annotations

import multiprocessing
import os
from multiprocessing.managers import SyncManager

from gatortron_common.lifetime import end_with_parent

_manager: SyncManager | None = None  # kept: its queue proxies need it alive


def own_checkpoint_writer_queue() -> None:
    """megatron-core's torch_dist writer (0.16) spawns a multiprocessing Manager for its results
    queue at the first save and never stops it; started here instead, the Manager ends with this
    process. A megatron-core without that queue is left alone."""
    global _manager
    from megatron.core.dist_checkpointing.strategies import filesystem_async

    if _manager is not None or getattr(filesystem_async, "_results_queue", True) is not None:
        return
    _manager = SyncManager(ctx=multiprocessing.get_context("spawn"))
    _manager.start(initializer=end_with_parent, initargs=(os.getpid(),))
    filesystem_async._results_queue = _manager.Queue()
