"""Conversion of bacpypes3 values into the engine's plain :class:`bacnet.types.Value`."""

from __future__ import annotations

from bacpypes3.primitivedata import Enumerated, Null, Real

from bacnet.types import Value

#: Longest text we keep for a non-numeric value (matches the reading.text column).
MAX_TEXT = 255


def real_number(number: float) -> float:
    """A BACnet REAL (or DOUBLE) as stored: 7 significant digits (also used by :mod:`bacnet.fastrpm`)."""
    # A BACnet REAL is single precision: 7 significant digits are all it holds, and keeping
    # them avoids storing 12.097999572753906 for a controller's 12.098.
    return float(f"{number:.7g}")


def to_value(raw: object) -> Value:
    """Numbers stay numbers; enumerations keep their number and their state name; the rest is text."""
    if isinstance(raw, bool):
        return Value(1.0 if raw else 0.0, "true" if raw else "false")
    if isinstance(raw, Enumerated):
        return Value(float(int(raw)), str(raw)[:MAX_TEXT])
    if isinstance(raw, Real):  # Double included: it derives from Real
        return Value(real_number(float(raw)))
    if isinstance(raw, (int, float)):
        return Value(float(raw))
    if isinstance(raw, Null) or raw is None:
        return Value(None, "null")
    return Value(None, str(raw)[:MAX_TEXT])


def to_text(raw: object) -> str:
    """A property value as display text (names, descriptions, units, revisions)."""
    if raw is None:
        return ""
    return str(raw)
