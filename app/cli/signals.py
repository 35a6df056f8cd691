"""Waiting for Ctrl-C or a service stop (SIGTERM) in the main thread."""

from __future__ import annotations

import signal
import threading


def wait_for_stop() -> str:
    """Block until SIGINT or SIGTERM; return the signal's name."""
    stopped = threading.Event()
    received: list[str] = []

    def handler(signum: int, _frame: object) -> None:
        received.append(signal.Signals(signum).name)
        stopped.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stopped.wait(1.0):
            pass
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
    return received[0]
