"""Who-Is / I-Am discovery.

The stock bacpypes3 Who-Is future drops I-Am answers whose source differs from the Who-Is
destination (a device behind a router, a broadcast Who-Is). :class:`IAmCollector` accepts an
I-Am from any source and filters only by the instance limits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from bacpypes3.apdu import IAmRequest, WhoIsRequest
from bacpypes3.app import Application
from bacpypes3.pdu import Address

from bacnet.address import from_bacpypes, to_bacpypes
from bacnet.types import IAm

#: Highest valid device instance (4194303 is the "unconfigured" wildcard).
MAX_DEVICE_INSTANCE = 4194303


class IAmCollector:
    """Collects I-Am answers from any source, within optional instance limits.

    bacpypes3 calls ``match(apdu)`` on every object in ``app._who_is_futures`` for each I-Am it
    receives; this class plays that role without the source-address filter.
    """

    def __init__(self, low_limit: int | None, high_limit: int | None, expected: int | None) -> None:
        self.low_limit = low_limit
        self.high_limit = high_limit
        self.expected = expected
        self.found: dict[int, IAm] = {}
        self.enough = asyncio.Event()

    def match(self, apdu: IAmRequest) -> None:
        instance = apdu.iAmDeviceIdentifier[1]
        if self.low_limit is not None and instance < self.low_limit:
            return
        if self.high_limit is not None and instance > self.high_limit:
            return
        self.found[instance] = IAm(
            device_instance=instance,
            address=from_bacpypes(apdu.pduSource),
            vendor_id=int(apdu.vendorID),
            max_apdu=int(apdu.maxAPDULengthAccepted),
            segmentation=str(apdu.segmentationSupported),
        )
        if self.expected is not None and len(self.found) >= self.expected:
            self.enough.set()


def check_limits(low_limit: int | None, high_limit: int | None) -> None:
    """Validate Who-Is instance limits (both or neither, 0..4194303, low <= high)."""
    if (low_limit is None) != (high_limit is None):
        raise ValueError("give both the low and the high instance limit, or neither")
    if low_limit is None or high_limit is None:
        return
    for limit in (low_limit, high_limit):
        if not 0 <= limit <= MAX_DEVICE_INSTANCE:
            raise ValueError(f"instance limit {limit} is outside 0..{MAX_DEVICE_INSTANCE}")
    if low_limit > high_limit:
        raise ValueError(f"low instance limit {low_limit} is above the high limit {high_limit}")


async def who_is(app: Application, destinations: Iterable[Address], *, low_limit: int | None = None,
                 high_limit: int | None = None, timeout: float = 3.0,
                 expected: int | None = None) -> list[IAm]:
    """Send a Who-Is to each destination and collect I-Ams until ``timeout`` or ``expected`` answers."""
    check_limits(low_limit, high_limit)
    collector = IAmCollector(low_limit, high_limit, expected)
    if not hasattr(app, "_who_is_futures"):
        app._who_is_futures = []
    app._who_is_futures.append(collector)
    try:
        for destination in destinations:
            request = WhoIsRequest(destination=destination)
            if low_limit is not None:
                request.deviceInstanceRangeLowLimit = low_limit
                request.deviceInstanceRangeHighLimit = high_limit
            app.request(request)
        try:
            await asyncio.wait_for(collector.enough.wait(), timeout)
        except asyncio.TimeoutError:
            pass
    finally:
        app._who_is_futures.remove(collector)
    return sorted(collector.found.values(), key=lambda iam: iam.device_instance)


async def who_is_directed(app: Application, addresses: Iterable[str], *, low_limit: int | None = None,
                          high_limit: int | None = None, timeout: float = 3.0) -> list[IAm]:
    """Directed Who-Is to each address (as stored: IP[:port] or network:MAC).

    Returns as soon as every address has answered, otherwise after ``timeout``.
    """
    targets = [to_bacpypes(address) for address in addresses]
    if not targets:
        return []
    return await who_is(app, targets, low_limit=low_limit, high_limit=high_limit, timeout=timeout,
                        expected=len(targets))
