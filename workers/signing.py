"""The gateway protocol's request signature, shared by the http transport and the gateway.

``X-Timestamp: <unix seconds>`` and ``X-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." +
raw body)>``. The timestamp bounds replays in time (300 s either way); the message id bounds them
in number (the gateway accepts each id once).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

#: Largest accepted difference between the sender's clock and ours, either direction (seconds).
MAX_SKEW_SECONDS = 300
#: The signature header's scheme prefix.
SCHEME = "sha256="
#: Longest X-Timestamp accepted (unix seconds have 10 digits until the year 2286).
MAX_TIMESTAMP_DIGITS = 12

# The only shapes the headers may have. ASCII only: str.isdigit() also accepts digits of other
# scripts (int() then parses "١٢٣" but fails on "²"), and hmac.compare_digest() raises TypeError on
# non-ASCII text — both were a 500 before authentication.
_TIMESTAMP = re.compile(rf"[0-9]{{1,{MAX_TIMESTAMP_DIGITS}}}", re.ASCII)
_SIGNATURE = re.compile(re.escape(SCHEME) + r"[0-9a-f]{64}", re.ASCII)


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
    if not _TIMESTAMP.fullmatch(timestamp):
        raise SignatureError("X-Timestamp must be unix seconds")
    skew = abs((now if now is not None else time.time()) - int(timestamp))
    if skew > MAX_SKEW_SECONDS:
        raise SignatureError(f"timestamp is {int(skew)} s away from the gateway's clock (limit {MAX_SKEW_SECONDS} s)")
    signature = signature.strip()
    if not _SIGNATURE.fullmatch(signature):
        raise SignatureError(f"X-Signature must be {SCHEME}<64 lowercase hex digits>")
    # Compared as bytes: both sides are ASCII by now, and bytes never make compare_digest raise.
    if not hmac.compare_digest(sign(secret, timestamp, body).encode(), signature.encode()):
        raise SignatureError("bad signature")
