"""Finding a split's file in a release folder that names its files after their splits
(`clinicalSTS2019.train.txt`, `mli_dev_v1.jsonl`, `medication-test.json`)."""

from __future__ import annotations

from pathlib import Path

from gatortron_common.logging import InputError


def find_split_file(data_dir: str | Path, split: str, suffix: str) -> Path | None:
    """The one file of `data_dir` ending in `suffix` whose name holds `split` (`train`, `dev`,
    `test`), a `.gs.` gold-score file aside; None when there is none.

    Raises:
        InputError: several files match.
    """
    found = sorted(path for path in Path(data_dir).iterdir()
                   if path.is_file() and path.name.endswith(suffix) and split in path.name
                   and ".gs." not in path.name)
    if len(found) > 1:
        raise InputError(f"data_dir={data_dir}: several {split} files ({', '.join(p.name for p in found)}); "
                         "keep one")
    return found[0] if found else None
