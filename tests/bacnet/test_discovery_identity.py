"""Who may answer a discovery: directed Who-Is hears only the asked addresses; every address that
answers for an instance is kept (a moved device, a duplicate instance or an impostor is never
hidden behind another answer). Loopback only."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from bacpypes3.apdu import IAmRequest
from bacpypes3.pdu import Address

from bacnet import discovery
from bacnet.discovery import IAmCollector, canonical_address
from bacnet.simulator.runner import Simulator
from tests.conftest import randomly_numbered_devices
from tests.workers.fakes import send_i_am


@pytest.fixture
def devices(loopback_block):
    with randomly_numbered_devices(loopback_block, points=2) as sim:
        yield sim


def i_am(instance: int, source: str) -> IAmRequest:
    apdu = IAmRequest(iAmDeviceIdentifier=("device", instance), maxAPDULengthAccepted=1476,
                      segmentationSupported="segmented-both", vendorID=15)
    apdu.pduSource = Address(source)
    return apdu


def pairs(iams) -> list[tuple[int, str]]:
    return [(iam.device_instance, iam.address) for iam in iams]


@contextmanager
def forged_i_am_after(delay: float, source: str, engine, instance: int) -> Iterator[None]:
    """An unsolicited I-Am for ``instance`` from ``source``, sent ``delay`` s into the block."""
    timer = threading.Timer(delay, send_i_am, (source, (engine.runtime.host, engine.runtime.port), instance))
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        timer.join()


def test_canonical_addresses_compare_like_i_am_sources():
    assert canonical_address("192.0.2.20:47808") == "192.0.2.20"
    assert canonical_address("192.0.2.20:47809") == "192.0.2.20:47809"
    assert canonical_address("2001:0x0c") == "2001:12"
    assert canonical_address("not an address") == "not an address"


def test_the_collector_keeps_every_address_and_filters_sources():
    collector = IAmCollector(None, None, expected=2, accept_from=frozenset({"192.0.2.20", "192.0.2.21"}))
    collector.match(i_am(7, "192.0.2.20"))
    collector.match(i_am(7, "192.0.2.99"))  # not asked: ignored
    collector.match(i_am(7, "192.0.2.20"))  # the same answer again
    assert pairs(collector.answers()) == [(7, "192.0.2.20")] and collector.ignored == 1
    assert not collector.enough.is_set()
    collector.match(i_am(7, "192.0.2.21"))  # a second address for the instance: kept, in arrival order
    assert pairs(collector.answers()) == [(7, "192.0.2.20"), (7, "192.0.2.21")]
    assert collector.enough.is_set()


def test_the_collector_holds_a_bounded_number_of_answers(monkeypatch):
    monkeypatch.setattr(discovery, "MAX_ANSWERS", 3)
    collector = IAmCollector(None, None, expected=None)
    for n in range(10):
        collector.match(i_am(100 + n, f"192.0.2.{n + 1}"))
    assert len(collector.answers()) == 3 and collector.ignored == 7


def test_a_directed_discovery_ignores_an_i_am_from_an_address_it_did_not_ask(engine, devices, loopback_block):
    instance, impostor = devices.instance, f"127.0.{loopback_block}.20"
    devices.device(instance).set_answering(False)  # the asked device is slow today
    with forged_i_am_after(0.2, impostor, engine, instance):
        assert engine.find([devices.addresses[0]], timeout=0.8) == []
    with forged_i_am_after(0.2, impostor, engine, instance):
        assert engine.who_is([devices.addresses[0]], timeout=0.8) == []
    # The same frame is heard by a broadcast, which may find devices anywhere.
    with forged_i_am_after(0.2, impostor, engine, instance):
        found = engine.find(["broadcast"], timeout=0.8, low_limit=instance, high_limit=instance)
    assert pairs(found) == [(instance, impostor)]


def test_two_addresses_answering_for_one_instance_are_both_reported(engine, devices, loopback_block):
    twin = Simulator(1, 2, base_address=f"127.0.{loopback_block}.20", first_instance=devices.instance)
    twin.start()
    try:
        found = engine.find(["broadcast"], timeout=0.8, low_limit=devices.instance, high_limit=devices.instance)
        infos, failed = engine.discover([devices.addresses[0], twin.addresses[0]], timeout=0.8)
    finally:
        twin.stop()
    expected = {(devices.instance, devices.addresses[0]), (devices.instance, twin.addresses[0])}
    assert set(pairs(found)) == expected and len(found) == 2
    assert {(info.device_instance, info.address) for info in infos} == expected and failed == []
