"""What a reader or writer had to report about its input: span-text mismatches, repairs of
malformed files, spans moved to token boundaries, entities left out.

Every note names where (file, line, tag id, document id) and why, never the text: entity text
is PHI. `strict=True` turns mismatches and left-out entities into `InputError`s; repairs and
snapping are always just counted (they are exact, documented behaviour).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from gatortron_common.logging import SkipReport

MISMATCH = "mismatch"  # the file's own span text disagrees with the text slice
REPAIR = "repair"  # malformed input read anyway, the way it was meant
ADJUST = "adjust"  # a writer moved a span to what the format can express (token boundaries)
SKIP = "skip"  # an entity or document left out

KINDS = (MISMATCH, REPAIR, ADJUST, SKIP)
_RAISES = (MISMATCH, SKIP)


@dataclass
class FormatReport(SkipReport):
    """The project's `SkipReport` with a kind per event: counts by "kind: reason", with the first
    few places of each. Repairs and adjustments are counted by design (never errors).

    Args:
        strict: raise `InputError` on the first mismatch or skip instead of counting it.
        examples_per_reason: how many places to keep per reason.
    """

    def note(self, kind: str, reason: str, where: str) -> None:
        """Count one event.

        Args:
            kind: one of `KINDS`.
            reason: what happened, without any text from the document.
            where: `file:line (tag E3)` or `document 101 (T4)`.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown report kind {kind!r}")
        self.skip(f"{kind}: {reason}", where, by_design=kind not in _RAISES)

    def count(self, kind: str) -> int:
        """How many events of `kind` were noted."""
        return sum(n for key, n in self.counts.items() if key.startswith(f"{kind}: "))

    def as_dict(self) -> dict:
        return {**super().as_dict(), "by_kind": {kind: self.count(kind) for kind in KINDS},
                "by_reason": dict(sorted(self.counts.items()))}

    def log_summary(self, logger: logging.Logger) -> None:
        for key, count in sorted(self.counts.items()):
            level = logging.INFO if key.startswith((REPAIR, ADJUST)) else logging.WARNING
            logger.log(level, "%d x %s (first at %s)", count, key, ", ".join(self.examples.get(key, [])))
