"""What we refuse from the network is logged without flooding the log."""

from __future__ import annotations

import logging

from bacnet.logfilter import MAX_SOURCES, ThrottledLog


def test_throttled_log_reports_each_source_once_per_interval(caplog):
    caplog.set_level(logging.WARNING, logger="test.throttle")
    now = [0.0]
    drops = ThrottledLog(logging.getLogger("test.throttle"), interval=60, clock=lambda: now[0])
    for _ in range(3):
        drops.record("a", "dropped from %s", "a")
    drops.record("b", "dropped from %s", "b")
    now[0] = 61.0
    drops.record("a", "dropped from %s", "a")
    assert drops.total == 5
    assert [r.getMessage() for r in caplog.records] == [
        "dropped from a", "dropped from b", "dropped from a (and 2 more from a since the last report)"]


def test_throttled_log_memory_is_bounded():
    log = ThrottledLog(logging.getLogger("test.throttle"), clock=lambda: 0.0)
    for number in range(MAX_SOURCES * 3):
        log.record(f"10.0.{number // 256}.{number % 256}", "dropped")
    assert log.total == MAX_SOURCES * 3 and len(log._sources) <= MAX_SOURCES
