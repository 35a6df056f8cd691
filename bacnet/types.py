"""The engine's plain data: what goes in and what comes out. No bacpypes3 types cross this line."""

from __future__ import annotations

from dataclasses import dataclass, field

#: An object reference as (hyphenated object type, instance), e.g. ("analog-input", 3).
ObjectRef = tuple[str, int]


@dataclass(frozen=True)
class IAm:
    """One I-Am answer."""

    device_instance: int
    address: str
    vendor_id: int
    max_apdu: int
    segmentation: str


@dataclass
class DeviceInfo:
    """What discovery learns about a device (I-Am plus device-object properties)."""

    device_instance: int
    address: str
    name: str = ""
    vendor_id: int | None = None
    vendor_name: str = ""
    model_name: str = ""
    firmware_revision: str = ""
    application_software_version: str = ""
    protocol_revision: int | None = None
    max_apdu: int = 480
    segmentation: str = "no-segmentation"
    #: Properties that could not be read, with the reason (a device may lack optional ones).
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class ObjectInfo:
    """One object in a device's object list, with the properties a point needs."""

    object_type: str
    object_instance: int
    name: str = ""
    description: str = ""
    units: str = ""
    #: True when the object has a priority array (it can be commanded at a priority).
    commandable: bool = False
    #: Datatype of the present value: real, double, enumerated, unsigned, integer or text.
    value_type: str = ""
    error: str = ""

    @property
    def ref(self) -> ObjectRef:
        return (self.object_type, self.object_instance)


@dataclass(frozen=True)
class DeviceTarget:
    """Enough about a device to talk to it efficiently."""

    address: str
    device_instance: int
    max_apdu: int = 480
    segmentation: str = "no-segmentation"

    @property
    def can_segment(self) -> bool:
        return self.segmentation in ("segmented-both", "segmented-transmit")


@dataclass(frozen=True)
class Value:
    """A present value: numeric values in `number` (binary as 0/1), text for anything non-numeric
    or for the state name of an enumerated value.

    `number` is always finite or None. A non-finite REAL/DOUBLE is ``Value(None, "NaN")``,
    ``Value(None, "Infinity")`` or ``Value(None, "-Infinity")``; "no value" (BACnet Null) is
    ``Value(None, "null")``. `text` is cleaned and at most 255 characters (:mod:`bacnet.limits`).
    """

    number: float | None
    text: str | None = None


@dataclass
class ReadOutcome:
    """The result of reading many objects of one device: values and errors, never just one."""

    target: DeviceTarget
    values: dict[ObjectRef, Value] = field(default_factory=dict)
    errors: dict[ObjectRef, str] = field(default_factory=dict)
    #: Set when the device as a whole did not answer (timeout, unreachable): nothing was read.
    device_error: str | None = None
    #: UTC time (epoch seconds) when the answer arrived.
    read_at: float = 0.0
    elapsed: float = 0.0
    requests: int = 0

    @property
    def ok(self) -> bool:
        return self.device_error is None
