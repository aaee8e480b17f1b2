"""The project's one logging convention.

Clinical text is PHI. Log records name files, line/record numbers, counts and reasons,
never note text, entity text or surrogates. Helpers here make the safe thing the easy one:
`location()` formats where something happened, `SkipReport` counts bad input by reason.
"""

from __future__ import annotations

import logging
import sys
from collections import Counter
from dataclasses import dataclass, field

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str | int = "INFO") -> None:
    """Configure the root logger once for a command-line stage (idempotent)."""
    root = logging.getLogger()
    if not any(getattr(h, "_gatortron", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(_FORMAT, datefmt="%H:%M:%S"))
        handler._gatortron = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())


def get_logger(name: str) -> logging.Logger:
    """Logger for a module; use `__name__`."""
    return logging.getLogger(name)


def location(path: object, line: int | None = None) -> str:
    """`file:line` (1-based line or record number), the only way errors point into data."""
    return f"{path}:{line}" if line is not None else str(path)


class InputError(ValueError):
    """Bad input the user must fix. The message names file and line/record, never the text."""


@dataclass
class SkipReport:
    """Counts of skipped input records by reason, with the first few locations of each.

    Args:
        strict: raise `InputError` on the first skip instead of counting it.
        examples_per_reason: how many `file:line` locations to keep per reason.
    """

    strict: bool = False
    examples_per_reason: int = 5
    counts: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    filtered_reasons: set[str] = field(default_factory=set)

    def skip(self, reason: str, path: object, line: int | None = None, by_design: bool = False) -> None:
        """Count one skipped record.

        Args:
            by_design: the record is fine but not wanted (a redirect page, an article without an
                abstract); counted like the rest, never an error under strict.
        """
        where = location(path, line)
        if by_design:
            self.filtered_reasons.add(reason)
        elif self.strict:
            raise InputError(f"{where}: {reason} (strict=true makes this an error)")
        self.counts[reason] += 1
        kept = self.examples.setdefault(reason, [])
        if len(kept) < self.examples_per_reason:
            kept.append(where)

    def merge(self, other: SkipReport) -> None:
        self.counts.update(other.counts)
        self.filtered_reasons |= other.filtered_reasons
        for reason, places in other.examples.items():
            kept = self.examples.setdefault(reason, [])
            kept.extend(places[: max(0, self.examples_per_reason - len(kept))])

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict:
        return {"total": self.total, "by_reason": dict(self.counts), "examples": self.examples,
                "by_design": sorted(self.filtered_reasons)}

    def log_summary(self, logger: logging.Logger) -> None:
        if not self.total:
            return
        for reason, count in sorted(self.counts.items()):
            wanted = reason in self.filtered_reasons  # by design: not a problem with the input
            logger.log(logging.INFO if wanted else logging.WARNING, "%s %d record(s): %s (first at %s)",
                       "filtered" if wanted else "skipped", count, reason,
                       ", ".join(self.examples.get(reason, [])[:2 if wanted else None]))
