"""Helpers for data_prep tests that simulate a job killed part-way."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from data_prep import pool


@contextlib.contextmanager
def killed_after_parts(monkeypatch: pytest.MonkeyPatch, parts: int) -> Iterator[None]:
    """Within the block, `data_prep` is "killed" (KeyboardInterrupt) while making part `parts + 1`."""
    real, made = pool._prepare_part, []

    def interrupted(task):
        if len(made) == parts:
            raise KeyboardInterrupt  # the job is killed while the next part is being made
        made.append(task)
        return real(task)

    monkeypatch.setattr(pool, "_prepare_part", interrupted)
    try:
        with pytest.raises(KeyboardInterrupt):
            yield
    finally:
        monkeypatch.setattr(pool, "_prepare_part", real)
