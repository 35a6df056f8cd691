"""The hostile simulator profile: odd and malicious devices next to healthy ones (issue 12).

BACnet/IP has no authentication, and real sites hold old controllers with NUL-padded names,
300-character descriptions, huge object lists and duplicated instances. :class:`HostileSite`
serves all of that on loopback, each device on its own address, so the collector can be tried
as an attacker (or a badly configured site) would try it. ``bacnet-pipeline simulate --profile
hostile`` runs it; the end-to-end tests (tests/e2e/test_hostile_site.py) start it in-process.

Layout from ``base_address``, instances from ``first_instance`` (see :data:`ROLES`):

========================  =====================================================================
role                      what it serves, and why (the issue-12 item it tries)
========================  =====================================================================
``healthy-N``             ordinary controllers (air handler, VAV boxes, meter) whose data must
                          arrive complete whatever their neighbours do. The last one is the
                          *victim* of the impostor: it answers Who-Is 0.2 s late, like a busy
                          controller, so the impostor's I-Am always arrives first.
``nul-strings``           device name ``"AHU\\0\\0\\0"``, NUL-padded vendor/model/firmware and point
                          names, a characterstring-value whose present value holds NULs
                          (PostgreSQL refuses NUL: "A string literal cannot contain NUL").
``long-strings``          device name, vendor, model, firmware and software version of 300+
                          characters, point names of 300+ and descriptions of 1500, a
                          characterstring-value of 400 (columns are 255 / 1000 long).
``control-chars``         names with bidi overrides/isolates (U+202E, U+2066..U+2069, U+200F),
                          C0 (ESC, BEL, BS) and C1 (NEL, CSI) controls, in names and a text value.
``odd-numbers``           analog present values NaN, +Infinity and -Infinity; a positive-integer
                          value of 1100 bits (encoded by hand: bacpypes3 packs at most 32); and
                          one ordinary analog input that must still be read.
``wrong-service``         rejects ReadPropertyMultiple; answers ReadProperty of analog-value 1's
                          present value with a SimpleACK of WriteProperty (what a reply cache
                          sends when invoke ids repeat), instead of a ReadProperty-ACK.
``huge-object-list``      object list length 4294967295 at array index 0 (the whole list is
                          refused with an abort, as a non-segmenting device must): a collector
                          that believes it allocates until it runs out of memory.
``long-object-list``      object list of ``long_list_length`` (default 100000) entries by index;
                          only a few objects exist behind it.
``twin-a``, ``twin-b``    two controllers with one device instance on two addresses.
``impostor``              the victim's instance (and name) on another address, not among the
                          site's targets: it answers Who-Is with the victim's identity (a
                          broadcast reaches it) and, when the victim gets a directed Who-Is,
                          sends an I-Am for the victim's instance to the asker at once and
                          again just after the victim's own answer (an attacker sniffing the
                          segment); optionally also on a timer. Its
                          analog inputs all read :data:`IMPOSTOR_VALUE`, so a collection that
                          followed it is plain to see.
========================  =====================================================================

Every value a hostile device serves is a constant of this module, so tests can compare what
was stored with what was sent.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable

from bacpypes3.basetypes import EngineeringUnits
from bacpypes3.local.analog import AnalogInputObject, AnalogValueObject
from bacpypes3.local.device import DeviceObject
from bacpypes3.pdu import Address, LocalBroadcast
from bacpypes3.primitivedata import Real

from bacnet.simulator.device import SimulatedDevice, store_present_value
from bacnet.simulator.misbehaving import (
    CharacterStringValue, ClaimingDeviceObject, HostileApplication, OversizedUnsigned, PositiveIntegerValue)
from bacnet.simulator.profiles import VAV, device_name, profile_for
from bacnet.simulator.runner import LOOPBACK, DeviceRunner, device_addresses

#: A name padded with NULs to a fixed-width field, as old controllers send it.
NUL_PADDED_NAME = "AHU\x00\x00\x00"
NUL_PADDED_POINT = "Zone Temp\x00\x00\x00\x00\x00\x00\x00"
NUL_TEXT_VALUE = "occupied\x00\x00\x00"
#: 331 characters: more than any name column (255) holds. The accent checks that caps count
#: characters, not bytes.
LONG_NAME = "AHU-7 température " + "East wing level 3 supply " * 13
LONG_POINT_NAME = "Supply air temperature of " + LONG_NAME
#: 1500 characters: more than a description column (1000) holds.
LONG_DESCRIPTION = ("Serves offices 301-348; economiser locked out below 5 degC; " * 25)[:1500]
LONG_TEXT_VALUE = "status: " + "all fans running normally; " * 15
#: Renders reversed (right-to-left override) and hides text in isolates and marks.
BIDI_NAME = "Pump \u202eTEG\u202c 2 \u2066hidden\u2069\u200f\u061c"
#: A terminal escape sequence, a bell and a backspace (C0), NEL and CSI (C1).
CONTROL_NAME = "Boiler\x1b[31m Room\x07\x08 \x85\x9b2J"
#: The control-chars device's own name: an override, and a terminal title change (OSC ... BEL).
CONTROL_DEVICE_NAME = "Plant room \u202e1-UHA\u202c \x1b]0;owned\x07"
CONTROL_TEXT_VALUE = "\u202eALARM\x1b[0m\x00 cleared\x0b\x0c"
#: Unsigned present value of 1100 bits: no float64 holds it.
OVERSIZED_UNSIGNED = 2 ** 1100 - 1
#: Object-list length the huge-object-list device claims at array index 0 (2**32 - 1).
HUGE_OBJECT_LIST = 4294967295
#: Default object-list length of the long-object-list device.
LONG_OBJECT_LIST = 100000
#: What every analog input of the impostor reads.
IMPOSTOR_VALUE = 666.0
#: How late the victim answers a Who-Is (seconds): the impostor's I-Am always comes first.
VICTIM_WHO_IS_DELAY = 0.2
#: How long after the victim's answer the impostor sends its I-Am a second time (seconds).
IMPOSTOR_ENCORE = 0.05

#: Hostile roles in address order after the healthy devices, with what each does (CLI listing).
ROLES: dict[str, str] = {
    "nul-strings": "NUL-padded names, a text value with NULs",
    "long-strings": "names of 300+ characters, descriptions of 1500",
    "control-chars": "bidi overrides and C0/C1 control characters in names and a text value",
    "odd-numbers": "present values NaN, +Infinity, -Infinity and a 1100-bit unsigned",
    "wrong-service": "answers ReadProperty of analog-value 1 with a SimpleACK",
    "huge-object-list": f"claims an object list of {HUGE_OBJECT_LIST} entries",
    "long-object-list": "claims a long object list (default 100000 entries)",
    "twin-a": "same device instance as twin-b",
    "twin-b": "same device instance as twin-a",
    "impostor": "the victim's instance from another address (I-Am on the victim's Who-Is)",
}


class HostileDevice(SimulatedDevice):
    """A device whose strings, objects and answers are set by its role; its values never move."""

    app_class = HostileApplication

    def __init__(self, *, role: str, name: str, instance: int, host: str, prefix: int, port: int,
                 objects: Callable[[], list], device_fields: dict | None = None, claimed_objects: int = 0,
                 simple_ack_objects: frozenset[tuple[str, int]] = frozenset(), rpm: bool = True,
                 max_apdu: int = 1476, segmentation: str = "segmented-both") -> None:
        super().__init__(name=name, instance=instance, host=host, prefix=prefix, port=port, profile=VAV,
                         points=1, max_apdu=max_apdu, segmentation=segmentation, rpm=rpm)
        self.role = role
        self._objects = objects
        self.device_fields = device_fields or {}
        self.claimed_objects = claimed_objects
        self.simple_ack_objects = simple_ack_objects

    def make_device_object(self) -> DeviceObject:
        fields = {
            "objectIdentifier": ("device", self.instance), "objectName": self.name,
            "vendorIdentifier": 999, "vendorName": "bacnet-pipeline hostile simulator",
            "modelName": "SimHostile 1", "firmwareRevision": "0.6.6", "applicationSoftwareVersion": "hostile-1",
            "protocolRevision": 22, "maxApduLengthAccepted": self.max_apdu,
            "segmentationSupported": self.segmentation, "description": ROLES[self.role],
            **self.device_fields,
        }
        if not self.claimed_objects:
            return DeviceObject(**fields)
        device = ClaimingDeviceObject(**fields)
        device._claimed_length = self.claimed_objects
        return device

    def make_objects(self) -> list:
        points = self._objects()
        self.point_count = len(points)
        # Values bacpypes3 would refuse or re-cast on assignment are stored as served.
        for obj in points:
            raw = getattr(obj, "_hostile_value", None)
            if raw is not None:
                vars(obj)["presentValue"] = raw
        return [self.make_device_object(), self.make_network_port(), *points]

    def build(self) -> None:
        super().build()
        self.app.simple_ack_objects = self.simple_ack_objects  # type: ignore[union-attr]

    def update(self, now: float) -> None:
        """Hostile values are constants: nothing moves."""


class ImpostorDevice(SimulatedDevice):
    """The victim's double on another address: same instance, name and objects; analog inputs at 666."""

    role = "impostor"

    def update(self, now: float) -> None:
        for obj, _template, _phase in self._moving:
            store_present_value(obj, Real(IMPOSTOR_VALUE))


def _analog(instance: int, name: str, value: float, *, description: str = "", units: str = "degrees-celsius"):
    return AnalogInputObject(objectIdentifier=("analog-input", instance), objectName=name, presentValue=value,
                             units=EngineeringUnits(units), description=description or name, covIncrement=0.1)


def _text(instance: int, name: str, value: str, description: str = "") -> CharacterStringValue:
    return CharacterStringValue(objectIdentifier=("characterstring-value", instance), objectName=name,
                                presentValue=value, statusFlags=[0, 0, 0, 0], description=description or name)


def _nul_objects() -> list:
    return [_analog(1, NUL_PADDED_POINT, 21.0, description="Zone\x00temperature\x00\x00"),
            _text(1, "Mode\x00\x00\x00\x00", NUL_TEXT_VALUE)]


def _long_objects() -> list:
    return [_analog(1, LONG_POINT_NAME, 18.5, description=LONG_DESCRIPTION),
            _analog(2, "Return Air Temp", 22.0, description=LONG_DESCRIPTION),
            _text(1, "Status text", LONG_TEXT_VALUE, description=LONG_DESCRIPTION)]


def _control_objects() -> list:
    return [_analog(1, BIDI_NAME, 45.0, description=CONTROL_NAME, units="percent"),
            _analog(2, CONTROL_NAME, 71.5, description=BIDI_NAME),
            _text(1, "Alarm \u202etxet\u202c", CONTROL_TEXT_VALUE)]


def _odd_number_objects() -> list:
    nan = _analog(2, "NaN sensor", 0.0)
    nan._hostile_value = Real(float("nan"))
    minus_inf = _analog(3, "Minus infinity sensor", 0.0)
    minus_inf._hostile_value = Real(float("-inf"))
    plus_inf = AnalogValueObject(objectIdentifier=("analog-value", 1), objectName="Infinity setpoint",
                                 presentValue=0.0, units=EngineeringUnits("degrees-celsius"),
                                 description="Infinity setpoint", covIncrement=0.1)
    plus_inf._hostile_value = Real(float("inf"))
    counter = PositiveIntegerValue(objectIdentifier=("positive-integer-value", 1), objectName="Oversized counter",
                                   presentValue=0, statusFlags=[0, 0, 0, 0], units=EngineeringUnits("no-units"),
                                   description="1100-bit unsigned")
    counter._hostile_value = OversizedUnsigned(OVERSIZED_UNSIGNED)
    return [_analog(1, "Healthy temp", 21.5), nan, minus_inf, plus_inf, counter]


def _wrong_service_objects() -> list:
    setpoint = AnalogValueObject(objectIdentifier=("analog-value", 1), objectName="Setpoint (SimpleACK)",
                                 presentValue=22.0, units=EngineeringUnits("degrees-celsius"),
                                 description="answered with a SimpleACK", covIncrement=0.1)
    return [_analog(1, "Return temp", 19.5), setpoint]


def _few_objects() -> list:
    return [_analog(1, "Supply temp", 14.0), _analog(2, "Return temp", 21.0)]


class HostileSite(DeviceRunner):
    """``healthy`` ordinary devices, then one device per role of :data:`ROLES`, on loopback.

    ``impostor_interval`` > 0 also sends the impostor's I-Am every that many seconds to
    ``impostor_destination`` (a loopback ``host[:port]``; default: the local broadcast).
    """

    def __init__(self, healthy: int = 3, points: int = 6, *, base_address: str = "127.0.0.10",
                 first_instance: int = 1001, port: int = 47808, prefix: int = 8,
                 long_list_length: int = LONG_OBJECT_LIST, impostor_interval: float = 0.0,
                 impostor_destination: str | None = None) -> None:
        if not 1 <= healthy <= 200:
            raise ValueError("healthy devices must be 1..200")
        if not 1 <= points <= 5000:
            raise ValueError("points per healthy device must be 1..5000")
        if not 1 <= long_list_length <= HUGE_OBJECT_LIST:
            raise ValueError(f"the long object list must be 1..{HUGE_OBJECT_LIST} entries")
        if not 0 <= first_instance <= 4194302 - healthy - len(ROLES):
            raise ValueError("first instance must leave room for every device below 4194303")
        if impostor_destination is not None:
            host = impostor_destination.rsplit(":", 1)[0]
            if ipaddress.IPv4Address(host) not in LOOPBACK:
                raise ValueError(f"impostor destination {impostor_destination} must be on loopback (127.x.y.z)")
        hosts = device_addresses(base_address, healthy + len(ROLES))
        common = {"prefix": prefix, "port": port}
        self.healthy = [SimulatedDevice(name=device_name(i), instance=first_instance + i, host=hosts[i],
                                        profile=profile_for(i), points=points, **common) for i in range(healthy)]
        self.victim = self.healthy[-1]
        self.victim.app_class = HostileApplication
        instance = iter(range(first_instance + healthy, first_instance + healthy + len(ROLES)))
        host = iter(hosts[healthy:])

        def hostile(role: str, name: str, objects: Callable[[], list], **options) -> HostileDevice:
            return HostileDevice(role=role, name=name, instance=next(instance), host=next(host),
                                 objects=objects, **common, **options)

        roles: list[SimulatedDevice] = [
            hostile("nul-strings", NUL_PADDED_NAME, _nul_objects, device_fields={
                "vendorName": "Old Controls\x00\x00\x00\x00", "modelName": "NX-2\x00\x00",
                "firmwareRevision": "2.1\x00", "applicationSoftwareVersion": "\x00v7\x00"}),
            hostile("long-strings", LONG_NAME, _long_objects, device_fields={
                "vendorName": LONG_NAME, "modelName": LONG_NAME, "firmwareRevision": LONG_NAME,
                "applicationSoftwareVersion": LONG_NAME, "description": LONG_DESCRIPTION}),
            hostile("control-chars", CONTROL_DEVICE_NAME, _control_objects, device_fields={
                "vendorName": CONTROL_NAME, "modelName": "Model \u202e1-XN\u202c"}),
            hostile("odd-numbers", "Odd numbers", _odd_number_objects),
            hostile("wrong-service", "Wrong service", _wrong_service_objects, rpm=False,
                    simple_ack_objects=frozenset({("analog-value", 1)})),
            hostile("huge-object-list", "Huge object list", _few_objects, claimed_objects=HUGE_OBJECT_LIST,
                    max_apdu=480, segmentation="no-segmentation"),
            hostile("long-object-list", "Long object list", _few_objects, claimed_objects=long_list_length,
                    max_apdu=480, segmentation="no-segmentation"),
        ]
        twin_instance = next(instance)  # the twins share one instance
        for role, twin_host in (("twin-a", next(host)), ("twin-b", next(host))):
            twin = SimulatedDevice(name=f"VAV-{role}", instance=twin_instance, host=twin_host, profile=VAV,
                                   points=points, **common)
            twin.role = role
            roles.append(twin)
        self.impostor = ImpostorDevice(name=self.victim.name, instance=self.victim.instance, host=next(host),
                                       profile=self.victim.profile, points=points, **common)
        roles.append(self.impostor)
        #: Hostile devices by role.
        self.roles: dict[str, SimulatedDevice] = {device.role: device for device in roles}
        self.impostor_interval = impostor_interval
        self.impostor_destination = impostor_destination
        self._announcer: asyncio.Task | None = None
        super().__init__([*self.healthy, *roles])

    @property
    def targets(self) -> list[str]:
        """The addresses a site lists as its discovery targets: every device but the impostor."""
        return [device.address for device in self.devices if device is not self.impostor]

    async def _build(self) -> None:
        await super()._build()
        victim_app = self.victim.app
        victim_app.who_is_delay = VICTIM_WHO_IS_DELAY  # type: ignore[union-attr]
        victim_app.on_who_is = self._tell_on_victim  # type: ignore[union-attr]
        if self.impostor_interval > 0:
            self._announcer = asyncio.create_task(self._announce_forever())

    def _tell_on_victim(self, source: Address) -> None:
        """The victim got a Who-Is: the impostor answers the asker with the victim's instance at
        once, and again just after the victim's own (late) answer, so a collector that keeps
        either the first or the last I-Am of an instance is fooled."""
        if self.impostor.app is None or self._loop is None:
            return
        self._announce_to(source)
        self._loop.call_later(VICTIM_WHO_IS_DELAY + IMPOSTOR_ENCORE, self._announce_to, source)

    def _announce_to(self, address: Address) -> None:
        if self.impostor.app is not None:
            self.impostor.app.i_am(address=address)

    async def _announce_forever(self) -> None:
        while True:
            self._announce(self.impostor_destination)
            await asyncio.sleep(self.impostor_interval)

    def _announce(self, destination: str | None) -> None:
        self._announce_to(Address(destination) if destination else LocalBroadcast())

    def announce_impostor(self, destination: str | None = None) -> None:
        """Send one unsolicited I-Am for the victim's instance from the impostor's address now."""
        if self._loop is None:
            raise RuntimeError("the hostile site is not running")

        async def send() -> None:
            self._announce(destination)

        asyncio.run_coroutine_threadsafe(send(), self._loop).result(5)
