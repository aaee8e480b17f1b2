"""Helper processes that end with the process that made them, even when it is SIGKILLed (no cleanup
runs then). Without this a killed stage leaves its workers behind: they wait for input that never
comes, hold memory, and keep the stage's stdout and stderr open (whoever reads those waits forever).

Light imports only: a spawned helper imports this module before anything else runs in it.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading

PR_SET_PDEATHSIG = 1  # linux/prctl.h
# Looked up once here: a child forked from a threaded process must not dlopen (the loader's lock
# may have been held by another thread at the fork).
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None
WATCHDOG_POLL_SECONDS = 1.0

_forking: tuple[int, bool] | None = None  # (pid, from the main thread) of the fork in progress


def end_with_parent(parent: int, *_: object) -> None:
    """Run first in a helper process (a pool's initializer, a DataLoader's worker_init_fn): on Linux
    the kernel sends it SIGKILL when `parent` (its creator) dies; elsewhere a watchdog thread polls
    for the parent every WATCHDOG_POLL_SECONDS (it sees the death even while the helper's main
    thread is blocked reading a message the dead parent never finished writing)."""
    if _PRCTL is not None:
        if _PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    else:
        threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True,
                         name="end-with-parent").start()
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        threading.Event().wait(WATCHDOG_POLL_SECONDS)
    os._exit(1)


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
