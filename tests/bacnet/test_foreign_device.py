"""Foreign-device registration with a BBMD we start ourselves, on loopback.

A foreign device never broadcasts on its own link: its broadcasts go to the BBMD as
Distribute-Broadcast-To-Network, and the BBMD re-broadcasts them on its network. So a broadcast
Who-Is from a foreign-device runtime that finds the BBMD's devices went through the BBMD.
"""

from __future__ import annotations

import logging
import random
import time

import pytest
from bacpypes3.ipv4.bvll import DistributeBroadcastToNetwork

from app.settings import ConfigError, load_settings
from bacnet.engine import Engine
from bacnet.foreign import ForeignRegistrationError
from bacnet.runtime import BACnetRuntime
from tests.bacnet.apps import AppThread, build_bbmd
from tests.helpers import wait_until
from tests.conftest import randomly_numbered_devices


class BBMD:
    """A bacpypes3 BBMD on its own loop thread that counts what it receives."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.thread = AppThread("bacnet-test-bbmd")
        self.registrations: list[float] = []
        self.distributed = 0

    def start(self) -> BBMD:
        app = self.thread.start(lambda: build_bbmd(self.thread, self.address, 8, random.randrange(100_000, 4_000_000)))
        self.link = next(iter(app.link_layers.values()))
        register, confirmation = self.link.register_foreign_device, self.link.confirmation

        def counting_register(addr, ttl):
            self.registrations.append(time.monotonic())
            return register(addr, ttl)

        async def counting_confirmation(lpdu):
            if isinstance(lpdu, DistributeBroadcastToNetwork):
                self.distributed += 1
            await confirmation(lpdu)

        self.link.register_foreign_device = counting_register
        self.link.confirmation = counting_confirmation
        return self

    def foreign_devices(self) -> list[str]:
        return self.thread.call(lambda: [str(entry.fdAddress) for entry in self.link.bbmdFDT])

    def stop(self) -> None:
        self.thread.stop()


@pytest.fixture
def bbmd(loopback_block):
    server = BBMD(f"127.0.{loopback_block}.2").start()
    yield server
    server.stop()


@pytest.fixture
def devices(loopback_block):
    with randomly_numbered_devices(loopback_block, points=2) as sim:
        yield sim


@pytest.fixture
def make_foreign(loopback_block):
    """Build and start foreign-device runtimes at 127.0.<block>.1:47809; all stopped afterwards."""
    started: list[BACnetRuntime] = []

    def make(bbmd_address: str, ttl: int = 60, request_timeout: float = 1.0) -> BACnetRuntime:
        runtime = BACnetRuntime(f"127.0.{loopback_block}.1", 8, 47809, request_timeout=request_timeout,
                                bbmd_address=bbmd_address, bbmd_ttl=ttl)
        runtime.start()
        started.append(runtime)
        return runtime

    yield make
    for runtime in started:
        runtime.stop()


def registered(runtime: BACnetRuntime) -> bool:
    status = runtime.registration_status
    return status is not None and status.registered


def test_broadcast_who_is_reaches_the_bbmd_network(make_foreign, bbmd, devices):
    runtime = make_foreign(bbmd.address)
    wait_until(lambda: registered(runtime), timeout=10, interval=0.05)
    assert bbmd.foreign_devices() == [f"{runtime.host}:{runtime.port}"]
    status = runtime.registration_status
    assert (status.bbmd, status.ttl, status.last_error) == (bbmd.address, 60, "")

    found, failed = Engine(runtime).discover(["broadcast"], low_limit=devices.instance,
                                             high_limit=devices.instance + 2, timeout=1)
    assert failed == []
    assert [(info.device_instance, info.address, info.name) for info in found] == [
        (devices.instance, devices.addresses[0], "AHU-1"), (devices.instance + 1, devices.addresses[1], "VAV-1"),
        (devices.instance + 2, devices.addresses[2], "VAV-2")]
    assert bbmd.distributed == 1


def test_re_registration_comes_before_the_ttl_runs_out(make_foreign, bbmd):
    ttl = 2
    runtime = make_foreign(bbmd.address, ttl=ttl)
    wait_until(lambda: len(bbmd.registrations) >= 3, timeout=10, interval=0.05)
    gaps = [later - earlier for earlier, later in zip(bbmd.registrations, bbmd.registrations[1:])]
    assert all(gap < ttl for gap in gaps), gaps
    assert registered(runtime) and runtime.registration_status.expires_at > time.time()
    assert bbmd.foreign_devices() == [f"{runtime.host}:{runtime.port}"]


def test_no_bbmd_is_a_visible_failure(make_foreign, loopback_block, caplog):
    caplog.set_level(logging.ERROR, logger="bacnet.foreign")
    nobody = f"127.0.{loopback_block}.3"
    runtime = make_foreign(nobody, request_timeout=0.3)
    wait_until(lambda: runtime.registration_status.state == "failed", timeout=10, interval=0.05)
    assert runtime.registration_status.last_error == f"no answer from BBMD {nobody} within 0.3 s"
    assert any(f"foreign-device registration with BBMD {nobody} failed: no answer" in record.getMessage()
               for record in caplog.records)
    with pytest.raises(ForeignRegistrationError, match=f"failed with BBMD {nobody}: no answer"):
        Engine(runtime).find(["broadcast"], timeout=0.2)


def test_a_refusal_is_a_visible_failure(make_foreign, devices):
    # A plain BACnet/IP device is no BBMD: it answers Register-Foreign-Device with a NAK.
    runtime = make_foreign(devices.addresses[0])
    wait_until(lambda: runtime.registration_status.state == "failed", timeout=10, interval=0.05)
    assert "refused the registration (Register-Foreign-Device NAK, 0x0030)" in runtime.registration_status.last_error


def test_registration_recovers_when_the_bbmd_comes_up(make_foreign, loopback_block):
    address = f"127.0.{loopback_block}.2"
    runtime = make_foreign(address, request_timeout=0.3)
    wait_until(lambda: runtime.registration_status.state == "failed", timeout=10, interval=0.05)
    server = BBMD(address).start()
    try:
        wait_until(lambda: registered(runtime), timeout=15, interval=0.05)
        assert server.foreign_devices() == [f"{runtime.host}:{runtime.port}"]
    finally:
        server.stop()


def test_a_normal_runtime_has_no_registration(runtime):
    assert runtime.registration_status is None


@pytest.mark.parametrize("kwargs, fragment", [
    ({"bbmd_address": "bbmd.example.com"}, "is not an IPv4 address"),
    ({"bbmd_address": "192.0.2.1:0"}, "port must be a number"),
    ({"bbmd_address": "192.0.2.1", "bbmd_ttl": 0}, "TTL must be 1..65535"),
])
def test_bad_foreign_device_options(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        BACnetRuntime("127.0.0.1", 8, 47809, **kwargs)


def test_bbmd_settings(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .env here
    assert load_settings().BACNET_BBMD_ADDRESS == ""
    settings = load_settings(BACNET_BBMD_ADDRESS=" 192.0.2.1:47809 ", BACNET_BBMD_TTL=120)
    assert (settings.BACNET_BBMD_ADDRESS, settings.BACNET_BBMD_TTL) == ("192.0.2.1:47809", 120)
    with pytest.raises(ConfigError, match="^BACNET_BBMD_ADDRESS: must be the BBMD's IPv4 address"):
        load_settings(BACNET_BBMD_ADDRESS="bbmd.example.com")
    with pytest.raises(ConfigError, match="^BACNET_BBMD_TTL: Input should be greater than or equal to 10"):
        load_settings(BACNET_BBMD_TTL=5)
