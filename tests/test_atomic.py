"""gatortron_common.atomic: a replaced output leaves nothing of itself behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from gatortron_common.atomic import atomic_directory


@pytest.mark.parametrize("kind", ["directory", "file", "link"])
def test_atomic_directory_replaces_whatever_was_there_without_leftovers(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "out"
    if kind == "directory":
        target.mkdir()
        (target / "old.txt").write_text("old\n")
    elif kind == "file":
        target.write_text("old\n")
    else:
        (tmp_path / "elsewhere").mkdir()
        target.symlink_to(tmp_path / "elsewhere")
    with atomic_directory(target) as staging:
        (staging / "new.txt").write_text("new\n")
    assert target.is_dir() and not target.is_symlink()
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == (["elsewhere", "out"] if kind == "link" else ["out"])


def test_atomic_directory_keeps_the_old_output_when_the_work_fails(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old\n")
    with pytest.raises(RuntimeError), atomic_directory(target) as staging:
        (staging / "half.txt").write_text("half\n")
        raise RuntimeError("killed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert (target / "old.txt").read_text() == "old\n"
