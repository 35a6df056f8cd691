"""One simulated BACnet/IP device: a bacpypes3 application with realistic, moving points."""

from __future__ import annotations

import asyncio
import math
import random
import time

from bacpypes3.apdu import ConfirmedRequestPDU
from bacpypes3.app import Application
from bacpypes3.basetypes import EngineeringUnits
from bacpypes3.errors import UnrecognizedService
from bacpypes3.local.analog import AnalogInputObject, AnalogValueObjectCmd
from bacpypes3.local.binary import BinaryValueObject, BinaryValueObjectCmd
from bacpypes3.local.device import DeviceObject
from bacpypes3.local.networkport import NetworkPortObject
from bacpypes3.primitivedata import Real

from bacnet.simulator.fastanswer import install_fast_answers
from bacnet.simulator.profiles import DeviceProfile, PointTemplate, point_templates

#: Vendor id the simulated devices announce (999: not assigned to any real vendor).
SIM_VENDOR_ID = 999


class RequestCounter:
    """Confirmed requests a device is handling right now, the most at once, and the total
    (how tests check a client's in-flight bound from the device's side)."""

    def __init__(self) -> None:
        self.current = 0
        self.peak = 0
        self.total = 0


class SimApplication(Application):
    """An application that can be told to answer slowly, or not at all.

    ``latency`` delays every incoming request (each datagram is its own task in bacpypes3, so a
    slow device still answers requests concurrently, like a real one with a busy CPU);
    ``answering = False`` drops everything, which looks exactly like a dead controller;
    ``rpm = False`` rejects ReadPropertyMultiple (unrecognized-service), like small controllers.
    Answers are limited to the device's own max APDU, as on real hardware (stock bacpypes3 fills
    whatever the client accepts): a non-segmenting 480-byte device aborts an answer that needs
    more with segmentation-not-supported.
    """

    answering: bool = True
    latency: float = 0.0
    rpm: bool = True
    counter: RequestCounter | None = None

    async def indication(self, apdu) -> None:  # type: ignore[override]
        if not self.answering:
            return
        counter = None
        if isinstance(apdu, ConfirmedRequestPDU):
            counter = self.counter
            self._limit_answer(apdu)
        if counter is not None:
            counter.current += 1
            counter.total += 1
            counter.peak = max(counter.peak, counter.current)
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
                if not self.answering:
                    return
            await super().indication(apdu)
        finally:
            if counter is not None:
                counter.current -= 1

    def _limit_answer(self, apdu) -> None:
        # The request's transaction was set up (with the client's limit) before it got here.
        own = int(self.device_object.maxApduLengthAccepted)
        for transaction in self.asap.serverTransactions:
            if transaction.invokeID == apdu.apduInvokeID and transaction.pdu_address == apdu.pduSource:
                transaction.maxApduLengthAccepted = min(transaction.maxApduLengthAccepted, own)

    async def do_ReadPropertyMultipleRequest(self, apdu) -> None:  # type: ignore[override]
        if not self.rpm:
            raise UnrecognizedService("ReadPropertyMultiple is not supported by this device")
        await super().do_ReadPropertyMultipleRequest(apdu)


def store_present_value(obj, value: Real) -> None:
    """``obj.presentValue = value`` for a non-commandable point, ~40x cheaper.

    bacpypes3's ``Object.__setattr__`` looks the property up with ``inspect.getattr_static`` on
    every assignment (~90 us): 5,000 sensors moved every second would keep half a core busy.
    The value is stored where that assignment stores it, and its monitors (change of value)
    are told, as bacpypes3 tells them.
    """
    stored = vars(obj)
    old = stored.get("presentValue")
    if value == old:
        return
    stored["presentValue"] = value
    for monitor in obj._property_monitors.get("presentValue", ()):
        monitor(old, value)


def _make_object(template: PointTemplate, instance: int, name: str):
    kind = template.kind
    if kind == "sensor":
        return AnalogInputObject(objectIdentifier=("analog-input", instance), objectName=name,
                                 presentValue=template.base, units=EngineeringUnits(template.units),
                                 description=template.description or f"{template.name} sensor",
                                 covIncrement=0.1)
    if kind == "setpoint":
        return AnalogValueObjectCmd(objectIdentifier=("analog-value", instance), objectName=name,
                                    presentValue=template.base, relinquishDefault=template.base,
                                    units=EngineeringUnits(template.units),
                                    description=template.description or f"{template.name} (commandable)",
                                    covIncrement=0.1)
    state = "active" if template.base else "inactive"
    if kind == "command":
        return BinaryValueObjectCmd(objectIdentifier=("binary-value", instance), objectName=name,
                                    presentValue=state, relinquishDefault=state,
                                    description=template.description or f"{template.name} (commandable)")
    return BinaryValueObject(objectIdentifier=("binary-value", instance), objectName=name,
                             presentValue=state, description=template.description or f"{template.name} status")


class SimulatedDevice:
    """A virtual controller bound to ``host/prefix:port`` with ``points`` points of ``profile``."""

    #: The application class; the hostile profile's devices use one that misbehaves on purpose.
    app_class: type[SimApplication] = SimApplication
    #: What the device plays in its simulated site: ``healthy``, or a role of the hostile profile.
    role: str = "healthy"

    def __init__(self, *, name: str, instance: int, host: str, prefix: int, port: int,
                 profile: DeviceProfile, points: int, max_apdu: int = 1476,
                 segmentation: str = "segmented-both", latency_ms: float = 0.0, seed: int | None = None,
                 rpm: bool = True) -> None:
        self.name = name
        self.instance = instance
        self.host = host
        self.prefix = prefix
        self.port = port
        self.profile = profile
        self.point_count = points
        self.max_apdu = max_apdu
        self.segmentation = segmentation
        self.latency_ms = latency_ms
        #: False: the device rejects ReadPropertyMultiple and must be read one property at a time.
        self.rpm = rpm
        #: Confirmed requests this device handled (current, peak, total).
        self.requests = RequestCounter()
        self.app: SimApplication | None = None
        self._rng = random.Random(seed if seed is not None else instance)
        self._started = time.time()
        # (object, template, phase) of every point whose value moves.
        self._moving: list[tuple[object, PointTemplate, float]] = []
        self._statuses: list[object] = []

    @property
    def address(self) -> str:
        return self.host if self.port == 47808 else f"{self.host}:{self.port}"

    def build(self) -> None:
        """Create the application (call on the simulator's running loop)."""
        objects = self.make_objects()
        app = self.app_class.from_object_list(objects)
        install_fast_answers(app, objects)
        app.latency = self.latency_ms / 1000.0
        app.rpm = self.rpm
        app.counter = self.requests
        self.app = app
        self.update(time.time())

    def make_device_object(self) -> DeviceObject:
        """The device object: identity, names, APDU and segmentation."""
        return DeviceObject(
            objectIdentifier=("device", self.instance), objectName=self.name,
            vendorIdentifier=SIM_VENDOR_ID, vendorName="bacnet-pipeline simulator",
            modelName=self.profile.model_name, firmwareRevision="1.4.2",
            applicationSoftwareVersion="sim-2026.11", protocolRevision=22,
            maxApduLengthAccepted=self.max_apdu, segmentationSupported=self.segmentation,
            description=f"Simulated {self.profile.key} controller",
        )

    def make_network_port(self) -> NetworkPortObject:
        """The BACnet/IP port the device is bound to (the application binds what it describes)."""
        return NetworkPortObject(f"{self.host}/{self.prefix}:{self.port}",
                                 objectIdentifier=("network-port", 1), objectName="NetworkPort-1")

    def make_objects(self) -> list:
        """Every object of the device: device object, network port, then the profile's points."""
        objects: list = [self.make_device_object(), self.make_network_port()]
        counters: dict[str, int] = {}
        for template, point_name in point_templates(self.profile, self.point_count):
            object_type = "analog-input" if template.kind == "sensor" else (
                "analog-value" if template.kind == "setpoint" else "binary-value")
            counters[object_type] = counters.get(object_type, 0) + 1
            obj = _make_object(template, counters[object_type], f"{self.name} {point_name}")
            objects.append(obj)
            if template.kind == "sensor":
                self._moving.append((obj, template, self._rng.uniform(0, 2 * math.pi)))
            elif template.kind == "status":
                self._statuses.append(obj)
        return objects

    def update(self, now: float) -> None:
        """Move sensor values (slow swing plus noise); flip statuses now and then."""
        elapsed = now - self._started
        for obj, template, phase in self._moving:
            if template.period and template.swing:
                value = template.base + template.swing * math.sin(2 * math.pi * elapsed / template.period + phase)
                value += self._rng.gauss(0, template.swing * 0.02)
            elif not template.swing:
                # A counter (energy): grows steadily, like a meter register.
                value = template.base + elapsed * 0.0235
            else:
                value = template.base
            store_present_value(obj, Real(round(value, 3)))
        for obj in self._statuses:
            if self._rng.random() < 0.002:
                obj.presentValue = "inactive" if str(obj.presentValue) == "active" else "active"

    def set_answering(self, answering: bool) -> None:
        """Stop (False) or resume (True) answering requests, as if the controller lost power."""
        if self.app is not None:
            self.app.answering = answering

    @property
    def answering(self) -> bool:
        return bool(self.app and self.app.answering)

    def close(self) -> None:
        if self.app is not None:
            self.app.close()
            self.app = None
