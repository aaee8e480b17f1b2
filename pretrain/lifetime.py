"""Helper processes that end with the training process, even when it is SIGKILLed (no cleanup runs
then): DataLoader workers and megatron-core's checkpoint-writer queue manager. Without this they
stay for good (a loader worker holds ~280 MB) and keep the run's stdout open.

Light imports only: a spawned helper imports this module before anything else runs in it.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from multiprocessing.managers import SyncManager

PR_SET_PDEATHSIG = 1  # linux/prctl.h

_manager: SyncManager | None = None  # kept: its queue proxies need it alive


def end_with_parent(parent: int, *_: object) -> None:
    """Run first in a helper process (DataLoader worker_init_fn, Manager initializer): on Linux the
    kernel sends it SIGKILL when `parent` (its creator) dies; elsewhere the helper's own watchdog is
    all there is."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


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
