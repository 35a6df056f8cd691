"""The engine's blocking facade: what worker threads and the CLI call.

Each method submits one coroutine to the runtime's loop and waits for it with an outer bound.
Work on several devices runs concurrently on the loop (at most ``max_devices`` at once), each
device with at most ``in_flight`` outstanding requests.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Iterable, Sequence

from bacpypes3.app import Application

from bacnet.discovery import check_limits, who_is_directed
from bacnet.enumeration import list_points, read_device_info
from bacnet.errors import BACnetError
from bacnet.properties import DeviceProfile
from bacnet.reading import read_present_values
from bacnet.runtime import BACnetRuntime
from bacnet.types import DeviceInfo, DeviceTarget, IAm, ObjectInfo, ObjectRef, ReadOutcome, Value
from bacnet.writing import WriteOutcome, read_priority_array, write_present_value

#: Default requests in flight per device: real controllers and MS/TP routers choke on more.
DEFAULT_IN_FLIGHT = 2
#: Default number of devices worked on at once.
DEFAULT_MAX_DEVICES = 32


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
                 max_devices: int = DEFAULT_MAX_DEVICES) -> None:
        self.runtime = runtime
        self.in_flight = in_flight
        self.max_devices = max_devices
        # What we learned per device address (RPM support, batch limit). Only touched on the loop.
        self._profiles: dict[str, DeviceProfile] = {}

    @property
    def timeout(self) -> float:
        return self.runtime.request_timeout

    def profile(self, address: str) -> DeviceProfile:
        return self._profiles.setdefault(address, DeviceProfile())

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

    def discover(self, addresses: Sequence[str], *, low_limit: int | None = None,
                 high_limit: int | None = None, timeout: float | None = None
                 ) -> tuple[list[DeviceInfo], list[tuple[IAm, BACnetError]]]:
        """Directed Who-Is, then device properties of each device that answered."""
        iams = self.who_is(addresses, low_limit=low_limit, high_limit=high_limit, timeout=timeout)
        found, failed = [], []
        for iam, info in zip(iams, self.device_info(iams)):
            if isinstance(info, BACnetError):
                failed.append((iam, info))
            else:
                found.append(info)
        return found, failed

    # -- enumeration ------------------------------------------------------------------------------

    def list_points(self, targets: Sequence[DeviceTarget]) -> list[list[ObjectInfo] | BACnetError]:
        """Point-like objects of each device (names, units, commandability), or its error."""

        async def run(app: Application) -> list:
            return await gather_limited(
                (list_points(app, target, timeout=self.timeout, in_flight=self.in_flight,
                             profile=self.profile(target.address)) for target in targets),
                self.max_devices)

        # Enumerating a big non-segmenting device is many requests; bound it generously.
        rounds = 200 * math.ceil(len(targets) / self.max_devices)
        return self._errors_as_values(self.runtime.call(run, self._bound(rounds)))

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
