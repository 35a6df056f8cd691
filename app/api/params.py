"""Query-string and body parsing for the API: strict, and every mistake is a 400 naming the parameter.

Unknown query parameters are refused (400), not ignored: a typo such as ``?site=3`` for
``?site_id=3`` would otherwise silently return everything. A parameter given twice is refused too.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from datetime import datetime, timezone
from typing import Any

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

from app.api.errors import ApiError

#: Largest database id: ids are 32-bit INTEGER columns on PostgreSQL. A larger id in a path is a
#: 404 and in a filter a 400, never a database overflow error.
MAX_ID = 2**31 - 1
#: Largest JSON body the API reads (bytes). A job request is a few hundred bytes; the app-wide
#: limit (16 MiB, for admin uploads) would let one request hold a worker thread parsing junk.
MAX_BODY_BYTES = 64 * 1024
#: Spellings of booleans accepted in query strings.
TRUE_WORDS = frozenset({"true", "1", "yes"})
FALSE_WORDS = frozenset({"false", "0", "no"})


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def query_args(allowed: Iterable[str]) -> dict[str, str]:
    """The query parameters as a dict; 400 on one not in ``allowed`` or given more than once."""
    allowed = tuple(allowed)
    values: dict[str, str] = {}
    for name, value in request.args.items(multi=True):
        if name not in allowed:
            known = ", ".join(allowed) or "none"
            raise bad_request(f"unknown query parameter {name!r}; this endpoint accepts: {known}")
        if name in values:
            raise bad_request(f"query parameter {name!r} is given more than once")
        values[name] = value
    return values


def int_param(args: dict[str, str], name: str, *, minimum: int = 1, maximum: int | None = MAX_ID) -> int | None:
    """An integer parameter within bounds, or None when absent."""
    text = args.get(name)
    if text is None:
        return None
    text = text.strip()
    # isdecimal() rather than int() alone: int() also takes "1_000", " +5" and other surprises.
    negative = text.startswith("-")
    digits = text[1:] if negative else text
    if not digits.isascii() or not digits.isdecimal():
        raise bad_request(f"{name} must be an integer, got {_show(text)}")
    # Beyond 20 digits the exact value no longer matters (it is out of every bound), and int()
    # of thousands of digits is slow or refused.
    value = int(digits) if len(digits) <= 20 else 10**20
    value = -value if negative else value
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and at most {maximum}" if maximum is not None else ""
        raise bad_request(f"{name} must be at least {minimum}{upper}, got {_show(text)}")
    return value


def bool_param(args: dict[str, str], name: str) -> bool | None:
    text = args.get(name)
    if text is None:
        return None
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise bad_request(f"{name} must be true or false, got {_show(text)}")


def choice_param(args: dict[str, str], name: str, choices: Collection[str]) -> str | None:
    text = args.get(name)
    if text is None:
        return None
    if text not in choices:
        raise bad_request(f"{name} must be one of {', '.join(choices)}; got {_show(text)}")
    return text


def time_param(args: dict[str, str], name: str) -> datetime | None:
    """An ISO 8601 timestamp as aware UTC; without an offset it is taken as UTC."""
    text = args.get(name)
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
        value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        hint = " (a '+' in a query string means a space: write it %2B)" if " " in text.strip() else ""
        raise bad_request(f"{name} must be an ISO 8601 timestamp such as 2024-05-01T12:00:00Z, "
                          f"got {_show(text)}{hint}") from None
    return value


def json_body() -> dict[str, Any]:
    """The request body as a JSON object: 415 if not sent as JSON, 413 if too big, 400 if malformed."""
    if request.mimetype != "application/json" and not request.mimetype.endswith("+json"):
        raise ApiError(415, "send the body as JSON with the header 'Content-Type: application/json'")
    request.max_content_length = MAX_BODY_BYTES
    try:
        raw = request.get_data(cache=False)
    except RequestEntityTooLarge:
        raise ApiError(413, f"the body is larger than {MAX_BODY_BYTES} bytes") from None
    try:
        body = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as error:
        # ValueError covers bad JSON and bad UTF-8; RecursionError, absurdly deep nesting.
        detail = str(error) if isinstance(error, json.JSONDecodeError) else "not valid JSON text"
        raise bad_request(f"malformed JSON body: {detail}") from None
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object")
    return body


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _show(text: str) -> str:
    """A parameter value, quoted and cut short, for an error message."""
    return repr(text if len(text) <= 60 else text[:57] + "...")
