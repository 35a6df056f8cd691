"""The engine against simulated devices on loopback."""

import socket
import time

import pytest

from bacnet.errors import BindError
from bacnet.runtime import BACnetRuntime, check_port_free
from bacnet.types import DeviceTarget


def targets_of(found):
    return [DeviceTarget(info.address, info.device_instance, info.max_apdu, info.segmentation) for info in found]


def test_directed_discovery_reads_device_properties(engine, simulator):
    found, failed = engine.discover(simulator.addresses, timeout=2)
    assert failed == []
    assert [info.device_instance for info in found] == [2001, 2002, 2003]
    ahu = found[0]
    assert ahu.name == "AHU-1"
    assert ahu.address == simulator.addresses[0]
    assert ahu.vendor_id == 999
    assert ahu.vendor_name == "bacnet-pipeline simulator"
    assert ahu.model_name == "SimAHU 3000"
    assert ahu.firmware_revision == "1.4.2"
    assert ahu.application_software_version == "sim-2026.11"
    assert ahu.protocol_revision == 22
    assert ahu.max_apdu == 1476
    assert ahu.segmentation == "segmented-both"


def test_discovery_respects_instance_limits(engine, simulator):
    found, _ = engine.discover(simulator.addresses, low_limit=2002, high_limit=2002, timeout=1)
    assert [info.device_instance for info in found] == [2002]


def test_discovery_of_nothing_is_empty_not_an_error(engine, loopback_block):
    found, failed = engine.discover([f"127.0.{loopback_block}.99"], timeout=0.5)
    assert found == [] and failed == []


def test_points_have_names_units_and_commandability(engine, simulator):
    found, _ = engine.discover(simulator.addresses[:1], timeout=2)
    [points] = engine.list_points(targets_of(found))
    assert len(points) == 12
    by_name = {point.name: point for point in points}
    supply = by_name["AHU-1 Supply Air Temp"]
    assert (supply.object_type, supply.units, supply.commandable, supply.value_type) == (
        "analog-input", "degrees-celsius", False, "real")
    setpoint = by_name["AHU-1 Supply Air Temp Setpoint"]
    assert (setpoint.object_type, setpoint.commandable) == ("analog-value", True)
    status = by_name["AHU-1 Supply Fan Status"]
    assert (status.object_type, status.units, status.commandable, status.value_type) == (
        "binary-value", "", False, "enumerated")
    assert by_name["AHU-1 Supply Fan Command"].commandable is True


def test_read_values_returns_values_and_per_point_errors(engine, simulator):
    found, _ = engine.discover(simulator.addresses, timeout=2)
    targets = targets_of(found)
    [points] = engine.list_points(targets[:1])
    refs = [point.ref for point in points] + [("analog-input", 999)]
    [outcome] = engine.read_values([(targets[0], refs)])
    assert outcome.ok
    assert len(outcome.values) == 12
    assert outcome.errors == {("analog-input", 999): "error: unknown-object"}
    supply = outcome.values[("analog-input", 1)]
    assert 10 < supply.number < 17 and supply.text is None
    fan = outcome.values[("binary-value", 1)]
    assert fan.number in (0.0, 1.0) and fan.text in ("active", "inactive")


def test_a_dead_device_costs_one_timeout_and_others_are_read(engine, simulator):
    found, _ = engine.discover(simulator.addresses, timeout=2)
    targets = targets_of(found)
    simulator.device(2002).set_answering(False)
    refs = [("analog-input", i) for i in range(1, 5)]
    started = time.monotonic()
    outcomes = engine.read_values([(target, refs) for target in targets])
    elapsed = time.monotonic() - started
    assert [outcome.ok for outcome in outcomes] == [True, False, True]
    assert "no answer within 1 s" in outcomes[1].device_error
    assert len(outcomes[0].values) == 4 and len(outcomes[2].values) == 4
    # One request timeout (1 s) for the dead device, not one per point or per retry.
    assert elapsed < 2.5


def test_port_clash_is_a_clear_error(runtime):
    other = BACnetRuntime(runtime.host, 8, runtime.port)
    with pytest.raises(BindError, match=f"port 47809 on {runtime.host} is already in use"):
        other.start()


def test_address_not_on_this_host_is_a_clear_error():
    # TEST-NET-1 (RFC 5737) is never configured on a test machine; bind fails before any traffic.
    with pytest.raises(BindError, match="not configured on any interface"):
        check_port_free("192.0.2.77", 47809)


def test_check_port_free_accepts_a_free_port(loopback_block):
    check_port_free(f"127.0.{loopback_block}.5", 47809)
    # and leaves nothing bound behind
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind((f"127.0.{loopback_block}.5", 47809))
    probe.close()
