"""What a device is and which objects it holds: device properties, object list, object details.

Everything a device says about itself is checked here before it is used or sized by:

- texts are cleaned and capped to their columns (:mod:`bacnet.limits`, :func:`bacnet.values.to_text`);
  a number out of its range (protocolRevision, vendor id) is that property's error;
- an object list longer than ``max_objects`` (BACNET_MAX_OBJECTS) is refused for the device with
  a DeviceError ``object-list-too-long`` *before* anything is sized by it: the length at array
  index 0 is read and checked first, and a whole-list answer is checked before it is used;
- each element must be a standard object type with an instance in 0..4194303 (others, such as
  vendor-proprietary object types, are never points and are skipped), duplicates are dropped;
- a device's whole enumeration has a deadline derived from the request timeout and its object
  count (:func:`enumeration_seconds`), and it is read in chunks of objects whose raw answers are
  dropped as soon as they are converted, so memory follows the chunk, not the device.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Coroutine, Iterable, Sequence
from contextlib import aclosing
from typing import Any, TypeVar

from bacpypes3.app import Application
from bacpypes3.pdu import Address

from bacnet.address import to_bacpypes
from bacnet.errors import DeviceError, DeviceTimeout
from bacnet.limits import (DEFAULT_MAX_OBJECTS, DESCRIPTION_MAX, DEVICE_TEXT_MAX, MAX_APDU, MAX_INSTANCE, MIN_APDU,
                           NAME_MAX, OBJECT_TYPE_MAX, PROTOCOL_REVISION_MAX, SEGMENTATION_MAX, UNITS_MAX,
                           VENDOR_ID_MAX)
from bacnet.properties import DeviceProfile, DeviceReader, PropertyError, PropertySpec, ResultKey, read_property
from bacnet.text import clean_text
from bacnet.types import DeviceInfo, DeviceTarget, IAm, ObjectInfo, ObjectRef
from bacnet.values import ValueRangeError, to_small_int, to_text

T = TypeVar("T")

#: Device-object properties discovery records (all optional except the name).
DEVICE_PROPERTIES = ("objectName", "vendorName", "modelName", "firmwareRevision",
                     "applicationSoftwareVersion", "protocolRevision")

#: Object types that carry a present value worth polling. Others (schedules, trend logs,
#: calendars, notification classes, files, programs, the device and network ports) are skipped.
POINT_OBJECT_TYPES = frozenset({
    "analog-input", "analog-output", "analog-value",
    "binary-input", "binary-output", "binary-value",
    "multi-state-input", "multi-state-output", "multi-state-value",
    "large-analog-value", "integer-value", "positive-integer-value",
    "accumulator", "pulse-converter", "loop", "characterstring-value",
})
#: Types whose present value is always commandable (BACnet requires a priority array).
ALWAYS_COMMANDABLE = frozenset({"analog-output", "binary-output", "multi-state-output"})
#: Types that may be commandable: probe for a priority array.
MAYBE_COMMANDABLE = frozenset({
    "analog-value", "binary-value", "multi-state-value", "large-analog-value", "integer-value",
    "positive-integer-value", "characterstring-value",
})
#: Types that have an engineering-units property.
HAS_UNITS = frozenset({
    "analog-input", "analog-output", "analog-value", "large-analog-value", "integer-value",
    "positive-integer-value", "accumulator", "pulse-converter", "loop",
})

#: Datatype of the present value by object type (fixed by the BACnet standard).
VALUE_TYPES = {
    "analog-input": "real", "analog-output": "real", "analog-value": "real", "loop": "real",
    "pulse-converter": "real", "large-analog-value": "double",
    "binary-input": "enumerated", "binary-output": "enumerated", "binary-value": "enumerated",
    "multi-state-input": "unsigned", "multi-state-output": "unsigned", "multi-state-value": "unsigned",
    "positive-integer-value": "unsigned", "accumulator": "unsigned", "integer-value": "integer",
    "characterstring-value": "text",
}

#: Bytes an object's details take in an answer (name + description + units + priority array),
#: a deliberately high estimate so non-segmenting devices are never asked for too much.
DETAIL_BYTES_PER_OBJECT = 110
#: Bytes one object-list element takes in a by-index ReadPropertyMultiple answer (the object id
#: plus the per-element property and array-index tags; ~12-13 measured, 7 inside a whole list).
LIST_BYTES_PER_ELEMENT = 13
#: Bytes one element takes inside a whole-list answer, and the answer's own overhead: a
#: non-segmenting device whose list cannot fit is read by index straight away.
WHOLE_LIST_BYTES_PER_ELEMENT, WHOLE_LIST_OVERHEAD = 7, 32
#: Object-list elements read per chunk, and objects whose details are read per chunk: each
#: chunk's raw answers are converted and dropped before the next one is asked for.
LIST_CHUNK, DETAIL_CHUNK = 2000, 500

#: A device's enumeration may take this many request timeouts whatever its size (the length,
#: the whole list, device-side pauses)...
ENUMERATION_BASE_TIMEOUTS = 4
#: ...plus one request timeout per this many objects in its list (with 3 s: 120 ms per object,
#: several times what a slow BACnet/IP controller needs)...
OBJECTS_PER_TIMEOUT = 25
#: ...and never more than this many seconds: below the refresh_points job's 10-minute time limit,
#: so a device that dribbles answers ends as that device's error, not as the whole job killed.
ENUMERATION_MAX_SECONDS = 300.0


def enumeration_seconds(timeout: float, objects: int) -> float:
    """How long one device's enumeration (object list and details) may take: the deadline."""
    return min(ENUMERATION_MAX_SECONDS, timeout * (ENUMERATION_BASE_TIMEOUTS + objects / OBJECTS_PER_TIMEOUT))


class Deadline:
    """The deadline of one device's enumeration: started at creation, sized once the object count
    is known (:meth:`size_for`); :meth:`run` bounds each step by what is left of it."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.started = time.monotonic()
        self.objects = 0
        self.seconds = enumeration_seconds(timeout, 0)

    def size_for(self, objects: int) -> None:
        self.objects = objects
        self.seconds = enumeration_seconds(self.timeout, objects)

    async def run(self, step: Coroutine[Any, Any, T]) -> T:
        remaining = self.started + self.seconds - time.monotonic()
        if remaining <= 0:
            step.close()
            raise self._expired()
        try:
            return await asyncio.wait_for(step, remaining)
        except asyncio.TimeoutError:
            raise self._expired() from None

    def _expired(self) -> DeviceTimeout:
        return DeviceTimeout(f"point list of {self.objects} objects not finished within {self.seconds:g} s")


def batch_for(target: DeviceTarget, bytes_per_item: int, segmented_cap: int) -> int:
    """How many items fit in one answer: the APDU for non-segmenting devices, else a cap."""
    if target.can_segment:
        return segmented_cap
    return max(1, (clamp_apdu(target.max_apdu) - 16) // bytes_per_item)


def clamp_apdu(max_apdu: object) -> int:
    """A device's claimed max APDU within what BACnet/IP allows (50..1476)."""
    if isinstance(max_apdu, bool) or not isinstance(max_apdu, int):
        return MIN_APDU
    return max(MIN_APDU, min(MAX_APDU, max_apdu))


async def read_device_info(app: Application, iam: IAm, *, timeout: float,
                           profile: DeviceProfile) -> DeviceInfo:
    """Device-object properties of a device that answered a Who-Is, cleaned and range-checked."""
    info = DeviceInfo(device_instance=iam.device_instance, address=iam.address, max_apdu=clamp_apdu(iam.max_apdu),
                      segmentation=clean_text(iam.segmentation, SEGMENTATION_MAX) or "no-segmentation")
    try:
        info.vendor_id = to_small_int(iam.vendor_id, 0, VENDOR_ID_MAX)
    except ValueRangeError as error:
        info.errors["vendorIdentifier"] = str(error)
    device_ref: ObjectRef = ("device", iam.device_instance)
    reader = DeviceReader(app, to_bacpypes(iam.address), timeout=timeout, in_flight=1,
                          batch=len(DEVICE_PROPERTIES), profile=profile)
    results = await reader.read([(device_ref, prop, None) for prop in DEVICE_PROPERTIES])
    if reader.dead is not None:
        raise reader.dead
    for prop in DEVICE_PROPERTIES:
        value = results.get((device_ref, prop, None))
        if isinstance(value, PropertyError) or value is None:
            info.errors[prop] = str(value or "no value")
            continue
        if prop == "objectName":
            info.name = to_text(value, NAME_MAX)
        elif prop == "vendorName":
            info.vendor_name = to_text(value, DEVICE_TEXT_MAX)
        elif prop == "modelName":
            info.model_name = to_text(value, DEVICE_TEXT_MAX)
        elif prop == "firmwareRevision":
            info.firmware_revision = to_text(value, DEVICE_TEXT_MAX)
        elif prop == "applicationSoftwareVersion":
            info.application_software_version = to_text(value, DEVICE_TEXT_MAX)
        elif prop == "protocolRevision":
            try:
                info.protocol_revision = to_small_int(value, 0, PROTOCOL_REVISION_MAX)
            except ValueRangeError as error:
                info.errors[prop] = str(error)
    return info


def object_ref(raw: object) -> ObjectRef | None:
    """An object-list element as an ObjectRef, or None for one that is not a standard object
    (a vendor-proprietary type, whose name is its number) or not an object identifier at all."""
    try:
        object_type, instance = raw[0], raw[1]  # type: ignore[index]
    except (TypeError, IndexError, KeyError):
        return None
    if isinstance(instance, bool) or not isinstance(instance, int) or not 0 <= instance <= MAX_INSTANCE:
        return None
    name = str(object_type) if isinstance(object_type, (str, int)) else ""
    if len(name) > OBJECT_TYPE_MAX or not (name.isascii() and name.replace("-", "").isalpha()):
        return None
    return (name, int(instance))


def _refs_of(elements: Iterable[object]) -> list[ObjectRef]:
    refs = (object_ref(element) for element in elements)
    return list(dict.fromkeys(ref for ref in refs if ref is not None))  # a device may list one twice


def _too_long(length: int, max_objects: int) -> DeviceError:
    return DeviceError(f"object list of {length} objects is longer than the limit of {max_objects} "
                       f"(BACNET_MAX_OBJECTS)", reason="object-list-too-long")


async def _object_list_length(app: Application, address: Address, device_ref: ObjectRef, timeout: float,
                              max_objects: int) -> int | None:
    """objectList[0], checked against ``max_objects``; None when the device does not answer it."""
    try:
        raw = await read_property(app, address, device_ref, "objectList", timeout, array_index=0)
    except DeviceTimeout:
        raise
    except DeviceError:
        return None  # a device that refuses array indexes: its whole list is read (and checked)
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise DeviceError(f"object list length {clean_text(raw, 40)!r} is not a count",
                          kind="invalid", reason="invalid-answer")
    if raw > max_objects:
        raise _too_long(raw, max_objects)
    return int(raw)


async def read_object_list(app: Application, target: DeviceTarget, *, timeout: float, in_flight: int,
                           profile: DeviceProfile, max_objects: int = DEFAULT_MAX_OBJECTS,
                           deadline: Deadline | None = None) -> list[ObjectRef]:
    """The device's object list: its length first (refused beyond ``max_objects``), then the whole
    list if the answer can fit, else element by element."""
    address = to_bacpypes(target.address)
    device_ref: ObjectRef = ("device", target.device_instance)
    deadline = deadline or Deadline(timeout)
    length = await _object_list_length(app, address, device_ref, timeout, max_objects)
    fits = length is not None and (
        length * WHOLE_LIST_BYTES_PER_ELEMENT + WHOLE_LIST_OVERHEAD <= clamp_apdu(target.max_apdu))
    if length is None or target.can_segment or fits:
        try:
            whole = await read_property(app, address, device_ref, "objectList", timeout)
        except DeviceTimeout:
            raise
        except DeviceError:
            # Too long for the answer (abort: segmentation-not-supported), or a device that
            # refuses whole arrays: read it element by element, if its length is known.
            if length is None:
                raise
        else:
            try:
                count = len(whole)  # type: ignore[arg-type]
            except TypeError:
                raise DeviceError("object list: not a list", kind="invalid", reason="invalid-answer") from None
            if count > max_objects:
                raise _too_long(count, max_objects)
            deadline.size_for(count)
            return _refs_of(whole)  # type: ignore[arg-type]
    deadline.size_for(length)
    batch = batch_for(target, LIST_BYTES_PER_ELEMENT, 200)
    refs: list[ObjectRef] = []
    chunks = ([(device_ref, "objectList", index) for index in range(first, min(first + LIST_CHUNK, length + 1))]
              for first in range(1, length + 1, LIST_CHUNK))
    async with aclosing(_read_chunks(app, address, chunks, timeout=timeout, in_flight=in_flight, batch=batch,
                                     profile=profile, deadline=deadline)) as answers:
        async for specs, results in answers:
            for spec in specs:
                value = results.get(spec)
                if isinstance(value, PropertyError) or value is None:
                    raise DeviceError(f"object list element {spec[2]}: {value}", reason="incomplete-object-list")
            refs.extend(_refs_of(results[spec] for spec in specs))
    return list(dict.fromkeys(refs))


async def _read_chunks(app: Application, address: Address, chunks: Iterable[Sequence[PropertySpec]], *,
                       timeout: float, in_flight: int, batch: int, profile: DeviceProfile,
                       deadline: Deadline) -> AsyncIterator[tuple[Sequence[PropertySpec], dict[ResultKey, object]]]:
    """Each chunk's specs with their results, one chunk at a time, within ``deadline``; the
    device's first timeout ends it. A fresh reader per chunk: nothing of earlier chunks is kept."""
    for specs in chunks:
        reader = DeviceReader(app, address, timeout=timeout, in_flight=in_flight, batch=batch, profile=profile)
        results = await deadline.run(reader.read(specs))
        if reader.dead is not None:
            raise reader.dead
        yield specs, results


def _detail_properties(object_type: str) -> list[str]:
    props = ["objectName", "description"]
    if object_type in HAS_UNITS:
        props.append("units")
    if object_type in MAYBE_COMMANDABLE:
        props.append("priorityArray")
    return props


def _object_info(ref: ObjectRef, results: dict[ResultKey, object]) -> ObjectInfo:
    info = ObjectInfo(object_type=ref[0], object_instance=ref[1], value_type=VALUE_TYPES.get(ref[0], ""))
    name = results.get((ref, "objectName", None))
    if isinstance(name, PropertyError) or name is None:
        info.error = f"objectName: {name}"
    else:
        info.name = to_text(name, NAME_MAX)
    description = results.get((ref, "description", None))
    if description is not None and not isinstance(description, PropertyError):
        info.description = to_text(description, DESCRIPTION_MAX)
    units = results.get((ref, "units", None))
    if units is not None and not isinstance(units, PropertyError):
        info.units = to_text(units, UNITS_MAX)
    priority_array = results.get((ref, "priorityArray", None))
    info.commandable = ref[0] in ALWAYS_COMMANDABLE or (
        priority_array is not None and not isinstance(priority_array, PropertyError))
    return info


async def read_object_details(app: Application, target: DeviceTarget, refs: list[ObjectRef], *,
                              timeout: float, in_flight: int, profile: DeviceProfile,
                              deadline: Deadline | None = None) -> list[ObjectInfo]:
    """Name, description, units and commandability of each point-like object in ``refs``."""
    refs = [ref for ref in refs if ref[0] in POINT_OBJECT_TYPES]
    if deadline is None:
        deadline = Deadline(timeout)
        deadline.size_for(len(refs))
    batch = batch_for(target, DETAIL_BYTES_PER_OBJECT // 3, 120)
    chunks = ([(ref, prop, None) for ref in refs[first:first + DETAIL_CHUNK] for prop in _detail_properties(ref[0])]
              for first in range(0, len(refs), DETAIL_CHUNK))
    infos: list[ObjectInfo] = []
    first = 0
    async with aclosing(_read_chunks(app, to_bacpypes(target.address), chunks, timeout=timeout, in_flight=in_flight,
                                     batch=batch, profile=profile, deadline=deadline)) as answers:
        async for _specs, results in answers:
            infos.extend(_object_info(ref, results) for ref in refs[first:first + DETAIL_CHUNK])
            first += DETAIL_CHUNK
    return infos


async def list_points(app: Application, target: DeviceTarget, *, timeout: float, in_flight: int,
                      profile: DeviceProfile, max_objects: int = DEFAULT_MAX_OBJECTS) -> list[ObjectInfo]:
    """Object list plus details, in one call, within one deadline (:func:`enumeration_seconds`)."""
    deadline = Deadline(timeout)
    refs = await read_object_list(app, target, timeout=timeout, in_flight=in_flight, profile=profile,
                                  max_objects=max_objects, deadline=deadline)
    return await read_object_details(app, target, refs, timeout=timeout, in_flight=in_flight,
                                     profile=profile, deadline=deadline)
