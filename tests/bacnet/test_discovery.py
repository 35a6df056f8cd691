"""Every discovery mode against simulated devices on loopback, and the target parsing behind it.

Broadcasts on loopback reach every simulated device on this machine, including other tests'
(127.255.255.255:47808 is shared), so broadcast tests use instance limits around devices with
random instances, or assert only that ours are among the answers.
"""

from __future__ import annotations

import time

import pytest

from bacnet.discovery import DiscoveryProgress, plan_targets
from bacnet.errors import AddressError
from bacnet.sweep import AddressRange, parse_range
from workers.catalog import InvalidKwargs, parse_discovery_targets, validate_kwargs
from tests.conftest import randomly_numbered_devices


@pytest.fixture
def devices(loopback_block):
    """Three simulated devices at 127.0.<block>.10-12 with random instances (first = .instance)."""
    with randomly_numbered_devices(loopback_block, points=4) as sim:
        yield sim


def ours(devices) -> dict:
    return {"low_limit": devices.instance, "high_limit": devices.instance + 2}


def found_pairs(iams) -> list[tuple[int, str]]:
    return [(iam.device_instance, iam.address) for iam in iams]


def expected_pairs(devices, indexes=(0, 1, 2)) -> list[tuple[int, str]]:
    return [(devices.instance + i, devices.addresses[i]) for i in indexes]


# -- the modes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["broadcast", "local-broadcast"])
def test_broadcast_finds_every_device(engine, devices, word):
    # The collector is on 47809: its broadcast also goes to 47808 (bacnet.links), or nobody hears it.
    assert found_pairs(engine.find([word], timeout=1, **ours(devices))) == expected_pairs(devices)


def test_broadcast_without_limits_finds_ours_but_never_ourselves(engine, devices):
    iams = engine.find(["broadcast"], timeout=1)
    assert set(expected_pairs(devices)) <= set(found_pairs(iams))
    assert engine.runtime.device_instance not in {iam.device_instance for iam in iams}


def test_directed_who_is_to_ourselves_is_not_a_device(engine):
    # bacpypes3 short-circuits 127.x at our own port to us, and we answer our own Who-Is.
    assert engine.find([f"{engine.runtime.host}:{engine.runtime.port}"], timeout=0.5) == []


def test_sweep_of_a_cidr_block_finds_its_devices_and_reports_progress(engine, devices, loopback_block):
    engine.progress_interval = 0.05
    reports: list[DiscoveryProgress] = []
    started = time.monotonic()
    iams = engine.find([f"127.0.{loopback_block}.0/28"], sweep_rate=40, timeout=0.5, on_progress=reports.append)
    elapsed = time.monotonic() - started
    assert found_pairs(iams) == expected_pairs(devices)
    # 14 hosts at 40 per second cannot take less than ~0.35 s: the pace is kept.
    assert elapsed >= 0.3
    assert reports and all(report.total == 14 for report in reports)
    sent = [report.sent for report in reports]
    assert sent == sorted(sent) and sent[-1] == 14
    assert reports[-1].as_dict() == {"sent": 14, "total": 14, "found": 3}


@pytest.mark.parametrize("spec, indexes", [
    ("127.0.{b}.11-127.0.{b}.40", (1, 2)),
    ("127.0.{b}.9-10", (0,)),
    ("127.0.{b}.12/32", (2,)),
    ("127.0.{b}.10/31", (0, 1)),
])
def test_sweep_of_a_range(engine, devices, loopback_block, spec, indexes):
    iams = engine.find([spec.format(b=loopback_block)], timeout=0.5)
    assert found_pairs(iams) == expected_pairs(devices, indexes)


def test_sweep_respects_instance_limits_and_skips_dead_devices(engine, devices, loopback_block):
    devices.device(devices.instance + 1).set_answering(False)
    iams = engine.find([f"127.0.{loopback_block}.0/28"], low_limit=devices.instance + 1,
                       high_limit=devices.instance + 2, timeout=0.5)
    assert found_pairs(iams) == expected_pairs(devices, (2,))


def test_mixed_targets_and_full_discovery(engine, devices, loopback_block):
    found, failed = engine.discover([devices.addresses[0], f"127.0.{loopback_block}.11-12"], timeout=0.5)
    assert failed == []
    assert [(info.device_instance, info.name) for info in found] == [
        (devices.instance, "AHU-1"), (devices.instance + 1, "VAV-1"), (devices.instance + 2, "VAV-2")]


def test_directed_only_returns_as_soon_as_everyone_answered(engine, devices):
    started = time.monotonic()
    assert found_pairs(engine.find(devices.addresses, timeout=20)) == expected_pairs(devices)
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("targets, fragment", [
    (["127.0.0.0/8"], "has 16777214 addresses; a sweep may cover at most 65536"),
    (["127.1.0.0/16", "127.2.0.0/16"], "add up to 131068 addresses"),
    (["224.0.0.1-224.0.0.9"], "overlaps 224.0.0.0/3"),
    (["127.0.0.20-127.0.0.10"], "ends before it starts"),
    (["bms.example.com"], "not an IPv4 address"),
])
def test_bad_or_absurd_targets_are_refused_before_anything_is_sent(engine, targets, fragment):
    with pytest.raises(AddressError, match=fragment):
        engine.find(targets, timeout=0.5)


def test_sweep_rate_is_bounded(engine, loopback_block):
    with pytest.raises(ValueError, match="sweep rate"):
        engine.find([f"127.0.{loopback_block}.0/30"], sweep_rate=10_000)


# -- parsing -----------------------------------------------------------------------------------------


def test_plan_sorts_targets_by_kind():
    plan = plan_targets([" 192.0.2.20 ", "2001:0x0c", "192.0.2.0/30", "Broadcast", "local-broadcast",
                         "192.0.2.20", "", "198.18.0.5-7:47809"])
    assert plan.addresses == ("192.0.2.20", "2001:12")
    assert [str(swept) for swept in plan.ranges] == ["192.0.2.1-192.0.2.2", "198.18.0.5-198.18.0.7:47809"]
    assert plan.broadcast == "global"  # the wider scope wins
    assert plan.sweep_size == 5 and not plan.directed_only
    assert plan_targets(["local-broadcast"]).broadcast == "local"
    assert plan_targets(["192.0.2.1"]).directed_only


def test_range_forms():
    assert list(parse_range("192.0.2.0/30")) == ["192.0.2.1", "192.0.2.2"]
    assert list(parse_range("192.0.2.8/31:47809")) == ["192.0.2.8:47809", "192.0.2.9:47809"]
    assert list(parse_range("192.0.2.250-192.0.3.1")) == ["192.0.2.250", "192.0.2.251", "192.0.2.252",
                                                          "192.0.2.253", "192.0.2.254", "192.0.2.255",
                                                          "192.0.3.0", "192.0.3.1"]
    assert len(parse_range("198.18.0.0/16")) == 65534
    assert isinstance(parse_range("192.0.2.1-1"), AddressRange) and len(parse_range("192.0.2.1-1")) == 1


# The catalog (no bacnet imports) mirrors the engine's rules; both must agree on every input.
AGREEMENT_CASES = [
    "192.0.2.20", "192.0.2.20:47809", "192.0.2.20:0", "192.0.2.20:70000", "2001:12", "2001:0x0c",
    "2001:192.0.2.5", "65535:1", "bms.example.com", "broadcast", "LOCAL-BROADCAST", "global-broadcast",
    "192.0.2.0/24", "192.0.2.0/24:47809", "192.0.2.0/33", "192.0.2.0/24:0", "192.0.2.10-192.0.2.40",
    "192.0.2.10-40", "192.0.2.10-300", "192.0.2.40-192.0.2.10", "198.18.0.0/15", "198.18.0.0/16",
    "0.0.0.0/24", "224.0.0.0/4", "239.1.1.1-239.1.1.3", "192.0.2.1/32", "192.0.2.0/31", "a-b", "1.2.3/24",
]


@pytest.mark.parametrize("text", AGREEMENT_CASES)
def test_catalog_and_engine_agree_on_targets(text):
    try:
        engine_size = plan_targets([text]).sweep_size
    except AddressError:
        engine_size = None
    try:
        catalog_size = parse_discovery_targets([text]).sweep_size
    except ValueError:
        catalog_size = None
    assert catalog_size == engine_size


def test_discover_kwargs_take_every_mode():
    kwargs = {"site_id": 1, "targets": ["192.0.2.20", "192.0.2.0/28", "broadcast"], "ranges": ["198.18.0.1-9"],
              "broadcast": True, "sweep_rate": 50}
    assert validate_kwargs("discover_devices", kwargs) == {**kwargs, "sweep_rate": 50.0}


@pytest.mark.parametrize("kwargs, fragment", [
    ({"ranges": ["192.0.2.20"]}, "ranges: '192.0.2.20' is not a range"),
    ({"targets": ["192.0.0.0/8"]}, "a sweep may cover at most 65536"),
    ({"targets": ["bms.example.com"]}, "is not a BACnet address"),
    ({"ranges": ["198.18.0.0/16"], "sweep_rate": 10}, "takes 6553 s, more than the 480 s"),
    ({"sweep_rate": 5000}, "sweep_rate: Input should be less than or equal to 2000"),
    ({"broadcast": "yes"}, "broadcast: Input should be a valid boolean"),
])
def test_discover_kwargs_refuse_bad_modes(kwargs, fragment):
    with pytest.raises(InvalidKwargs) as caught:
        validate_kwargs("discover_devices", {"site_id": 1, **kwargs})
    assert fragment in str(caught.value)
