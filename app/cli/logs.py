"""Logging for the long-running processes: one format, to stderr."""

from __future__ import annotations

import logging

from bacnet.logfilter import install as install_repeat_filter

#: Third-party loggers that are chatty at INFO.
QUIET = ("bacpypes3", "BAC0", "waitress.queue", "apscheduler.executors.default", "dramatiq.worker.WorkerThread")


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=getattr(logging, level, logging.INFO),
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    # Garbage on the BACnet port must not flood the log: first of each kind, then a count.
    install_repeat_filter()
