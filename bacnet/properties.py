"""Reading properties of many objects of one device: ReadPropertyMultiple batches that adapt.

This is the one path every read goes through (device info, object details, present values):

- batches are cut so an answer fits the device's APDU (or its segmented maximum);
- a batch the device answers with a segmentation/overflow abort is split in half and retried,
  and the device's profile remembers the smaller size for the next call; after
  :data:`BATCH_GROWTH_AFTER` successful requests in a row at that size, one request of the next
  call tries twice the size (up to the caller's batch) and the size grows if it is answered, so
  a passing cause (a busy router, our own APDU limit changed for a while) does not slow the
  device down for good;
- a device that rejects ReadPropertyMultiple gets ReadProperty, one property at a time; a batch
  the device aborts or fails as a whole is re-read property by property, so one bad object
  never fails its neighbours;
- at most ``in_flight`` requests per call, and at most the profile's ``in_flight`` per device
  across every concurrent call (real controllers and MS/TP routers choke on more);
- the first timeout stops the device's remaining requests: a dead device costs one timeout.

Results are per (object, property): a value or a :class:`PropertyError`, never an exception
for one bad object.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from bacpypes3.apdu import ErrorType
from bacpypes3.app import Application
from bacpypes3.basetypes import PropertyIdentifier, PropertyReference
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import ObjectIdentifier
from bacpypes3.vendor import get_vendor_info

from bacnet.errors import DeviceError, DeviceTimeout
from bacnet.guard import check_answer, guarded
from bacnet.types import ObjectRef

#: Abort/reject/error reasons meaning "the answer did not fit": split the batch and retry.
TOO_BIG_REASONS = frozenset({
    "segmentation-not-supported", "buffer-overflow", "apdu-too-long", "abort-apdu-too-long",
    "abort-buffer-overflow", "abort-segmentation-not-supported", "response-too-big",
})
#: Reasons meaning "this device does not do ReadPropertyMultiple": use ReadProperty instead.
NO_RPM_REASONS = frozenset({"unrecognized-service", "service-request-denied", "reject-unrecognized-service"})

#: ASHRAE's standard object classes; we never need vendor-specific decoding for what we read, and
#: looking the vendor up per request would cost a cache query per call.
STANDARD_VENDOR = get_vendor_info(0)
#: Distinct objects whose request encoding the hot read keeps (:mod:`bacnet.fastrpm`, a few
#: bytes each). Far above the points one worker polls; old ones simply drop out.
IDENTIFIER_CACHE = 65536
#: Distinct objects whose bacpypes3 ObjectIdentifier is kept for single reads and writes (parsing
#: one costs more than encoding it). Few: one is ~750 bytes. ReadPropertyMultiple (enumerations
#: of up to BACNET_MAX_OBJECTS objects) builds its own and keeps none: 20,000 objects left 15 MB
#: behind when they were cached. The hot read encodes its requests without them.
OBJECT_IDENTIFIER_CACHE = 1024
#: Successful full-size ReadPropertyMultiple requests in a row at a learned (shrunk) batch size
#: before one request tries twice the size (capped at the batch the caller asked for). A device
#: that really cannot answer more costs one aborted request per this many: ~3 %.
BATCH_GROWTH_AFTER = 32

#: What :meth:`DeviceReader._send` returns for a request it did not send (the device is dead).
_SKIPPED = object()

#: A property to read: (object, property name in camelCase or hyphenated form, array index or None).
PropertySpec = tuple[ObjectRef, str, "int | None"]
#: The key of one result: (object, camelCase property name, array index or None).
ResultKey = tuple[ObjectRef, str, "int | None"]


@dataclass(frozen=True)
class PropertyError:
    """A per-property failure inside an otherwise good answer (e.g. ``error: unknown-object``)."""

    text: str

    def __str__(self) -> str:
        return self.text


#: The result of a property the answer left out.
_MISSING = PropertyError("missing from the answer")


@dataclass
class DeviceProfile:
    """What we learned about talking to one device; the engine keeps one per address."""

    rpm_supported: bool = True
    #: Largest ReadPropertyMultiple that worked, per set of properties read (a device that fits 25
    #: present values may fit only 8 objects' names and descriptions): shrinks on overflow aborts,
    #: grows back after a run of successes (see :meth:`succeeded`). No entry: the caller's batch.
    max_batch: dict[tuple[str, ...], int] = field(default_factory=dict)
    #: Requests in flight to this device across every concurrent call; None = only per call.
    in_flight: int | None = None
    #: Successful full-size requests in a row at the learned size, per set of properties.
    _streak: dict[tuple[str, ...], int] = field(default_factory=dict, repr=False, compare=False)
    #: A larger size to try on one request, per set of properties, once the streak is long enough.
    _trial: dict[tuple[str, ...], int] = field(default_factory=dict, repr=False, compare=False)
    _gate: asyncio.Semaphore | None = field(default=None, repr=False, compare=False)
    _gate_loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False, compare=False)

    def batch(self, kind: tuple[str, ...], configured: int) -> int:
        """Properties per request for ``kind``: the learned size, at most ``configured``."""
        return max(1, min(configured, self.max_batch.get(kind, configured)))

    def take_trial(self, kind: tuple[str, ...], available: int) -> int | None:
        """The larger size one request of this call should try, if one is due and ``available``
        properties fill it (a short request would prove nothing); None otherwise."""
        trial = self._trial.get(kind)
        if trial is None or available < trial:
            return None
        del self._trial[kind]
        return trial

    def too_big(self, kind: tuple[str, ...], size: int) -> None:
        """A request of ``size`` properties did not fit an answer: remember half of it."""
        self.max_batch[kind] = max(1, min(self.max_batch.get(kind, size), size // 2))
        self._streak.pop(kind, None)
        self._trial.pop(kind, None)

    def succeeded(self, kind: tuple[str, ...], size: int, configured: int) -> None:
        """A request of ``size`` properties was answered. Larger than the learned size (a trial):
        that size is learned, or forgotten once it reaches ``configured``. The learned size, for
        the :data:`BATCH_GROWTH_AFTER`-th time in a row: a trial of twice the size is due."""
        learned = self.max_batch.get(kind)
        if learned is None or size < learned:
            return  # nothing learned, or a short last chunk: it proves nothing about the size
        if size > learned:
            self._streak.pop(kind, None)
            if size >= configured:
                del self.max_batch[kind]
            else:
                self.max_batch[kind] = size
            return
        streak = self._streak.get(kind, 0) + 1
        if streak < BATCH_GROWTH_AFTER:
            self._streak[kind] = streak
            return
        self._streak.pop(kind, None)
        self._trial[kind] = min(learned * 2, configured)

    def gate(self) -> asyncio.Semaphore | None:
        """The device-wide request semaphore, on the running loop (a restarted runtime gets a new one)."""
        if self.in_flight is None:
            return None
        loop = asyncio.get_running_loop()
        if self._gate is None or self._gate_loop is not loop:
            self._gate = asyncio.Semaphore(max(1, self.in_flight))
            self._gate_loop = loop
        return self._gate


@lru_cache(maxsize=OBJECT_IDENTIFIER_CACHE)
def object_identifier(ref: ObjectRef) -> ObjectIdentifier:
    # bacpypes3 only reads these when encoding a request, so one instance can be shared.
    return ObjectIdentifier(f"{ref[0]},{ref[1]}")


def _property_reference(prop: str, index: int | None) -> PropertyReference:
    if index is None:
        return _plain_reference(prop)
    # Indexed references are object-list elements of an enumeration, read once: never cached,
    # so a long object list leaves nothing behind in the worker.
    return PropertyReference(propertyIdentifier=PropertyIdentifier(prop), propertyArrayIndex=index)


@lru_cache(maxsize=1024)
def _plain_reference(prop: str) -> PropertyReference:
    return PropertyReference(propertyIdentifier=PropertyIdentifier(prop))


@lru_cache(maxsize=1024)
def _camel(name: str) -> str:
    """`present-value` -> `presentValue`; camelCase passes through."""
    if "-" not in name:
        return name
    head, *rest = name.split("-")
    return head + "".join(part.capitalize() for part in rest)


async def read_property(app: Application, address: Address, ref: ObjectRef, prop: str,
                        timeout: float, array_index: int | None = None) -> object:
    """One ReadProperty; raises DeviceTimeout / DeviceError."""
    what = f"{ref[0]},{ref[1]} {prop}" + (f"[{array_index}]" if array_index is not None else "")
    result = await guarded(
        app.read_property(address, object_identifier(ref), prop, array_index), timeout, what
    )
    return check_answer(result, what)


async def read_multiple(app: Application, address: Address, specs: Sequence[PropertySpec],
                        timeout: float) -> dict[ResultKey, object]:
    """One ReadPropertyMultiple for ``specs``; per-property errors come back as PropertyError."""
    parameters: list = []
    by_object: dict[ObjectRef, list] = {}
    for ref, prop, index in specs:
        by_object.setdefault(ref, []).append(_property_reference(prop, index))
    for ref, props in by_object.items():
        parameters.extend([ObjectIdentifier(f"{ref[0]},{ref[1]}"), props])
    what = f"ReadPropertyMultiple of {len(specs)} properties"
    answer = await guarded(app.read_property_multiple(address, parameters, vendor_info=STANDARD_VENDOR),
                           timeout, what)
    answer = check_answer(answer, what)
    return complete_results(results_of(answer or []), specs)


def results_of(answer: Iterable[tuple]) -> dict[ResultKey, object]:
    """Our results from bacpypes3's ``read_property_multiple`` list of (objid, property, index, value)."""
    results: dict[ResultKey, object] = {}
    for objid, prop_id, index, value in answer:
        ref = (str(objid[0]), int(objid[1]))
        if isinstance(value, ErrorType):
            value = PropertyError(f"error: {value.errorCode}")
        results[(ref, _camel(str(prop_id)), index)] = value
    return results


def complete_results(results: dict[ResultKey, object], specs: Sequence[PropertySpec]) -> dict[ResultKey, object]:
    """``results`` with an error for every spec the answer left out."""
    # A device may leave out what it could not read; report those as errors, not silence.
    for ref, prop, index in specs:
        results.setdefault((ref, _camel(prop), index), _MISSING)
    return results


#: A ReadPropertyMultiple: (app, address, specs, timeout) -> results, per-property errors included.
MultipleRead = Callable[[Application, Address, Sequence[PropertySpec], float], Awaitable[dict[ResultKey, object]]]


class DeviceReader:
    """Reads many properties of one device with the policy described in the module docstring."""

    def __init__(self, app: Application, address: Address, *, timeout: float, in_flight: int,
                 batch: int, profile: DeviceProfile, multiple: MultipleRead | None = None) -> None:
        self.app = app
        #: How one ReadPropertyMultiple is sent and decoded (the hot read passes its fast path).
        self.multiple: MultipleRead = multiple or read_multiple
        self.address = address
        self.timeout = timeout
        self.batch = max(1, batch)
        self.profile = profile
        self.semaphore = asyncio.Semaphore(max(1, in_flight))
        self.results: dict[ResultKey, object] = {}
        #: Set on the first timeout; remaining requests are not sent.
        self.dead: DeviceTimeout | None = None
        self.requests = 0
        self._kind: tuple[str, ...] = ()

    async def read(self, specs: Sequence[PropertySpec]) -> dict[ResultKey, object]:
        specs = [(ref, _camel(prop), index) for ref, prop, index in specs]
        self._kind = tuple(sorted({prop for _, prop, _ in specs}))
        if self.profile.rpm_supported:
            batch = self.profile.batch(self._kind, self.batch)
            first = self.profile.take_trial(self._kind, len(specs)) or batch
            chunks = [specs[:first]] if specs else []
            chunks += [specs[i:i + batch] for i in range(first, len(specs), batch)]
            await asyncio.gather(*(self._rpm(chunk) for chunk in chunks))
        else:
            await asyncio.gather(*(self._rp(spec) for spec in specs))
        if self.dead is not None:
            for key in specs:
                self.results.setdefault(key, PropertyError(str(self.dead)))
        return self.results

    async def _send(self, request):
        """Await ``request()`` holding this call's slot and the device's; _SKIPPED once the device is dead."""
        gate = self.profile.gate()
        async with self.semaphore:
            if gate is None:
                if self.dead is not None:
                    return _SKIPPED
                self.requests += 1
                return await request()
            async with gate:
                if self.dead is not None:
                    return _SKIPPED
                self.requests += 1
                return await request()

    async def _rpm(self, chunk: Sequence[PropertySpec]) -> None:
        if self.dead is not None:
            return
        if not self.profile.rpm_supported:
            await asyncio.gather(*(self._rp(spec) for spec in chunk))
            return
        try:
            answer = await self._send(lambda: self.multiple(self.app, self.address, chunk, self.timeout))
            if answer is not _SKIPPED:
                # Only what was asked: results a device adds for other objects are dropped.
                for spec in chunk:
                    self.results[spec] = answer.get(spec, _MISSING)
                self.profile.succeeded(self._kind, len(chunk), self.batch)
        except DeviceTimeout as error:
            self.dead = error
        except DeviceError as error:
            too_big = error.reason in TOO_BIG_REASONS
            if too_big and len(chunk) > 1:
                half = len(chunk) // 2
                self.profile.too_big(self._kind, len(chunk))
                await asyncio.gather(self._rpm(chunk[:half]), self._rpm(chunk[half:]))
                return
            if not too_big and (error.kind in ("reject", "abort") or error.reason in NO_RPM_REASONS):
                # The device refuses the service itself (a single property too big for an answer
                # is not that): every later read of it goes straight to ReadProperty.
                self.profile.rpm_supported = False
            # Whole-request error (some devices fail the request for one bad object): one
            # ReadProperty per property, so the good ones still arrive.
            await asyncio.gather(*(self._rp(spec) for spec in chunk))

    async def _rp(self, spec: PropertySpec) -> None:
        ref, prop, index = spec
        if self.dead is not None:
            return
        try:
            value = await self._send(lambda: read_property(self.app, self.address, ref, prop, self.timeout, index))
        except DeviceTimeout as error:
            self.dead = error
            return
        except DeviceError as error:
            value = PropertyError(f"{error.kind}: {error.reason}")
        if value is not _SKIPPED:
            self.results[spec] = PropertyError("no value") if value is None else value
