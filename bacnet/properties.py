"""Reading properties of many objects of one device: ReadPropertyMultiple batches that adapt.

This is the one path every read goes through (device info, object details, present values):

- batches are cut so an answer fits the device's APDU (or its segmented maximum);
- a batch the device answers with a segmentation/overflow abort is split in half and retried;
- a device that rejects ReadPropertyMultiple gets ReadProperty, one property at a time;
- at most ``in_flight`` requests per device are outstanding (real controllers and MS/TP
  routers choke on more);
- the first timeout stops the device's remaining requests: a dead device costs one timeout.

Results are per (object, property): a value or a :class:`PropertyError`, never an exception
for one bad object.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from bacpypes3.apdu import ErrorType
from bacpypes3.app import Application
from bacpypes3.basetypes import PropertyReference
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

#: A property to read: (object, property name in camelCase or hyphenated form, array index or None).
PropertySpec = tuple[ObjectRef, str, "int | None"]


@dataclass(frozen=True)
class PropertyError:
    """A per-property failure inside an otherwise good answer (e.g. ``error: unknown-object``)."""

    text: str

    def __str__(self) -> str:
        return self.text


@dataclass
class DeviceProfile:
    """What we learned about talking to one device; kept across calls by the engine."""

    rpm_supported: bool = True
    #: Largest number of properties per ReadPropertyMultiple that worked (shrinks on overflow).
    max_batch: int | None = None


def object_identifier(ref: ObjectRef) -> ObjectIdentifier:
    return ObjectIdentifier(f"{ref[0]},{ref[1]}")


def _key(ref: ObjectRef, prop: str, index: int | None) -> tuple[ObjectRef, str, int | None]:
    return (ref, prop, index)


async def read_property(app: Application, address: Address, ref: ObjectRef, prop: str,
                        timeout: float, array_index: int | None = None) -> object:
    """One ReadProperty; raises DeviceTimeout / DeviceError."""
    what = f"{ref[0]},{ref[1]} {prop}" + (f"[{array_index}]" if array_index is not None else "")
    result = await guarded(
        app.read_property(address, object_identifier(ref), prop, array_index), timeout, what
    )
    return check_answer(result, what)


async def read_multiple(app: Application, address: Address, specs: Sequence[PropertySpec],
                        timeout: float) -> dict[tuple[ObjectRef, str, int | None], object]:
    """One ReadPropertyMultiple for ``specs``; per-property errors come back as PropertyError."""
    parameters: list = []
    by_object: dict[ObjectRef, list] = {}
    for ref, prop, index in specs:
        reference = prop if index is None else PropertyReference(propertyIdentifier=prop, propertyArrayIndex=index)
        by_object.setdefault(ref, []).append(reference)
    for ref, props in by_object.items():
        parameters.extend([object_identifier(ref), props])
    what = f"ReadPropertyMultiple of {len(specs)} properties"
    answer = await guarded(app.read_property_multiple(address, parameters, vendor_info=STANDARD_VENDOR),
                           timeout, what)
    answer = check_answer(answer, what)
    results: dict[tuple[ObjectRef, str, int | None], object] = {}
    for objid, prop_id, index, value in answer or []:
        ref = (str(objid[0]), int(objid[1]))
        if isinstance(value, ErrorType):
            value = PropertyError(f"error: {value.errorCode}")
        results[_key(ref, _camel(str(prop_id)), index)] = value
    # A device may leave out what it could not read; report those as errors, not silence.
    for ref, prop, index in specs:
        results.setdefault(_key(ref, _camel(prop), index), PropertyError("missing from the answer"))
    return results


def _camel(name: str) -> str:
    """`present-value` -> `presentValue`; camelCase passes through."""
    if "-" not in name:
        return name
    head, *rest = name.split("-")
    return head + "".join(part.capitalize() for part in rest)


class DeviceReader:
    """Reads many properties of one device with the policy described in the module docstring."""

    def __init__(self, app: Application, address: Address, *, timeout: float, in_flight: int,
                 batch: int, profile: DeviceProfile) -> None:
        self.app = app
        self.address = address
        self.timeout = timeout
        self.batch = max(1, min(batch, profile.max_batch or batch))
        self.profile = profile
        self.semaphore = asyncio.Semaphore(max(1, in_flight))
        self.results: dict[tuple[ObjectRef, str, int | None], object] = {}
        #: Set on the first timeout; remaining requests are not sent.
        self.dead: DeviceTimeout | None = None
        self.requests = 0

    async def read(self, specs: Sequence[PropertySpec]) -> dict[tuple[ObjectRef, str, int | None], object]:
        specs = [(ref, _camel(prop), index) for ref, prop, index in specs]
        if self.profile.rpm_supported:
            chunks = [specs[i:i + self.batch] for i in range(0, len(specs), self.batch)]
            await asyncio.gather(*(self._rpm(chunk) for chunk in chunks))
        else:
            await asyncio.gather(*(self._rp(spec) for spec in specs))
        if self.dead is not None:
            for ref, prop, index in specs:
                self.results.setdefault(_key(ref, prop, index), PropertyError(str(self.dead)))
        return self.results

    async def _rpm(self, chunk: Sequence[PropertySpec]) -> None:
        if self.dead is not None:
            return
        if not self.profile.rpm_supported:
            await asyncio.gather(*(self._rp(spec) for spec in chunk))
            return
        try:
            async with self.semaphore:
                if self.dead is not None:
                    return
                self.requests += 1
                self.results.update(await read_multiple(self.app, self.address, chunk, self.timeout))
        except DeviceTimeout as error:
            self.dead = error
        except DeviceError as error:
            if error.reason in TOO_BIG_REASONS and len(chunk) > 1:
                half = len(chunk) // 2
                self.profile.max_batch = min(self.profile.max_batch or len(chunk), half)
                await asyncio.gather(self._rpm(chunk[:half]), self._rpm(chunk[half:]))
            else:
                if error.kind in ("reject", "abort") or error.reason in NO_RPM_REASONS:
                    self.profile.rpm_supported = False
                # Whole-request error (some devices fail the request for one bad object):
                # fall back to one ReadProperty per property so the good ones still arrive.
                await asyncio.gather(*(self._rp(spec) for spec in chunk))

    async def _rp(self, spec: PropertySpec) -> None:
        ref, prop, index = spec
        if self.dead is not None:
            return
        async with self.semaphore:
            if self.dead is not None:
                return
            self.requests += 1
            try:
                value = await read_property(self.app, self.address, ref, prop, self.timeout, index)
            except DeviceTimeout as error:
                self.dead = error
                return
            except DeviceError as error:
                value = PropertyError(f"{error.kind}: {error.reason}")
        self.results[_key(ref, prop, index)] = value
