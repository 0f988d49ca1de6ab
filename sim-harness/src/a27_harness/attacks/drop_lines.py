"""
The honest layers log a line per dropped message (rate-limited per cause, ``a27_ledger.DropLogLimiter``); under an
attack that is hundreds of lines on stderr that the report already counts by cause. ``a27 attack`` shows a count of
them instead, and every line with ``--log-level debug``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from ..node.command import LOG_LEVELS

DROP_LINE_STARTS = ("dropped ",)
"""How a per-message drop line starts (``A27Community.record_drop``)."""
DROP_SUMMARY_PART = "more dropped messages"
"""What a drop summary line holds (``A27Community.log_drop_summaries``)."""


class DropLineCounter(logging.Filter):
    """A logging filter that counts the layers' drop lines and keeps them off the handler it filters."""

    def __init__(self) -> None:
        """No line counted yet."""
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        """Count and refuse a drop line; pass every other record."""
        message = str(record.msg)
        if message.startswith(DROP_LINE_STARTS) or DROP_SUMMARY_PART in message:
            self.count += 1
            return False
        return True


@contextmanager
def stderr_log(level: str = "warning") -> Iterator[DropLineCounter]:
    """
    Log records of ``level`` and above to stderr as bare messages while the block runs; below debug level, drop
    lines are only counted (the yielded counter's ``count``). The root logger is restored afterwards.

    :raises ValueError: for a level not in ``LOG_LEVELS``.
    """
    if level not in LOG_LEVELS:
        msg = f"log level must be one of {', '.join(LOG_LEVELS)}, got {level!r}"
        raise ValueError(msg)
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    counter = DropLineCounter()
    if level != "debug":
        handler.addFilter(counter)
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper()))
    try:
        yield counter
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
