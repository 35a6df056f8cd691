"""Keeping a hostile or broken network from flooding the logs.

Every undecodable datagram makes bacpypes3 log an ERROR with a traceback. A misconfigured device
or a scanner can send thousands; the first one is useful, the rest bury everything else. This
filter lets the first record of each kind through as one line, drops repeats for a while, and
says how many it dropped when the next one is let through.
"""

from __future__ import annotations

import logging
import threading
import time

#: Seconds during which repeats of the same message are dropped.
REPEAT_WINDOW = 600.0
#: Loggers whose records are filtered (bacpypes3's own; ours log deliberately).
PREFIXES = ("bacpypes3",)


class RepeatFilter(logging.Filter):
    def __init__(self, window: float = REPEAT_WINDOW) -> None:
        super().__init__()
        self.window = window
        self._seen: dict[tuple, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(PREFIXES):
            return True
        args = record.args if isinstance(record.args, tuple) else ()
        key = (record.name, str(record.msg), *(f"{type(arg).__name__}:{arg}"[:200] for arg in args))
        now = time.monotonic()
        with self._lock:
            first_seen, dropped = self._seen.get(key, (0.0, 0))
            if now - first_seen < self.window:
                self._seen[key] = (first_seen, dropped + 1)
                return False
            self._seen[key] = (now, 0)
            if len(self._seen) > 10_000:  # bounded memory under a flood of distinct garbage
                self._seen.clear()
        # One line: the traceback of a decode error in the stack says nothing actionable.
        record.exc_info = None
        record.exc_text = None
        if dropped:
            record.msg = f"{record.msg} ({dropped} similar message(s) suppressed)"
        return True


def install(handler: logging.Handler | None = None) -> RepeatFilter:
    """Add the filter to ``handler`` (default: every handler of the root logger)."""
    repeat = RepeatFilter()
    for target in [handler] if handler is not None else logging.getLogger().handlers:
        target.addFilter(repeat)
    return repeat
