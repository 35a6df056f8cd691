"""The http transport: POST the job to a native gateway (Windows, where Docker cannot reach the
building network), signed with the shared secret."""

from __future__ import annotations

import errno
import json
import logging
import time

import dramatiq
import requests

from app.transport.base import EnqueueError
from workers.signing import signed_headers

log = logging.getLogger(__name__)

#: Seconds to wait for the TCP connection / for the answer. A "Collect now" click waits on this.
CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 5.0
#: Attempts on connection errors (safe: the gateway accepts each message id once).
ATTEMPTS = 3
#: First pause between attempts, doubled each time (seconds).
BACKOFF = 0.2


def _chain(error: BaseException):
    """The error and what it wraps (requests -> urllib3 -> socket error), without loops."""
    seen: set[int] = set()
    stack: list[BaseException] = [error]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for inner in (getattr(current, "reason", None), current.__cause__, current.__context__,
                      *(arg for arg in current.args if isinstance(arg, BaseException))):
            if isinstance(inner, BaseException):
                stack.append(inner)


def _reason(error: requests.RequestException) -> str:
    """The root cause of a requests error in a few words ('connection refused', 'timed out')."""
    if isinstance(error, requests.Timeout):
        return "no answer (timed out)"
    for cause in _chain(error):
        code = getattr(cause, "errno", None)
        if code == errno.ECONNREFUSED:
            return "connection refused"
        if code in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return "no route to host"
        if "Name or service not known" in str(cause) or "getaddrinfo failed" in str(cause):
            return "host name not found"
    return type(error).__name__


def _error_message(response: requests.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:200]


class HttpTransport:
    kind = "http"

    def __init__(self, url: str, secret: str, *, attempts: int = ATTEMPTS) -> None:
        if not secret:
            raise EnqueueError("the http transport needs GATEWAY_SECRET (the same one the gateway uses)")
        self.url = url.rstrip("/")
        self._secret = secret
        self.attempts = attempts
        self.session = requests.Session()

    def __repr__(self) -> str:  # never show the secret
        return f"HttpTransport({self.url})"

    def send(self, message: dramatiq.Message, *, job_id: int | None = None) -> None:
        body = json.dumps({"message_id": message.message_id, "actor": message.actor_name,
                           "kwargs": message.kwargs, "job_id": job_id}, separators=(",", ":")).encode()
        endpoint = f"{self.url}/enqueue"
        last = ""
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(BACKOFF * 2 ** (attempt - 1))
            try:
                # Signed per attempt: a retry a few seconds later carries a fresh timestamp.
                response = self.session.post(endpoint, data=body, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
                                             headers={"Content-Type": "application/json",
                                                      **signed_headers(self._secret, body)})
            except requests.RequestException as error:
                last = _reason(error)
                log.info("gateway %s attempt %d failed: %s", self.url, attempt + 1, last)
                continue
            if response.status_code == 202:
                return
            if response.status_code == 409:
                # An earlier attempt got through but its answer was lost: the job is there.
                log.info("gateway %s already had message %s", self.url, message.message_id)
                return
            if response.status_code == 401:
                raise EnqueueError(f"gateway at {self.url} rejected the request signature "
                                   f"({_error_message(response)}): check that GATEWAY_SECRET is the same on "
                                   "both sides and that both clocks are right")
            if response.status_code >= 500:
                last = f"server error {response.status_code}: {_error_message(response)}"
                continue
            raise EnqueueError(f"gateway at {self.url} refused the job ({response.status_code}): "
                               f"{_error_message(response)}")
        raise EnqueueError(f"gateway at {self.url} unreachable: {last}")
