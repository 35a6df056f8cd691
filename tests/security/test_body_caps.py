"""Request bodies are capped by the server itself (app/cli/http.py): waitress answers 413 and closes
as soon as it reads a Content-Length over the app's limit — before authentication, without reading
(let alone buffering) any of the body. Raw sockets against the real server, on loopback."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import Flask

from app.cli.http import make_server, max_body
from workers.broker import make_broker
from workers.gateway.http import MAX_BODY, GatewayState, create_gateway_app
from workers.gateway.ledger import GatewayIdentity

GIB = 1024**3
#: A refusal that does not wait for the body arrives at once; this bounds "at once" generously.
QUICK = 3.0


@contextmanager
def serving(app: Flask) -> Iterator[int]:
    """``app`` behind the production server (make_server) on a free loopback port; yields the port."""
    server = make_server(app, "127.0.0.1", 0, threads=2)
    thread = threading.Thread(target=server.run, name="waitress-under-test", daemon=True)
    thread.start()
    try:
        yield server.effective_port
    finally:
        server.close()
        thread.join(timeout=5)
    assert not thread.is_alive()


def exchange(port: int, head: bytes, body: bytes = b"") -> tuple[bytes, float]:
    """Send ``head`` (and ``body``), read until the server closes; the answer and how long it took."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=QUICK) as connection:
        connection.sendall(head + body)
        answer = b""
        while chunk := connection.recv(65536):  # b"": the server closed the connection
            answer += chunk
    return answer, time.monotonic() - started


def request_head(path: str, content_length: int, *extra: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
             f"Content-Length: {content_length}", *extra, "", ""]
    return "\r\n".join(lines).encode("latin-1")


@pytest.fixture
def gateway_app(app) -> Flask:
    broker = make_broker("")
    state = GatewayState(core=app, secret="s" * 40, identity=GatewayIdentity("test-host:5001"), broker=broker,
                         bind="127.0.0.1/8:47809", version="test", queue_depth=lambda: 0)
    return create_gateway_app(state)


def test_server_limits_follow_the_apps(app, gateway_app):
    assert max_body(gateway_app) == MAX_BODY == 64 * 1024
    assert max_body(app) == app.config["MAX_CONTENT_LENGTH"] == 16 * 1024 * 1024


@pytest.mark.parametrize("path", ["/enqueue", "/status"])
def test_gateway_refuses_a_gigabyte_before_reading_it(gateway_app, path):
    with serving(gateway_app) as port:
        # Only the headers are ever sent: an answer means the server did not wait for the body.
        answer, took = exchange(port, request_head(path, GIB, "X-Timestamp: 1", "X-Signature: sha256=0"))
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"Connection: close" in answer
    assert took < QUICK


def test_web_refuses_a_gigabyte_before_reading_it(app):
    with serving(app) as port:
        for path in ("/api/v1/jobs", "/login", "/admin/point/import/"):
            answer, took = exchange(port, request_head(path, GIB, "Authorization: Bearer nothing"))
            assert answer.startswith(b"HTTP/1.1 413 "), (path, answer[:200])
            assert took < QUICK
        # Just over the app's own limit is refused by the server too.
        answer, _ = exchange(port, request_head("/api/v1/jobs", max_body(app) + 1))
        assert answer.startswith(b"HTTP/1.1 413 ")


def test_gateway_limit_is_exact(gateway_app):
    """A body of exactly the enqueue limit reaches the app (and is refused there for its missing
    signature); one byte more is the server's 413."""
    with serving(gateway_app) as port:
        answer, _ = exchange(port, request_head("/enqueue", MAX_BODY, "Connection: close"), b" " * MAX_BODY)
        assert answer.startswith(b"HTTP/1.1 401 ") and b'"unauthorized"' in answer
        # (Headers only: the server would close with the body unread, which resets the connection.)
        answer, _ = exchange(port, request_head("/enqueue", MAX_BODY + 1))
        assert answer.startswith(b"HTTP/1.1 413 ")


def test_gateway_cuts_a_long_chunked_body(gateway_app):
    head = ("POST /enqueue HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n").encode()
    chunk = b"%x\r\n%s\r\n" % (16384, b"x" * 16384)
    with serving(gateway_app) as port:
        # Four 16 KiB chunks and no end: just over 64 KiB with the chunk framing, so the server
        # refuses while reading the last of them (and closes with nothing unread: no reset).
        answer, took = exchange(port, head, chunk * 4)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert took < QUICK


def test_gateway_answers_non_ascii_header_bytes_with_401(gateway_app):
    """On the wire, not through the test client: UTF-8 bytes in the signature headers."""
    with serving(gateway_app) as port:
        for extra in (("X-Timestamp: " + "١٧٠٠٠٠٠٠٠٠", "X-Signature: sha256=" + "0" * 64),
                      (f"X-Timestamp: {int(time.time())}", "X-Signature: sha256=" + "é" * 64)):
            head = ("\r\n".join(["POST /enqueue HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
                                 "Content-Length: 2", "Connection: close", *extra, "", ""])).encode("utf-8")
            answer, _ = exchange(port, head, b"{}")
            assert answer.startswith(b"HTTP/1.1 401 "), answer[:300]
            assert b'"unauthorized"' in answer
