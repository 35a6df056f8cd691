"""The engine's blocking facade: what worker threads and the CLI call.

Each method submits one coroutine to the runtime's loop and waits for it with an outer bound.
Work on several devices runs concurrently on the loop (at most ``max_devices`` at once), each
device with at most ``in_flight`` outstanding requests.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence

from bacpypes3.app import Application

from bacnet.discovery import (DiscoveryProgress, check_limits, discover_plan, plan_targets, sweep_seconds,
                              who_is_directed)
from bacnet.enumeration import enumeration_seconds, list_points, read_device_info
from bacnet.errors import BACnetError
from bacnet.limits import DEFAULT_MAX_OBJECTS, MAX_OBJECTS_CEILING
from bacnet.memory import RELEASE_AFTER_OBJECTS, release_memory
from bacnet.properties import DeviceProfile
from bacnet.reading import read_present_values
from bacnet.runtime import BACnetRuntime
from bacnet.sweep import DEFAULT_SWEEP_RATE, check_rate
from bacnet.types import DeviceInfo, DeviceTarget, IAm, ObjectInfo, ObjectRef, ReadOutcome, Value
from bacnet.writing import WriteOutcome, read_priority_array, write_present_value

#: Default requests in flight per device: real controllers and MS/TP routers choke on more.
DEFAULT_IN_FLIGHT = 2
#: Default number of devices worked on at once.
DEFAULT_MAX_DEVICES = 32
#: Seconds between two progress reports of a running discovery.
PROGRESS_INTERVAL = 1.0


async def gather_limited(coros: Iterable[Awaitable], limit: int) -> list:
    """``asyncio.gather`` with at most ``limit`` running at once; exceptions are returned."""
    semaphore = asyncio.Semaphore(max(1, limit))

    async def run(coro: Awaitable):
        async with semaphore:
            return await coro

    return await asyncio.gather(*(run(coro) for coro in coros), return_exceptions=True)


class Engine:
    """Discovery, enumeration and reading over one :class:`BACnetRuntime`."""

    def __init__(self, runtime: BACnetRuntime, *, in_flight: int = DEFAULT_IN_FLIGHT,
                 max_devices: int = DEFAULT_MAX_DEVICES, max_objects: int = DEFAULT_MAX_OBJECTS) -> None:
        if in_flight < 1 or max_devices < 1:
            raise ValueError("in_flight and max_devices must be at least 1")
        if not 1 <= max_objects <= MAX_OBJECTS_CEILING:
            raise ValueError(f"max_objects must be 1..{MAX_OBJECTS_CEILING}")
        self.runtime = runtime
        #: Requests in flight per device, across every concurrent call (settings: BACNET_MAX_IN_FLIGHT).
        self.in_flight = in_flight
        #: Devices worked on at once by one call (settings: BACNET_MAX_CONCURRENT_DEVICES).
        self.max_devices = max_devices
        #: Longest object list enumerated per device (settings: BACNET_MAX_OBJECTS).
        self.max_objects = max_objects
        self.progress_interval = PROGRESS_INTERVAL
        # What we learned per device address (RPM support, batch limit). Only touched on the loop.
        self._profiles: dict[str, DeviceProfile] = {}

    @property
    def timeout(self) -> float:
        return self.runtime.request_timeout

    def profile(self, address: str) -> DeviceProfile:
        profile = self._profiles.get(address)
        if profile is None:
            # The profile's gate holds every call to this device to `in_flight` requests together.
            profile = self._profiles[address] = DeviceProfile(in_flight=self.in_flight)
        return profile

    def _bound(self, rounds: float) -> float:
        """Outer wait for a call made of ``rounds`` sequential request timeouts (a safety net)."""
        return self.timeout * (rounds + 2) + 5

    # -- discovery --------------------------------------------------------------------------------

    def who_is(self, addresses: Sequence[str], *, low_limit: int | None = None,
               high_limit: int | None = None, timeout: float | None = None) -> list[IAm]:
        check_limits(low_limit, high_limit)
        wait = timeout or self.timeout

        async def run(app: Application) -> list[IAm]:
            return await who_is_directed(app, addresses, low_limit=low_limit, high_limit=high_limit,
                                         timeout=wait)

        return self.runtime.call(run, wait + 5)

    def device_info(self, iams: Sequence[IAm]) -> list[DeviceInfo | BACnetError]:
        """Device properties of each I-Am; a device that fails gives its error in its place."""

        async def run(app: Application) -> list:
            return await gather_limited(
                (read_device_info(app, iam, timeout=self.timeout, profile=self.profile(iam.address))
                 for iam in iams), self.max_devices)

        return self._errors_as_values(self.runtime.call(run, self._bound(
            2 * math.ceil(len(iams) / self.max_devices) + 2)))

    def find(self, targets: Sequence[str], *, low_limit: int | None = None, high_limit: int | None = None,
             timeout: float | None = None, sweep_rate: float | None = None,
             on_progress: Callable[[DiscoveryProgress], None] | None = None) -> list[IAm]:
        """Who-Is to any mix of targets: addresses, CIDR blocks and A-B ranges to sweep, ``broadcast``
        or ``local-broadcast`` (see :mod:`bacnet.discovery`).

        A bad or oversized target raises AddressError before anything is sent; a broadcast from a
        foreign device without an active BBMD registration raises ForeignRegistrationError.
        Answers are collected for ``timeout`` after the last Who-Is; a sweep first takes
        ``addresses / sweep_rate`` seconds. ``on_progress`` gets a snapshot in this thread every
        ``progress_interval`` seconds while the discovery runs.
        """
        check_limits(low_limit, high_limit)
        plan = plan_targets(targets)
        rate = check_rate(sweep_rate or DEFAULT_SWEEP_RATE)
        wait = timeout or self.timeout
        progress = DiscoveryProgress(total=plan.sweep_size)

        async def run(app: Application) -> list[IAm]:
            return await discover_plan(app, plan, low_limit=low_limit, high_limit=high_limit, timeout=wait,
                                       rate=rate, progress=progress)

        # A broadcast from a foreign device may first wait `wait` for the BBMD registration; a
        # sweep on a busy loop may fall a little behind its pace.
        bound = wait * (2 if plan.broadcast else 1) + sweep_seconds(plan, rate) * 1.25 + 5
        return self._call_reporting(run, bound, progress, on_progress)

    def discover(self, targets: Sequence[str], *, low_limit: int | None = None,
                 high_limit: int | None = None, timeout: float | None = None, sweep_rate: float | None = None,
                 on_progress: Callable[[DiscoveryProgress], None] | None = None
                 ) -> tuple[list[DeviceInfo], list[tuple[IAm, BACnetError]]]:
        """:meth:`find`, then device properties of each device that answered."""
        iams = self.find(targets, low_limit=low_limit, high_limit=high_limit, timeout=timeout,
                         sweep_rate=sweep_rate, on_progress=on_progress)
        found, failed = [], []
        for iam, info in zip(iams, self.device_info(iams)):
            if isinstance(info, BACnetError):
                failed.append((iam, info))
            else:
                found.append(info)
        return found, failed

    def _call_reporting(self, make: Callable[[Application], Awaitable[list[IAm]]], timeout: float,
                        progress: DiscoveryProgress,
                        on_progress: Callable[[DiscoveryProgress], None] | None) -> list[IAm]:
        """``runtime.call``, calling ``on_progress`` (in this thread) while the coroutine runs."""
        if on_progress is None:
            return self.runtime.call(make, timeout)
        future = asyncio.run_coroutine_threadsafe(make(self.runtime.app), self.runtime.loop)
        deadline = time.monotonic() + timeout
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"BACnet discovery did not finish within {timeout:.1f} s")
                try:
                    return future.result(min(self.progress_interval, remaining))
                except TimeoutError:
                    if future.done():
                        raise  # the coroutine's own TimeoutError, not our wait's
                # A copy: the loop keeps counting while the callback runs.
                on_progress(DiscoveryProgress(**progress.as_dict()))
        finally:
            future.cancel()  # a no-op once it finished

    # -- enumeration ------------------------------------------------------------------------------

    def list_points(self, targets: Sequence[DeviceTarget]) -> list[list[ObjectInfo] | BACnetError]:
        """Point-like objects of each device (names, units, commandability), or its error."""

        async def run(app: Application) -> list:
            return await gather_limited(
                (list_points(app, target, timeout=self.timeout, in_flight=self.in_flight,
                             profile=self.profile(target.address), max_objects=self.max_objects)
                 for target in targets),
                self.max_devices)

        # Each device ends by its own deadline (its error, not the call's); the outer bound only
        # has to cover the rounds of devices worked on at once, each at its longest deadline.
        rounds = math.ceil(len(targets) / self.max_devices)
        bound = rounds * (enumeration_seconds(self.timeout, self.max_objects) + 2 * self.timeout) + 5
        results = self.runtime.call(run, bound)
        if sum(len(points) for points in results if isinstance(points, list)) >= RELEASE_AFTER_OBJECTS:
            release_memory()  # the enumeration's garbage, handed back (bacnet.memory)
        return self._errors_as_values(results)

    # -- reading ----------------------------------------------------------------------------------

    def read_values(self, requests: Sequence[tuple[DeviceTarget, Sequence[ObjectRef]]]) -> list[ReadOutcome]:
        """Present values for several devices at once; one outcome per request, in order."""

        async def run(app: Application) -> list:
            return await gather_limited(
                (read_present_values(app, target, list(refs), timeout=self.timeout,
                                     in_flight=self.in_flight, profile=self.profile(target.address))
                 for target, refs in requests), self.max_devices)

        largest = max((len(refs) for _, refs in requests), default=0)
        rounds = math.ceil(len(requests) / self.max_devices) * (math.ceil(largest / self.in_flight) + 1)
        outcomes = self.runtime.call(run, self._bound(rounds))
        result = []
        for (target, _), outcome in zip(requests, outcomes):
            if isinstance(outcome, BaseException):
                if not isinstance(outcome, Exception):
                    raise outcome  # cancellation, KeyboardInterrupt: not a device problem
                outcome = ReadOutcome(target=target, device_error=f"{type(outcome).__name__}: {outcome}")
            result.append(outcome)
        return result

    # -- writing --------------------------------------------------------------------------------------

    def write(self, target: DeviceTarget, ref: ObjectRef, value: float | str | None, priority: int, *,
              allow_critical: bool = False) -> WriteOutcome:
        """Command present-value at ``priority`` (``value=None`` relinquishes); errors are in the outcome."""

        async def run(app: Application) -> WriteOutcome:
            return await write_present_value(app, target, ref, value, priority, timeout=self.timeout,
                                             allow_critical=allow_critical)

        return self.runtime.call(run, self._bound(4))

    def priority_array(self, target: DeviceTarget, ref: ObjectRef) -> list[Value | None]:
        """The object's 16 priority slots (None where empty); raises BACnetError."""

        async def run(app: Application) -> list[Value | None]:
            return await read_priority_array(app, target, ref, self.timeout)

        return self.runtime.call(run, self._bound(1))

    @staticmethod
    def _errors_as_values(results: list) -> list:
        out = []
        for item in results:
            if isinstance(item, BaseException) and not isinstance(item, BACnetError):
                if not isinstance(item, Exception):
                    raise item
                item = BACnetError(f"{type(item).__name__}: {item}")
            out.append(item)
        return out
