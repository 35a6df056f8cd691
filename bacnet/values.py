"""Conversion of bacpypes3 values into the engine's plain :class:`bacnet.types.Value` and text.

This is where a decoded number or string from the network becomes ours, one value at a time:

- numbers become floats; a number no float64 holds (an 1100-bit UNSIGNED) raises
  :class:`ValueRangeError` ("value out of range"), which callers report for that one point or
  property, never for the device;
- a non-finite REAL or DOUBLE is ``Value(None, "NaN" | "Infinity" | "-Infinity")``: the float
  columns never hold NaN or infinity (they break JSON and charts), and the value stays
  distinguishable from "no value", which is ``Value(None, "null")`` (BACnet Null);
- every text is cleaned and capped by :func:`bacnet.text.clean_text` to the column it lands in
  (:mod:`bacnet.limits`).
"""

from __future__ import annotations

import math

from bacpypes3.primitivedata import Enumerated, Null, Real

from bacnet.errors import BACnetError
from bacnet.limits import TEXT_MAX
from bacnet.text import clean_text
from bacnet.types import Value

#: The text of a value that is not a number in the float sense (IEEE 754 NaN).
NAN_TEXT = "NaN"
#: The texts of the infinities, spelled as JavaScript and JSON5 spell them.
POSITIVE_INFINITY_TEXT, NEGATIVE_INFINITY_TEXT = "Infinity", "-Infinity"
#: The reason given for a number that cannot become a float64.
OUT_OF_RANGE = "value out of range"


class ValueRangeError(BACnetError):
    """A value arrived but cannot be represented (e.g. an integer beyond float64): a per-point error."""

    def __init__(self, message: str = OUT_OF_RANGE) -> None:
        super().__init__(message)


def real_number(number: float) -> float:
    """A finite BACnet REAL (or DOUBLE) as stored: 7 significant digits (also used by :mod:`bacnet.fastrpm`)."""
    # A BACnet REAL is single precision: 7 significant digits are all it holds, and keeping
    # them avoids storing 12.097999572753906 for a controller's 12.098.
    return float(f"{number:.7g}")


def real_value(number: float) -> Value:
    """A REAL or DOUBLE as a Value: rounded if finite, else ``Value(None, "NaN" | "Infinity" | "-Infinity")``."""
    if math.isfinite(number):
        return Value(real_number(number))
    if math.isnan(number):
        return Value(None, NAN_TEXT)
    return Value(None, POSITIVE_INFINITY_TEXT if number > 0 else NEGATIVE_INFINITY_TEXT)


def integer_number(number: int) -> float:
    """An UNSIGNED / INTEGER / enumeration number as a float; ValueRangeError beyond float64."""
    try:
        return float(number)
    except (OverflowError, ValueError, TypeError):
        raise ValueRangeError() from None


def to_value(raw: object) -> Value:
    """Numbers stay numbers; enumerations keep their number and their state name; the rest is text.

    Raises :class:`ValueRangeError` for a number that cannot become a float64.
    """
    if isinstance(raw, bool):
        return Value(1.0 if raw else 0.0, "true" if raw else "false")
    if isinstance(raw, Enumerated):
        return Value(integer_number(int(raw)), clean_text(raw, TEXT_MAX))
    if isinstance(raw, Real):  # Double included: it derives from Real
        return real_value(float(raw))
    if isinstance(raw, float):
        return real_value(raw)
    if isinstance(raw, int):
        return Value(integer_number(raw))
    if isinstance(raw, Null) or raw is None:
        return Value(None, "null")
    return Value(None, clean_text(raw, TEXT_MAX))


def to_text(raw: object, limit: int) -> str:
    """A property value as display text (names, descriptions, units, revisions), cleaned and
    capped at ``limit`` characters (the column it lands in, see :mod:`bacnet.limits`)."""
    return clean_text(raw, limit)


def to_small_int(raw: object, low: int, high: int) -> int:
    """An integer property (e.g. protocolRevision) within ``low..high``; ValueRangeError otherwise."""
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ValueRangeError(f"not an integer ({type(raw).__name__})")
    number = int(raw)
    if not low <= number <= high:
        raise ValueRangeError()
    return number
