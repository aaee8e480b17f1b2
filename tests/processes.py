"""Whether the helper processes of a killed run ended with it."""

from __future__ import annotations

import time

import psutil


def gone(pid: int, seconds: float) -> bool:
    """Whether `pid` ended (exited or a zombie no one has reaped yet) within `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def outlived(helpers: list[psutil.Process], seconds: float) -> list[str]:
    """The helpers still running `seconds` from now, described; they are killed (the test's own
    leftovers)."""
    deadline = time.monotonic() + seconds
    survivors = [helper for helper in helpers if not gone(helper.pid, max(0.0, deadline - time.monotonic()))]
    described = []
    for helper in survivors:
        try:
            described.append(f"{helper.pid} {' '.join(helper.cmdline())[:120]}")
            helper.kill()
        except psutil.NoSuchProcess:
            pass
    return described
