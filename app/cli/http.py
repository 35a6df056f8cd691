"""Serving the WSGI app with waitress (pure Python: the same server on Linux and Windows).

Waitress reads a whole request body (into memory, then a temporary file) before it calls the app,
by default up to 1 GiB. So its limit is set to the app's own (MAX_CONTENT_LENGTH: the web's 16 MiB,
the gateway's 64 KiB enqueue limit): a larger Content-Length is answered 413 and the connection
closed as soon as the headers are read, before authentication and before any of the body is
buffered. A chunked body is cut off at the same size.
"""

from __future__ import annotations

import errno
import logging
import signal
from collections.abc import Callable

from flask import Flask
from waitress.server import BaseWSGIServer, MultiSocketServer, create_server

from app.cli.errors import StartupError

log = logging.getLogger(__name__)

#: Body limit for an app that sets no MAX_CONTENT_LENGTH (every app of ours sets one).
DEFAULT_MAX_BODY = 16 * 1024 * 1024


def _raise_interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def max_body(app: Flask) -> int:
    """The largest request body ``app`` accepts (bytes): its MAX_CONTENT_LENGTH."""
    return int(app.config.get("MAX_CONTENT_LENGTH") or DEFAULT_MAX_BODY)


def make_server(app: Flask, host: str, port: int, *, threads: int = 8) -> BaseWSGIServer | MultiSocketServer:
    """A waitress server for ``app`` that refuses bodies larger than the app accepts, unread."""
    # Waitress refuses a body of max_request_body_size bytes or more; the app accepts up to
    # max_body(app) inclusive, hence the + 1.
    return create_server(app, host=host, port=port, threads=threads, ident="bacnet-pipeline",
                         max_request_body_size=max_body(app) + 1)


def serve_until_stopped(app: Flask, host: str, port: int, *, threads: int = 8,
                        on_ready: Callable[[], None] | None = None) -> None:
    """Serve in the main thread until Ctrl-C or SIGTERM. ``on_ready`` runs once the port listens."""
    try:
        server = make_server(app, host, port, threads=threads)
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
