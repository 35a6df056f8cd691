"""Who-Is / I-Am discovery: directed, broadcast (global or local) and unicast sweeps.

The stock bacpypes3 Who-Is future drops I-Am answers whose source differs from the Who-Is
destination (a device behind a router, a broadcast Who-Is). :class:`IAmCollector` accepts an
I-Am from any source when the discovery may find devices anywhere (a broadcast or a sweep), and
only from the asked addresses when it is directed: BACnet/IP has no authentication, and an
unsolicited I-Am from elsewhere must not answer for the device we asked. It keeps every
(instance, address) pair that answered, so two addresses answering for one instance (a moved
device, a duplicate instance, an impostor) reach the caller instead of one silently replacing the
other. Our own I-Am and instances outside the limits are dropped.

Targets are text, as an operator types them (:func:`plan_targets`): a device address
(``192.0.2.20[:port]``, ``2001:12``), a CIDR block or ``A-B`` range to sweep (:mod:`bacnet.sweep`),
or the word ``broadcast`` (global broadcast: every network, through routers) or
``local-broadcast`` (this IP subnet only). Broadcasts leave through the link layer
(:mod:`bacnet.links`): on a port other than 47808 they also reach the standard port, and a
foreign device sends them through its BBMD.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from bacpypes3.apdu import IAmRequest, WhoIsRequest
from bacpypes3.app import Application
from bacpypes3.pdu import Address, GlobalBroadcast, LocalBroadcast

from bacnet.address import from_bacpypes, normalize_address, to_bacpypes
from bacnet.errors import AddressError
from bacnet.foreign import require_broadcast_path
from bacnet.sweep import DEFAULT_SWEEP_RATE, AddressRange, check_sweep_size, is_range, parse_range, sweep
from bacnet.types import IAm

#: Highest valid device instance (4194303 is the "unconfigured" wildcard).
MAX_DEVICE_INSTANCE = 4194303
#: Target words for a broadcast Who-Is, and the scope each one means.
BROADCAST_WORDS = {"broadcast": "global", "global-broadcast": "global", "local-broadcast": "local"}
#: Most (instance, address) answers one discovery keeps: more than a /16 sweep can find, and a
#: bound on what a flood of forged I-Ams can make us hold.
MAX_ANSWERS = 100_000

log = logging.getLogger(__name__)


def canonical_address(text: str) -> str:
    """The form an I-Am's source takes for a stored or typed address (``192.0.2.20:47808`` is
    ``192.0.2.20``), so the two compare equal; an address that does not parse is returned as is."""
    try:
        return from_bacpypes(to_bacpypes(text))
    except (AddressError, ValueError):
        return text


@dataclass
class DiscoveryProgress:
    """Counters of a running discovery, written on the loop and read by the caller's thread.

    ``total`` is the number of addresses to sweep, ``sent`` how many got their Who-Is so far,
    ``found`` the devices that answered (any mode).
    """

    total: int = 0
    sent: int = 0
    found: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"sent": self.sent, "total": self.total, "found": self.found}


class IAmCollector:
    """Collects I-Am answers within optional instance limits, from the accepted sources.

    bacpypes3 calls ``match(apdu)`` on every object in ``app._who_is_futures`` for each I-Am it
    receives; this class plays that role with its own source filter: ``accept_from`` (canonical
    addresses, see :func:`canonical_address`) limits answers to those sources, None accepts any.
    ``expected``: the wait ends once this many distinct sources answered.
    """

    def __init__(self, low_limit: int | None, high_limit: int | None, expected: int | None, *,
                 own_instance: int | None = None, progress: DiscoveryProgress | None = None,
                 accept_from: frozenset[str] | None = None) -> None:
        self.low_limit = low_limit
        self.high_limit = high_limit
        self.expected = expected
        #: Our own device instance: we answer our own broadcasts (and any 127.x at our port).
        self.own_instance = own_instance
        self.progress = progress
        self.accept_from = accept_from
        #: Every (instance, address) that answered, in order of arrival.
        self.found: dict[tuple[int, str], IAm] = {}
        self.sources: set[str] = set()
        self.ignored = 0
        self.enough = asyncio.Event()

    def match(self, apdu: IAmRequest) -> None:
        instance = apdu.iAmDeviceIdentifier[1]
        if instance == self.own_instance:
            return
        if self.low_limit is not None and instance < self.low_limit:
            return
        if self.high_limit is not None and instance > self.high_limit:
            return
        address = from_bacpypes(apdu.pduSource)
        if self.accept_from is not None and address not in self.accept_from:
            self.ignored += 1
            # Once per discovery at info: a flood of forged I-Ams must not flood the log too.
            log.log(logging.INFO if self.ignored == 1 else logging.DEBUG,
                    "ignored an I-Am for instance %s from %s: this discovery asked other addresses",
                    instance, address)
            return
        key = (instance, address)
        if key in self.found:
            return  # the same device answering again (a broadcast that reached it twice)
        if len(self.found) >= MAX_ANSWERS:
            self.ignored += 1
            return
        self.found[key] = IAm(
            device_instance=instance,
            address=address,
            vendor_id=int(apdu.vendorID),
            max_apdu=int(apdu.maxAPDULengthAccepted),
            segmentation=str(apdu.segmentationSupported),
        )
        self.sources.add(address)
        if self.progress is not None:
            self.progress.found = len(self.found)
        if self.expected is not None and len(self.sources) >= self.expected:
            self.enough.set()

    def answers(self) -> list[IAm]:
        """The answers by instance; answers for one instance in order of arrival."""
        return sorted(self.found.values(), key=lambda iam: iam.device_instance)


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


@dataclass(frozen=True)
class DiscoveryPlan:
    """What one discovery sends: directed Who-Is, sweeps, and at most one broadcast."""

    addresses: tuple[str, ...] = ()
    ranges: tuple[AddressRange, ...] = ()
    #: ``global``, ``local`` or None.
    broadcast: str | None = None

    @property
    def sweep_size(self) -> int:
        return sum(len(swept) for swept in self.ranges)

    @property
    def directed_only(self) -> bool:
        return not self.ranges and self.broadcast is None


def plan_targets(targets: Iterable[str]) -> DiscoveryPlan:
    """Parse discovery targets (see the module docstring); raise AddressError on the first bad one.

    Nothing is sent here, so a bad or absurd target fails before any traffic.
    """
    addresses: dict[str, None] = {}
    ranges: list[AddressRange] = []
    broadcast: str | None = None
    for raw in targets:
        text = raw.strip()
        if not text:
            continue
        scope = BROADCAST_WORDS.get(text.lower())
        if scope is not None:
            # A global broadcast reaches the local network too: keep the wider one.
            broadcast = "global" if "global" in (scope, broadcast) else scope
        elif is_range(text):
            ranges.append(parse_range(text))
        else:
            addresses[normalize_address(text)] = None
    check_sweep_size(ranges)
    return DiscoveryPlan(tuple(addresses), tuple(ranges), broadcast)


def _own_instance(app: Application) -> int | None:
    device = getattr(app, "device_object", None)
    return int(device.objectIdentifier[1]) if device is not None else None


@contextmanager
def _collecting(app: Application, collector: IAmCollector) -> Iterator[IAmCollector]:
    """Register ``collector`` where bacpypes3 looks for Who-Is futures, for the duration."""
    if not hasattr(app, "_who_is_futures"):
        app._who_is_futures = []
    app._who_is_futures.append(collector)
    try:
        yield collector
    finally:
        app._who_is_futures.remove(collector)


async def _wait(collector: IAmCollector, timeout: float) -> None:
    try:
        await asyncio.wait_for(collector.enough.wait(), timeout)
    except asyncio.TimeoutError:
        pass


def _send_who_is(app: Application, destination: Address, low_limit: int | None, high_limit: int | None) -> None:
    request = WhoIsRequest(destination=destination)
    if low_limit is not None:
        request.deviceInstanceRangeLowLimit = low_limit
        request.deviceInstanceRangeHighLimit = high_limit
    app.request(request)


async def discover_plan(app: Application, plan: DiscoveryPlan, *, low_limit: int | None = None,
                        high_limit: int | None = None, timeout: float = 3.0, rate: float = DEFAULT_SWEEP_RATE,
                        progress: DiscoveryProgress | None = None) -> list[IAm]:
    """Send everything ``plan`` asks for and collect the I-Am answers.

    Waits ``timeout`` after the last Who-Is went out (a sweep takes ``sweep_size / rate`` more);
    a directed-only plan returns as soon as every address answered, and accepts answers only from
    those addresses. A foreign device first waits (up to ``timeout``) for its BBMD registration
    and raises ForeignRegistrationError without it.
    """
    check_limits(low_limit, high_limit)
    # Directed only: answers from the asked addresses, and done once each of them answered.
    asked = frozenset(map(canonical_address, plan.addresses)) if plan.directed_only else None
    if progress is not None:
        progress.total = plan.sweep_size
    collector = IAmCollector(low_limit, high_limit, None if asked is None else len(asked),
                             own_instance=_own_instance(app), progress=progress, accept_from=asked)
    with _collecting(app, collector):
        if plan.broadcast is not None:
            await require_broadcast_path(app, timeout)
            destination = GlobalBroadcast() if plan.broadcast == "global" else LocalBroadcast()
            _send_who_is(app, destination, low_limit, high_limit)
        for address in plan.addresses:
            _send_who_is(app, to_bacpypes(address), low_limit, high_limit)
        if plan.ranges:

            def on_sent(count: int) -> None:
                if progress is not None:
                    progress.sent = count

            await sweep(plan.ranges, lambda address: _send_who_is(app, Address(address), low_limit, high_limit),
                        rate=rate, on_sent=on_sent)
        if plan.addresses or plan.ranges or plan.broadcast:
            await _wait(collector, timeout)
    return collector.answers()


async def who_is(app: Application, destinations: Iterable[Address], *, low_limit: int | None = None,
                 high_limit: int | None = None, timeout: float = 3.0, expected: int | None = None,
                 accept_from: frozenset[str] | None = None) -> list[IAm]:
    """Send a Who-Is to each destination and collect I-Ams (from ``accept_from`` only, when given)
    until ``timeout`` or until ``expected`` sources answered."""
    check_limits(low_limit, high_limit)
    collector = IAmCollector(low_limit, high_limit, expected, own_instance=_own_instance(app),
                             accept_from=accept_from)
    with _collecting(app, collector):
        for destination in destinations:
            _send_who_is(app, destination, low_limit, high_limit)
        await _wait(collector, timeout)
    return collector.answers()


async def who_is_directed(app: Application, addresses: Iterable[str], *, low_limit: int | None = None,
                          high_limit: int | None = None, timeout: float = 3.0) -> list[IAm]:
    """Directed Who-Is to each address (as stored: IP[:port] or network:MAC).

    Only those addresses' answers count. Returns as soon as every address has answered,
    otherwise after ``timeout``.
    """
    addresses = list(addresses)
    targets = [to_bacpypes(address) for address in addresses]
    if not targets:
        return []
    asked = frozenset(map(canonical_address, addresses))
    return await who_is(app, targets, low_limit=low_limit, high_limit=high_limit, timeout=timeout,
                        expected=len(asked), accept_from=asked)


def sweep_seconds(plan: DiscoveryPlan, rate: float) -> float:
    """How long the sweep part of ``plan`` takes at ``rate`` Who-Is per second."""
    return plan.sweep_size / rate if plan.ranges else 0.0
