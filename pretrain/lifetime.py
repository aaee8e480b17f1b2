"""Helper processes that end with the training process, even when it is SIGKILLed (no cleanup runs
then): DataLoader workers, megatron-core's checkpoint writers and its writer-queue manager. Without
this the manager stays for good (it imports torch: ~280 MB), a worker or writer for a while, and
they keep the run's stdout open.

Light imports only: a spawned helper imports this module before anything else runs in it.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
from multiprocessing.managers import SyncManager

PR_SET_PDEATHSIG = 1  # linux/prctl.h
# Looked up once here: a child forked from a threaded process must not dlopen (the loader's lock
# may have been held by another thread at the fork).
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None

_manager: SyncManager | None = None  # kept: its queue proxies need it alive
_forking: tuple[int, bool] | None = None  # (pid, from the main thread) of the fork in progress


def end_with_parent(parent: int, *_: object) -> None:
    """Run first in a helper process (DataLoader worker_init_fn, Manager initializer): on Linux the
    kernel sends it SIGKILL when `parent` (its creator) dies; elsewhere the helper's own watchdog is
    all there is."""
    if _PRCTL is not None:
        if _PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
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


def forked_children_end_with_this_process() -> None:
    """Every child this process forks from its main thread (loader workers, checkpoint writers)
    gets SIGKILL when this process dies. Children forked by other threads are left alone: the
    kernel's signal follows the forking thread, which may end long before the process."""
    if _PRCTL is None or getattr(forked_children_end_with_this_process, "done", False):
        return
    os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)
    forked_children_end_with_this_process.done = True  # type: ignore[attr-defined]


def _before_fork() -> None:
    global _forking
    _forking = (os.getpid(), threading.current_thread() is threading.main_thread())


def _after_fork_in_child() -> None:
    if _forking is not None and _forking[1]:
        end_with_parent(_forking[0])
