"""Reading present values of many points of one device."""

from __future__ import annotations

import time

from bacpypes3.app import Application

from bacnet.address import to_bacpypes
from bacnet.enumeration import batch_for
from bacnet.properties import DeviceProfile, DeviceReader, PropertyError
from bacnet.types import DeviceTarget, ObjectRef, ReadOutcome
from bacnet.values import to_value

#: Bytes one present value takes in a ReadPropertyMultiple answer (object id, tags, a REAL).
VALUE_BYTES = 18
#: Present values per request for segmenting devices. Big enough to amortise the per-request
#: cost, small enough that several requests pipeline (see docs/performance.md).
SEGMENTED_VALUE_BATCH = 100


async def read_present_values(app: Application, target: DeviceTarget, refs: list[ObjectRef], *,
                              timeout: float, in_flight: int, profile: DeviceProfile) -> ReadOutcome:
    """Present values of ``refs``; values and per-point errors both come back."""
    outcome = ReadOutcome(target=target)
    started = time.monotonic()
    reader = DeviceReader(app, to_bacpypes(target.address), timeout=timeout, in_flight=in_flight,
                          batch=batch_for(target, VALUE_BYTES, SEGMENTED_VALUE_BATCH), profile=profile)
    results = await reader.read([(ref, "presentValue", None) for ref in refs])
    outcome.read_at = time.time()
    outcome.elapsed = time.monotonic() - started
    outcome.requests = reader.requests
    if reader.dead is not None and not any(not isinstance(v, PropertyError) for v in results.values()):
        outcome.device_error = str(reader.dead)
        return outcome
    for ref in refs:
        raw = results.get((ref, "presentValue", None))
        if isinstance(raw, PropertyError) or raw is None:
            outcome.errors[ref] = str(raw or "no value")
        else:
            outcome.values[ref] = to_value(raw)
    return outcome
