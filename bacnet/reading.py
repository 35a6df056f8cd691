"""Reading present values of many points of one device."""

from __future__ import annotations

import time

from bacpypes3.app import Application

from bacnet.address import to_bacpypes
from bacnet.fastread import read_multiple_fast
from bacnet.limits import ERROR_MAX, MAX_APDU
from bacnet.properties import DeviceProfile, DeviceReader, PropertyError
from bacnet.text import clean_text
from bacnet.types import DeviceTarget, ObjectRef, ReadOutcome, Value
from bacnet.values import ValueRangeError, to_value

#: Bytes one present value takes in a ReadPropertyMultiple answer: object id (5), opening and
#: closing tags (4), property id (2), a REAL (5) = 16, plus slack for wider values.
VALUE_BYTES = 18
#: Bytes of an answer that are not values (APDU header, NPDU/BVLL slack).
ANSWER_OVERHEAD = 16
#: Most present values per request, segmenting devices included. A segmenting device could
#: return far more in one segmented answer, but segments are acknowledged in windows and our
#: measurements (docs/performance.md) found answers that fit one APDU, several in flight,
#: faster on both ends; 1476-byte devices fit 81.
MAX_VALUE_BATCH = 81


def value_batch(target: DeviceTarget) -> int:
    """Present values per ReadPropertyMultiple for ``target``: what fits one unsegmented answer."""
    return max(1, min(MAX_VALUE_BATCH, (min(target.max_apdu, MAX_APDU) - ANSWER_OVERHEAD) // VALUE_BYTES))


def present_value(raw: object) -> Value | PropertyError:
    """One read result as a point's value or its error, never an exception.

    The fast decoder's results are converted already; bacpypes3's (its fallback, and devices
    read property by property) are converted here, value by value: a number no float holds is
    this point's error ("value out of range"), not the device's.
    """
    if isinstance(raw, Value):
        return raw
    if raw is None:
        return PropertyError("no value")
    if isinstance(raw, PropertyError):
        return raw
    try:
        return to_value(raw)
    except ValueRangeError as error:
        return PropertyError(str(error))


async def read_present_values(app: Application, target: DeviceTarget, refs: list[ObjectRef], *,
                              timeout: float, in_flight: int, profile: DeviceProfile) -> ReadOutcome:
    """Present values of ``refs``; values and per-point errors both come back."""
    outcome = ReadOutcome(target=target)
    started = time.monotonic()
    # The hot read: answers decoded by the fast codec where it is sure, by bacpypes3 otherwise.
    reader = DeviceReader(app, to_bacpypes(target.address), timeout=timeout, in_flight=in_flight,
                          batch=value_batch(target), profile=profile, multiple=read_multiple_fast)
    results = await reader.read([(ref, "presentValue", None) for ref in refs])
    outcome.read_at = time.time()
    outcome.elapsed = time.monotonic() - started
    outcome.requests = reader.requests
    if reader.dead is not None and all(isinstance(value, PropertyError) for value in results.values()):
        outcome.device_error = str(reader.dead)
        return outcome
    values, errors = outcome.values, outcome.errors
    for ref in refs:
        value = present_value(results.get((ref, "presentValue", None)))
        if isinstance(value, PropertyError):
            errors[ref] = clean_text(value, ERROR_MAX)
        else:
            values[ref] = value
    return outcome
