"""Enumeration trusts nothing a device says about itself: object-list bounds, elements, texts, time.

The device is a stand-in for bacpypes3's Application (``read_property`` and
``read_property_multiple``, as the engine calls them), so each claim can be as hostile as needed
without a network: an object list of 4,294,967,295 objects, a 300-character NUL-padded name.
"""

from __future__ import annotations

import asyncio
import platform
import time
import tracemalloc
from collections.abc import Callable

import pytest
from bacpypes3.basetypes import EngineeringUnits
from bacpypes3.primitivedata import CharacterString, ObjectIdentifier, Unsigned

from app.settings import BindAddress, ConfigError, load_settings
from bacnet.engine import Engine
from bacnet.enumeration import (DETAIL_CHUNK, ENUMERATION_MAX_SECONDS, enumeration_seconds, list_points,
                                object_ref, read_device_info, read_object_details, read_object_list)
from bacnet.errors import DeviceError, DeviceTimeout
from bacnet.limits import DEFAULT_MAX_OBJECTS, DESCRIPTION_MAX, NAME_MAX
from bacnet.memory import RELEASE_AFTER_OBJECTS, _malloc_trim, release_memory
from bacnet.properties import DeviceProfile, _camel
from bacnet.types import DeviceTarget, IAm
from tests.conftest import build_app
from workers.broker import make_broker
from workers.service import WorkerService

ADDRESS = "127.0.0.77"
INSTANCE = 7001
SEGMENTING = DeviceTarget(ADDRESS, INSTANCE, 1476, "segmented-both")


class FakeDevice:
    """What a device answers, as bacpypes3's Application returns it to the engine.

    ``objects``: the object-list elements; ``length``: the length claimed at index 0 (default:
    the true one); ``indexes=False``: the device refuses array indexes; ``properties``: per
    (object, camelCase property) the value; ``delay``: seconds each request takes.
    """

    def __init__(self, *, objects: list | None = None, length: int | None = None, indexes: bool = True,
                 properties: dict | None = None, delay: float = 0.0) -> None:
        self.objects = objects or []
        self.length = len(self.objects) if length is None else length
        self.indexes = indexes
        self.properties = properties or {}
        self.delay = delay
        #: (service, property, array index) of every request, in order.
        self.requests: list[tuple[str, str, int | None]] = []

    async def read_property(self, address, objid, prop, array_index=None):
        prop = _camel(str(prop))
        self.requests.append(("read-property", prop, array_index))
        await asyncio.sleep(self.delay)
        return self.value((str(objid[0]), int(objid[1])), prop, array_index)

    async def read_property_multiple(self, address, parameters, vendor_info=None):
        await asyncio.sleep(self.delay)
        answer = []
        for objid, references in zip(parameters[::2], parameters[1::2]):
            for reference in references:
                prop, index = _camel(str(reference.propertyIdentifier)), reference.propertyArrayIndex
                self.requests.append(("read-property-multiple", prop, index))
                answer.append((objid, reference.propertyIdentifier, index,
                               self.value((str(objid[0]), int(objid[1])), prop, index)))
        return answer

    def value(self, ref, prop, index):
        if prop == "objectList":
            if index is None:
                return self.objects
            if not self.indexes:
                raise DeviceError("objectList[0]: error: invalid-array-index", reason="invalid-array-index")
            return Unsigned(self.length) if index == 0 else self.objects[index - 1]
        return self.properties.get((ref, prop), CharacterString(f"{ref[0]} {ref[1]}"))


def run(coroutine_factory: Callable):
    return asyncio.run(coroutine_factory())


def analog_inputs(count: int) -> list[ObjectIdentifier]:
    return [ObjectIdentifier(("analog-input", number)) for number in range(1, count + 1)]


# -- the object list ---------------------------------------------------------------------------------


def test_an_object_list_claiming_4294967295_objects_is_refused_before_anything_is_allocated() -> None:
    device = FakeDevice(length=4294967295)
    tracemalloc.start()
    try:
        with pytest.raises(DeviceError) as refused:
            run(lambda: list_points(device, SEGMENTING, timeout=1, in_flight=2, profile=DeviceProfile()))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.value.reason == "object-list-too-long"
    assert "4294967295" in str(refused.value) and str(DEFAULT_MAX_OBJECTS) in str(refused.value)
    assert device.requests == [("read-property", "objectList", 0)]  # nothing else was asked
    assert peak < 1_000_000  # nothing was sized by the claim (a list of specs would be gigabytes)


def test_the_limit_is_the_callers_bacnet_max_objects() -> None:
    device = FakeDevice(objects=analog_inputs(101))
    with pytest.raises(DeviceError, match="object list of 101 objects is longer than the limit of 100"):
        run(lambda: read_object_list(device, SEGMENTING, timeout=1, in_flight=2, profile=DeviceProfile(),
                                     max_objects=100))
    refs = run(lambda: read_object_list(device, SEGMENTING, timeout=1, in_flight=2, profile=DeviceProfile(),
                                        max_objects=101))
    assert len(refs) == 101


def test_a_whole_list_longer_than_the_limit_is_refused_when_the_length_is_unknown() -> None:
    # A device that refuses array indexes: its whole list is read, and checked before it is used.
    device = FakeDevice(objects=analog_inputs(150), indexes=False)
    with pytest.raises(DeviceError) as refused:
        run(lambda: read_object_list(device, SEGMENTING, timeout=1, in_flight=2, profile=DeviceProfile(),
                                     max_objects=100))
    assert refused.value.reason == "object-list-too-long"


def test_a_length_that_is_not_a_count_is_an_invalid_answer() -> None:
    device = FakeDevice(objects=analog_inputs(3))
    device.value = lambda ref, prop, index: CharacterString("lots") if index == 0 else device.objects  # type: ignore
    with pytest.raises(DeviceError) as refused:
        run(lambda: read_object_list(device, SEGMENTING, timeout=1, in_flight=2, profile=DeviceProfile()))
    assert refused.value.reason == "invalid-answer"


def test_elements_are_validated_and_deduplicated() -> None:
    elements = [ObjectIdentifier(("device", INSTANCE)), ObjectIdentifier(("analog-input", 1)),
                ObjectIdentifier((200, 5)),  # vendor-proprietary object type: never a point
                ObjectIdentifier(("analog-input", 1)),  # listed twice
                ObjectIdentifier(("binary-value", 4194303)), "garbage", None, ("analog-input", -1),
                ("analog-input", 4194304), ("analog-input", True), ("x" * 60, 1), ("analog\x00input", 2)]
    device = FakeDevice(objects=elements)
    refs = run(lambda: read_object_list(device, SEGMENTING, timeout=1, in_flight=2, profile=DeviceProfile()))
    assert refs == [("device", INSTANCE), ("analog-input", 1), ("binary-value", 4194303)]


@pytest.mark.parametrize("raw, expected", [
    (ObjectIdentifier(("multi-state-value", 3)), ("multi-state-value", 3)),
    (("analog-value", 0), ("analog-value", 0)),
    ((128, 1), None), ((), None), (7, None), (("analog-input", "1"), None),
])
def test_object_ref(raw, expected) -> None:
    assert object_ref(raw) == expected


def test_a_list_that_cannot_fit_one_answer_is_read_by_index_straight_away() -> None:
    # 60 objects cannot fit a 206-byte answer: no whole-list request that would be aborted.
    device = FakeDevice(objects=analog_inputs(60) + analog_inputs(5))
    target = DeviceTarget(ADDRESS, INSTANCE, 206, "no-segmentation")
    refs = run(lambda: read_object_list(device, target, timeout=1, in_flight=2, profile=DeviceProfile()))
    assert refs == [("analog-input", n) for n in range(1, 61)]
    assert ("read-property", "objectList", None) not in device.requests
    assert sorted(index for _, prop, index in device.requests if prop == "objectList") == list(range(0, 66))


# -- device information and object details -------------------------------------------------------------


def test_device_information_is_cleaned_capped_and_range_checked() -> None:
    device_ref = ("device", INSTANCE)
    device = FakeDevice(properties={
        (device_ref, "objectName"): CharacterString("AHU-1" + "\x00" * 40),
        (device_ref, "vendorName"): CharacterString("\u202eACME\u202c"),
        (device_ref, "modelName"): CharacterString("M" * 300),
        (device_ref, "firmwareRevision"): CharacterString("1.0\r\n"),
        (device_ref, "applicationSoftwareVersion"): CharacterString("\x1b[2Japp"),
        (device_ref, "protocolRevision"): Unsigned(2 ** 40),
    })
    iam = IAm(device_instance=INSTANCE, address=ADDRESS, vendor_id=70000, max_apdu=2 ** 32,
              segmentation="segmented-both")
    info = run(lambda: read_device_info(device, iam, timeout=1, profile=DeviceProfile()))
    assert (info.name, info.vendor_name, info.firmware_revision, info.application_software_version) == (
        "AHU-1", "ACME", "1.0", "app")
    assert info.model_name == "M" * 255
    assert info.protocol_revision is None and info.errors["protocolRevision"] == "value out of range"
    assert info.vendor_id is None and info.errors["vendorIdentifier"] == "value out of range"
    assert info.max_apdu == 1476  # a claim beyond BACnet/IP's largest APDU is clamped


def test_object_details_are_cleaned_and_capped_to_their_columns() -> None:
    ref = ("analog-input", 1)
    device = FakeDevice(objects=[ObjectIdentifier(ref)], properties={
        (ref, "objectName"): CharacterString("\x00" * 10 + "Supply \u2066Temp\u2069" + "x" * 400),
        (ref, "description"): CharacterString("d" * 5000),
        (ref, "units"): EngineeringUnits("degrees-celsius"),
    })
    [info] = run(lambda: list_points(device, SEGMENTING, timeout=1, in_flight=2, profile=DeviceProfile()))
    assert info.name == ("Supply Temp" + "x" * 400)[:NAME_MAX]
    assert info.description == "d" * DESCRIPTION_MAX
    assert info.units == "degrees-celsius"


def test_details_of_many_objects_are_read_in_chunks_and_all_come_back_in_order() -> None:
    count = 2 * DETAIL_CHUNK + 7
    device = FakeDevice(objects=analog_inputs(count))
    infos = run(lambda: list_points(device, SEGMENTING, timeout=1, in_flight=2, profile=DeviceProfile()))
    assert [info.object_instance for info in infos] == list(range(1, count + 1))
    assert all(info.name == f"analog-input {info.object_instance}" for info in infos)


# -- time ----------------------------------------------------------------------------------------------


def test_the_deadline_grows_with_the_object_count_and_is_capped() -> None:
    assert enumeration_seconds(3.0, 0) == 12.0
    assert enumeration_seconds(3.0, 1000) == 132.0
    assert enumeration_seconds(3.0, DEFAULT_MAX_OBJECTS) == ENUMERATION_MAX_SECONDS


def test_a_device_that_dribbles_answers_ends_at_its_deadline() -> None:
    # Every request is answered within the request timeout, but so slowly that 100 objects would
    # take seconds: the enumeration ends with the device's error at its deadline.
    timeout = 0.05
    device = FakeDevice(objects=analog_inputs(100), delay=0.03)
    target = DeviceTarget(ADDRESS, INSTANCE, 50, "no-segmentation")
    started = time.monotonic()
    with pytest.raises(DeviceTimeout, match="point list of 100 objects not finished within"):
        run(lambda: list_points(device, target, timeout=timeout, in_flight=1, profile=DeviceProfile()))
    elapsed = time.monotonic() - started
    assert enumeration_seconds(timeout, 100) <= elapsed < enumeration_seconds(timeout, 100) + 0.5


def test_read_object_details_alone_has_a_deadline_too() -> None:
    device = FakeDevice(delay=0.03)
    target = DeviceTarget(ADDRESS, INSTANCE, 50, "no-segmentation")
    with pytest.raises(DeviceTimeout):
        run(lambda: read_object_details(device, target, [("analog-input", n) for n in range(1, 101)],
                                        timeout=0.05, in_flight=1, profile=DeviceProfile()))


# -- the setting -------------------------------------------------------------------------------------


def test_max_objects_setting_reaches_the_worker_engine(tmp_path) -> None:
    app = build_app(tmp_path, BACNET_MAX_OBJECTS=1234)
    service = WorkerService(app, make_broker(""), BindAddress("127.0.0.1", 8, 47809))
    assert service.engine.max_objects == 1234
    assert load_settings().BACNET_MAX_OBJECTS == DEFAULT_MAX_OBJECTS


@pytest.mark.parametrize("value", ["0", "-5", "1000001", "many"])
def test_a_bad_max_objects_is_one_line_naming_the_setting(value) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(BACNET_MAX_OBJECTS=value)
    assert "BACNET_MAX_OBJECTS" in str(error.value) and "\n" not in str(error.value)


# -- memory --------------------------------------------------------------------------------------------


class FakeRuntime:
    """Runs the engine's coroutines on a fresh loop against ``app`` (what BACnetRuntime.call does)."""

    request_timeout = 1.0

    def __init__(self, app: FakeDevice) -> None:
        self.app = app

    def call(self, make, timeout):
        return asyncio.run(make(self.app))


@pytest.mark.parametrize("objects, released", [(RELEASE_AFTER_OBJECTS, 1), (10, 0)])
def test_memory_is_released_after_a_large_enumeration_only(monkeypatch, objects, released) -> None:
    calls = []
    monkeypatch.setattr("bacnet.engine.release_memory", lambda: calls.append(1))
    engine = Engine(FakeRuntime(FakeDevice(objects=analog_inputs(objects))))  # type: ignore[arg-type]
    [points] = engine.list_points([SEGMENTING])
    assert len(points) == objects and len(calls) == released


def test_free_heap_pages_are_handed_back_on_glibc() -> None:
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("malloc_trim is glibc's")
    assert _malloc_trim() is not None
    release_memory()
