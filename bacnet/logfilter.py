"""Keeping a hostile or broken network from flooding the logs.

Every undecodable datagram makes bacpypes3 log an ERROR with a traceback. A misconfigured device
or a scanner can send thousands; the first one is useful, the rest bury everything else. This
filter lets the first record of each kind through as one line, drops repeats for a while, and
says how many it dropped when the next one is let through.

Our own code logs what it refuses from the network (forged Forwarded-NPDUs, writes to the
collector's objects) through a :class:`ThrottledLog`: the same idea, per peer, with a count.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

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


#: Seconds between two lines a ThrottledLog writes about one source.
REPORT_INTERVAL = 60.0
#: Sources remembered for rate limiting; beyond it the table starts over (bounded memory under
#: a flood from many addresses; the worst case is one extra warning per source).
MAX_SOURCES = 1024


class ThrottledLog:
    """Counts refused frames or requests and logs them to ``logger`` without flooding: the first
    from a source at WARNING, then one line per ``interval`` per source with how many came meanwhile."""

    def __init__(self, logger: logging.Logger, interval: float = REPORT_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger
        self.interval = interval
        self.clock = clock
        #: How many were recorded since this log was made.
        self.total = 0
        self._sources: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def record(self, source: str, message: str, *args: object) -> None:
        """Count one from ``source``; log ``message % args`` unless that source was logged recently."""
        now = self.clock()
        with self._lock:
            self.total += 1
            logged_at, suppressed = self._sources.get(source, (None, 0))
            if logged_at is not None and now - logged_at < self.interval:
                self._sources[source] = (logged_at, suppressed + 1)
                return
            if len(self._sources) >= MAX_SOURCES:
                self._sources.clear()
            self._sources[source] = (now, 0)
        if suppressed:
            self.logger.warning(message + " (and %d more from %s since the last report)", *args, suppressed, source)
        else:
            self.logger.warning(message, *args)
