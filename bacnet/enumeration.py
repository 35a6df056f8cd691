"""What a device is and which objects it holds: device properties, object list, object details."""

from __future__ import annotations

from bacpypes3.app import Application

from bacnet.address import to_bacpypes
from bacnet.errors import DeviceError, DeviceTimeout
from bacnet.properties import DeviceProfile, DeviceReader, PropertyError, read_property
from bacnet.types import DeviceInfo, DeviceTarget, IAm, ObjectInfo, ObjectRef
from bacnet.values import to_text

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


def batch_for(target: DeviceTarget, bytes_per_item: int, segmented_cap: int) -> int:
    """How many items fit in one answer: the APDU for non-segmenting devices, else a cap."""
    if target.can_segment:
        return segmented_cap
    return max(1, (target.max_apdu - 16) // bytes_per_item)


async def read_device_info(app: Application, iam: IAm, *, timeout: float,
                           profile: DeviceProfile) -> DeviceInfo:
    """Device-object properties of a device that answered a Who-Is."""
    info = DeviceInfo(device_instance=iam.device_instance, address=iam.address, vendor_id=iam.vendor_id,
                      max_apdu=iam.max_apdu, segmentation=iam.segmentation)
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
            info.name = to_text(value)
        elif prop == "vendorName":
            info.vendor_name = to_text(value)
        elif prop == "modelName":
            info.model_name = to_text(value)
        elif prop == "firmwareRevision":
            info.firmware_revision = to_text(value)
        elif prop == "applicationSoftwareVersion":
            info.application_software_version = to_text(value)
        elif prop == "protocolRevision":
            info.protocol_revision = int(value)
    return info


async def read_object_list(app: Application, target: DeviceTarget, *, timeout: float, in_flight: int,
                           profile: DeviceProfile) -> list[ObjectRef]:
    """The device's object list: whole if the answer fits, else by index (length, then elements)."""
    address = to_bacpypes(target.address)
    device_ref: ObjectRef = ("device", target.device_instance)
    try:
        whole = await read_property(app, address, device_ref, "objectList", timeout)
        return [(str(objid[0]), int(objid[1])) for objid in whole]
    except DeviceTimeout:
        raise
    except DeviceError:
        # Too long for a non-segmenting device (abort: segmentation-not-supported), or a device
        # that refuses whole arrays: read it element by element.
        pass
    length = int(await read_property(app, address, device_ref, "objectList", timeout, array_index=0))
    reader = DeviceReader(app, address, timeout=timeout, in_flight=in_flight,
                          batch=batch_for(target, LIST_BYTES_PER_ELEMENT, 200), profile=profile)
    specs = [(device_ref, "objectList", index) for index in range(1, length + 1)]
    results = await reader.read(specs)
    if reader.dead is not None:
        raise reader.dead
    refs: list[ObjectRef] = []
    for spec in specs:
        value = results.get(spec)
        if isinstance(value, PropertyError) or value is None:
            raise DeviceError(f"object list element {spec[2]}: {value}", reason="incomplete-object-list")
        refs.append((str(value[0]), int(value[1])))
    return refs


def _detail_properties(object_type: str) -> list[str]:
    props = ["objectName", "description"]
    if object_type in HAS_UNITS:
        props.append("units")
    if object_type in MAYBE_COMMANDABLE:
        props.append("priorityArray")
    return props


async def read_object_details(app: Application, target: DeviceTarget, refs: list[ObjectRef], *,
                              timeout: float, in_flight: int, profile: DeviceProfile) -> list[ObjectInfo]:
    """Name, description, units and commandability of each point-like object in ``refs``."""
    refs = [ref for ref in refs if ref[0] in POINT_OBJECT_TYPES]
    reader = DeviceReader(app, to_bacpypes(target.address), timeout=timeout, in_flight=in_flight,
                          batch=batch_for(target, DETAIL_BYTES_PER_OBJECT // 3, 120), profile=profile)
    specs = [(ref, prop, None) for ref in refs for prop in _detail_properties(ref[0])]
    results = await reader.read(specs)
    if reader.dead is not None:
        raise reader.dead
    infos = []
    for ref in refs:
        info = ObjectInfo(object_type=ref[0], object_instance=ref[1], value_type=VALUE_TYPES.get(ref[0], ""))
        name = results.get((ref, "objectName", None))
        if isinstance(name, PropertyError) or name is None:
            info.error = f"objectName: {name}"
        else:
            info.name = to_text(name)
        description = results.get((ref, "description", None))
        if description is not None and not isinstance(description, PropertyError):
            info.description = to_text(description)
        units = results.get((ref, "units", None))
        if units is not None and not isinstance(units, PropertyError):
            info.units = to_text(units)
        priority_array = results.get((ref, "priorityArray", None))
        info.commandable = ref[0] in ALWAYS_COMMANDABLE or (
            priority_array is not None and not isinstance(priority_array, PropertyError))
        infos.append(info)
    return infos


async def list_points(app: Application, target: DeviceTarget, *, timeout: float, in_flight: int,
                      profile: DeviceProfile) -> list[ObjectInfo]:
    """Object list plus details, in one call."""
    refs = await read_object_list(app, target, timeout=timeout, in_flight=in_flight, profile=profile)
    return await read_object_details(app, target, refs, timeout=timeout, in_flight=in_flight,
                                     profile=profile)
