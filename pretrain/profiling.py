"""One training step under the torch profiler (`logging.profile_step=N`), so the next bottleneck is
named by data: rank 0 writes `<checkpoint.dir>/profile.txt` (torch's table of every operator and kernel by
its own time) and `profile.json` (the top entries: name, calls, own time, share of the step's time).
On a GPU the ranking is by CUDA time (kernels), on the CPU by CPU time."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from gatortron_common.atomic import atomic_write_text

TOP = 25


@contextlib.contextmanager
def profiled(active: bool, directory: Path) -> Iterator[None]:
    """Profile the block when `active` (this rank, the chosen step); otherwise do nothing."""
    if not active:
        yield
        return
    cuda = torch.cuda.is_available()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as profiler:
        yield
        if cuda:
            torch.cuda.synchronize()
    write_summary(profiler, directory, "cuda" if cuda else "cpu")


def write_summary(profiler: profile, directory: Path, device: str) -> None:
    averages = profiler.key_averages()
    own = f"self_{device}_time_total"
    rows = sorted(averages, key=lambda event: getattr(event, own), reverse=True)
    total = sum(getattr(event, own) for event in averages) or 1.0
    top = [{"name": event.key, "calls": event.count, f"self_{device}_us": round(getattr(event, own), 1),
            "share": round(getattr(event, own) / total, 4)} for event in rows[:TOP]]
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write_text(directory / "profile.txt", averages.table(sort_by=own, row_limit=-1) + "\n")
    atomic_write_text(directory / "profile.json",
                      json.dumps({"device": device, f"self_{device}_us_total": round(total, 1), "top": top},
                                 indent=2) + "\n")
