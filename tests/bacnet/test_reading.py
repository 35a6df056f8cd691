"""The read path against simulated devices on loopback: batches that fit, shrink and fall back."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from app.settings import BindAddress
from bacnet.address import to_bacpypes
from bacnet.engine import Engine
from bacnet.properties import DeviceProfile, DeviceReader
from bacnet.reading import value_batch
from bacnet.simulator.device import RequestCounter
from bacnet.simulator.runner import Simulator
from bacnet.types import DeviceTarget
from tests.conftest import build_app
from workers.broker import make_broker
from workers.service import WorkerService

VALUES = ("presentValue",)


@contextmanager
def simulated(block: int, devices: int = 1, points: int = 12, **options) -> Iterator[Simulator]:
    """Simulated devices on 127.0.<block>.20 and up (the shared fixtures use .10-.12)."""
    simulator = Simulator(devices, points, base_address=f"127.0.{block}.20", first_instance=5001, **options)
    simulator.start()
    try:
        yield simulator
    finally:
        simulator.stop()


def point_refs(simulator: Simulator, index: int = 0) -> list[tuple[str, int]]:
    """Every point object of a simulated device, in object-list order."""
    app = simulator.devices[index].app
    return [(str(objid[0]), int(objid[1])) for objid in app.objectIdentifier
            if str(objid[0]) not in ("device", "network-port")]


def target(simulator: Simulator, index: int = 0, **claims) -> DeviceTarget:
    """What the database would know about the device; ``claims`` override it (stale records)."""
    device = simulator.devices[index]
    fields = {"max_apdu": device.max_apdu, "segmentation": device.segmentation, **claims}
    return DeviceTarget(device.address, device.instance, **fields)


@pytest.mark.parametrize("max_apdu", [480, 206])
def test_non_segmenting_device_gets_batches_that_fit(engine, loopback_block, max_apdu):
    with simulated(loopback_block, points=120, max_apdu=max_apdu, segmentation="no-segmentation") as sim:
        refs = point_refs(sim)
        [outcome] = engine.read_values([(target(sim), refs)])
        assert outcome.ok and outcome.errors == {}
        assert len(outcome.values) == 120
        # Every request fitted: exactly one per batch, nothing aborted and retried.
        assert outcome.requests == math.ceil(120 / value_batch(target(sim))) == sim.devices[0].requests.total


def test_batch_shrinks_when_the_device_aborts_an_answer_too_big(engine, loopback_block):
    # The database says 1476 bytes and segmentation (a stale record); the device is a
    # non-segmenting 480-byte controller, which aborts with segmentation-not-supported.
    with simulated(loopback_block, points=200, max_apdu=480, segmentation="no-segmentation") as sim:
        refs = point_refs(sim)
        stale = target(sim, max_apdu=1476, segmentation="segmented-both")
        [first] = engine.read_values([(stale, refs)])
        assert first.ok and first.errors == {} and len(first.values) == 200
        learned = engine.profile(stale.address).max_batch[VALUES]
        assert learned < value_batch(stale)
        assert first.requests > math.ceil(200 / learned)  # the aborted tries
        # The next cycle starts at the size that worked: no aborts any more.
        [second] = engine.read_values([(stale, refs)])
        assert len(second.values) == 200 and second.requests == math.ceil(200 / learned)


def test_what_is_learned_for_values_does_not_shrink_other_reads(loopback_block, runtime):
    with simulated(loopback_block, points=60, max_apdu=480, segmentation="no-segmentation") as sim:
        profile = DeviceProfile()
        refs = point_refs(sim)
        address = to_bacpypes(sim.devices[0].address)

        async def read(app, prop: str, batch: int, count: int) -> DeviceReader:
            reader = DeviceReader(app, address, timeout=1.0, in_flight=2, batch=batch, profile=profile)
            await reader.read([(ref, prop, None) for ref in refs[:count]])
            return reader

        # 60 present values do not fit 480 bytes: learned 30.
        values = runtime.call(lambda app: read(app, "presentValue", 60, 60), 20)
        assert len(values.results) == 60 and profile.max_batch == {VALUES: 30}
        # 35 object types (enumerated, 13 bytes each) fit one answer: one request, not capped at 30.
        flags = runtime.call(lambda app: read(app, "objectType", 35, 35), 20)
        assert len(flags.results) == 35 and flags.requests == 1
        assert str(flags.results[(refs[0], "objectType", None)]) == "analog-input"
        assert profile.rpm_supported


def test_device_that_rejects_rpm_is_read_property_by_property(engine, loopback_block):
    with simulated(loopback_block, points=12, rpm=False) as sim:
        refs = point_refs(sim) + [("analog-input", 999)]
        [outcome] = engine.read_values([(target(sim), refs)])
        assert outcome.ok
        assert len(outcome.values) == 12
        assert outcome.errors == {("analog-input", 999): "error: unknown-object"}
        assert engine.profile(target(sim).address).rpm_supported is False
        # Learned: the next read sends no ReadPropertyMultiple first, one request per point.
        [again] = engine.read_values([(target(sim), refs)])
        assert len(again.values) == 12 and again.requests == 13


def test_bad_objects_never_fail_their_batch(engine, loopback_block):
    with simulated(loopback_block, points=50, max_apdu=480, segmentation="no-segmentation") as sim:
        good = point_refs(sim)
        batch = value_batch(target(sim))
        # Unknown objects mixed into good batches, and one batch made only of unknown objects
        # (bacpypes3 then fails the whole request with unknown-object).
        mixed = [ref for pair in zip(good, [("analog-value", 900 + i) for i in range(50)]) for ref in pair]
        only_bad = [("binary-value", 800 + i) for i in range(batch)]
        [outcome] = engine.read_values([(target(sim), mixed + only_bad)])
        assert outcome.ok
        assert set(outcome.values) == set(good)
        assert len(outcome.errors) == 50 + batch
        assert set(outcome.errors.values()) == {"error: unknown-object"}
        # A request-level error is not a refusal of the service.
        assert engine.profile(target(sim).address).rpm_supported is True


@pytest.mark.parametrize("in_flight", [1, 2])
def test_requests_in_flight_per_device_are_bounded(runtime, loopback_block, in_flight):
    # 206-byte answers hold 10 values: 60 points are 6 requests; 100 ms per answer lets them pile up.
    with simulated(loopback_block, points=60, max_apdu=206, segmentation="no-segmentation", latency_ms=100) as sim:
        engine = Engine(runtime, in_flight=in_flight)
        [outcome] = engine.read_values([(target(sim), point_refs(sim))])
        assert len(outcome.values) == 60 and outcome.requests == 6
        assert sim.devices[0].requests.peak == in_flight


def test_concurrent_calls_share_the_device_bound(runtime, loopback_block):
    with simulated(loopback_block, points=60, max_apdu=206, segmentation="no-segmentation", latency_ms=100) as sim:
        engine = Engine(runtime, in_flight=2)
        request = [(target(sim), point_refs(sim))]
        outcomes: list = []
        threads = [threading.Thread(target=lambda: outcomes.extend(engine.read_values(request))) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert [len(outcome.values) for outcome in outcomes] == [60, 60, 60]
        # Three jobs at once still give the device at most two requests at a time.
        assert sim.devices[0].requests.peak == 2


def test_devices_worked_on_at_once_are_bounded(runtime, loopback_block):
    with simulated(loopback_block, devices=4, points=20, latency_ms=100) as sim:
        shared = RequestCounter()
        for device in sim.devices:
            device.app.counter = shared
        engine = Engine(runtime, in_flight=1, max_devices=2)
        outcomes = engine.read_values([(target(sim, i), point_refs(sim, i)) for i in range(4)])
        assert [len(outcome.values) for outcome in outcomes] == [20, 20, 20, 20]
        assert shared.peak == 2 and shared.total == 4


def test_worker_engine_takes_its_bounds_from_the_settings(tmp_path, loopback_block):
    app = build_app(tmp_path, BACNET_MAX_IN_FLIGHT=3, BACNET_MAX_CONCURRENT_DEVICES=7)
    service = WorkerService(app, make_broker(""), BindAddress(f"127.0.{loopback_block}.1", 8, 47809))
    assert (service.engine.in_flight, service.engine.max_devices) == (3, 7)
    explicit = WorkerService(app, make_broker(""), BindAddress(f"127.0.{loopback_block}.1", 8, 47809),
                             in_flight=1, max_devices=2)
    assert (explicit.engine.in_flight, explicit.engine.max_devices) == (1, 2)


def test_object_list_of_a_small_non_segmenting_device_is_read_by_index(engine, loopback_block):
    # 120 objects do not fit one 480-byte answer: the whole-list read aborts, so enumeration
    # reads the length and then the elements.
    with simulated(loopback_block, points=120, max_apdu=480, segmentation="no-segmentation") as sim:
        [points] = engine.list_points([target(sim)])
        assert len(points) == 120
        assert all(point.name and not point.error for point in points)
        assert {point.ref for point in points} == set(point_refs(sim))
