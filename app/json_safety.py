"""JSON in and out without surprises: never NaN or Infinity out, never unbounded nesting in.

Out: Python's :func:`json.dumps` writes ``NaN``, ``Infinity`` and ``-Infinity`` for non-finite
floats. None of them is JSON (RFC 8259): browsers' ``JSON.parse`` fails on them, so one stored
Infinity made a whole trend answer unreadable and the chart disappeared. Non-finite floats become
``null`` here, in one place: :class:`FiniteJSONProvider` is the JSON provider of every Flask app
of ours (``jsonify``, ``tojson`` in templates), and :func:`dumps_finite` is for the explicit
``json.dumps`` call sites (CLI output, the database's JSON columns). The engine reports
non-finite REALs as "no number" plus a text (``NaN``, ``Infinity``), so new rows never hold one;
rows stored before that, and values computed from them, still may.

In: a JSON text of a few kilobytes can nest ``[[[[...`` deeper than Python's recursion limit,
which the parser answers with RecursionError (a 500 where it is not caught). :func:`check_depth`
bounds the nesting before anything is parsed; no request of ours needs more than a few levels.

This module belongs to the shared domain: the web and the gateway both use it, and it imports
nothing of either.
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any

from flask.json.provider import DefaultJSONProvider

#: Deepest nesting of arrays and objects accepted in a request body. A gateway message is three
#: levels deep (body -> kwargs -> a list of ids); 32 leaves ample room for any honest sender.
MAX_JSON_DEPTH = 32

# A JSON string literal (escapes included): brackets inside strings do not nest anything.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
# Every byte that is not a bracket, deleted in one C-level pass before the depth is counted.
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_DEPTH_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


class TooDeep(ValueError):
    """The JSON text nests arrays/objects deeper than allowed (a ValueError: "not acceptable JSON")."""


def finite(value: Any) -> Any:
    """``value`` with every non-finite float (in dicts, lists and tuples, at any depth) as None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value


def dumps_finite(value: Any, **kwargs: Any) -> str:
    """:func:`json.dumps` that writes non-finite floats as ``null`` (and never ``NaN``/``Infinity``)."""
    try:
        # The common case costs one strict pass; only a payload that holds a non-finite float is
        # walked and copied.
        return json.dumps(value, allow_nan=False, **kwargs)
    except ValueError:
        default = kwargs.pop("default", None)
        if default is not None:
            kwargs["default"] = lambda obj: finite(default(obj))
        return json.dumps(finite(value), allow_nan=False, **kwargs)


class FiniteJSONProvider(DefaultJSONProvider):
    """Flask's default JSON provider, except that non-finite floats are written as ``null``."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("default", self.default)
        kwargs.setdefault("ensure_ascii", self.ensure_ascii)
        kwargs.setdefault("sort_keys", self.sort_keys)
        kwargs.pop("allow_nan", None)
        return dumps_finite(obj, **kwargs)


def check_depth(raw: bytes | str, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise TooDeep when the JSON text ``raw`` nests arrays/objects deeper than ``limit``.

    Works on the raw text, before parsing: strings are blanked out (their brackets are text), the
    brackets left are counted as +1/-1 and the running sum is the depth. All of it runs in C
    (regex, bytes.translate, itertools.accumulate), so even a megabyte of brackets costs
    milliseconds. Malformed text is not judged here: the parser refuses it afterwards.
    """
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    brackets = _STRING.sub(b'""', data).translate(None, _NOT_BRACKETS)
    if len(brackets) <= limit:
        return
    deepest = max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)))
    if deepest > limit:
        raise TooDeep(f"JSON nested deeper than {limit} levels")
