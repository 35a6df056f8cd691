"""The gateway protocol's request signature, shared by the http transport and the gateway.

``X-Timestamp: <unix seconds>`` and ``X-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." +
raw body)>``. The timestamp bounds replays in time (300 s either way); the message id bounds them
in number (the gateway accepts each id once).
"""

from __future__ import annotations

import hashlib
import hmac
import time

#: Largest accepted difference between the sender's clock and ours, either direction (seconds).
MAX_SKEW_SECONDS = 300
#: The signature header's scheme prefix.
SCHEME = "sha256="


class SignatureError(Exception):
    """The request is not signed by someone who knows the secret, or not recently enough."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Signature value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return SCHEME + digest


def signed_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    timestamp = str(int(now if now is not None else time.time()))
    return {"X-Timestamp": timestamp, "X-Signature": sign(secret, timestamp, body)}


def verify(secret: str, timestamp: str | None, signature: str | None, body: bytes,
           now: float | None = None) -> None:
    """Raise SignatureError (with a reason safe to return to the caller) unless the request is good."""
    if not timestamp or not signature:
        raise SignatureError("missing X-Timestamp or X-Signature header")
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise SignatureError("X-Timestamp must be unix seconds")
    skew = abs((now if now is not None else time.time()) - int(timestamp))
    if skew > MAX_SKEW_SECONDS:
        raise SignatureError(f"timestamp is {int(skew)} s away from the gateway's clock (limit {MAX_SKEW_SECONDS} s)")
    if not hmac.compare_digest(sign(secret, timestamp, body), signature.strip()):
        raise SignatureError("bad signature")
