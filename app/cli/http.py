"""Serving the WSGI app with waitress (pure Python: the same server on Linux and Windows)."""

from __future__ import annotations

import errno
import logging
import signal
from collections.abc import Callable

from flask import Flask
from waitress.server import create_server

from app.cli.errors import StartupError

log = logging.getLogger(__name__)


def _raise_interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def serve_until_stopped(app: Flask, host: str, port: int, *, threads: int = 8,
                        on_ready: Callable[[], None] | None = None) -> None:
    """Serve in the main thread until Ctrl-C or SIGTERM. ``on_ready`` runs once the port listens."""
    try:
        server = create_server(app, host=host, port=port, threads=threads, ident="bacnet-pipeline")
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise StartupError(f"port {port} on {host} is already in use (is another instance running?)") from None
        raise StartupError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    # SIGTERM (service stop, docker stop) ends the loop like Ctrl-C does. SIGINT is set explicitly
    # too: a process started in the background by a non-interactive shell inherits it ignored.
    previous = {sig: signal.signal(sig, _raise_interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
    log.info("serving on http://%s:%s", host, port)
    if on_ready is not None:
        on_ready()
    try:
        server.run()
    except KeyboardInterrupt:
        log.info("stopping")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.close()
