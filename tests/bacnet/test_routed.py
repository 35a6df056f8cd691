"""Devices behind a BACnet router: discovered, enumerated and read at their network:MAC address.

The router is a bacpypes3 application with a BACnet/IP port on loopback and a second port on a
bacpypes3 virtual network, where a device sits at MAC 12. Our collector finds the router with
Who-Is-Router-To-Network (a broadcast: on loopback it only reaches the router on 47808 because
our broadcasts are mirrored to the standard port, see bacnet.links).
"""

from __future__ import annotations

import pytest

from bacnet.types import DeviceTarget
from tests.bacnet.apps import ROUTED_MAC, start_routed_site


@pytest.fixture
def routed(loopback_block):
    thread, site = start_routed_site(f"127.0.{loopback_block}.2")
    yield site
    thread.stop()


def test_directed_discovery_enumeration_and_reads_through_a_router(engine, routed):
    found, failed = engine.discover([routed.device_address], timeout=4)
    assert failed == []
    [info] = found
    assert (info.device_instance, info.address, info.name) == (
        routed.device_instance, routed.device_address, f"Routed-{routed.device_instance}")
    target = DeviceTarget(info.address, info.device_instance, info.max_apdu, info.segmentation)

    [points] = engine.list_points([target])
    assert sorted((point.ref, point.name, point.units) for point in points) == [
        (("analog-input", 1), "AI 1", "degrees-celsius"), (("analog-input", 2), "AI 2", "degrees-celsius")]

    [outcome] = engine.read_values([(target, [("analog-input", 1), ("analog-input", 2), ("analog-input", 9)])])
    assert outcome.ok
    assert {ref: value.number for ref, value in outcome.values.items()} == {
        ("analog-input", 1): 21.5, ("analog-input", 2): 30.25}
    assert outcome.errors == {("analog-input", 9): "error: unknown-object"}


def test_a_global_broadcast_crosses_the_router_and_a_local_one_does_not(engine, routed):
    limits = {"low_limit": routed.router_instance, "high_limit": routed.device_instance}
    found = engine.find(["broadcast"], timeout=1, **limits)
    assert [(iam.device_instance, iam.address) for iam in found] == [
        (routed.router_instance, routed.router_address), (routed.device_instance, routed.device_address)]
    local = engine.find(["local-broadcast"], timeout=1, **limits)
    assert [iam.device_instance for iam in local] == [routed.router_instance]


def test_an_unknown_network_costs_one_timeout(engine, routed):
    # No router answers for this network: bacpypes3 gives up the route; we report nothing found.
    unknown = routed.network + 1 if routed.network < 65534 else routed.network - 1
    assert engine.find([f"{unknown}:{ROUTED_MAC}"], timeout=2.5) == []
