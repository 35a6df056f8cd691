"""The hostile simulator profile serves, on the wire, exactly the hostile data it documents
(so the hostile-site tests in tests/security/test_hostile_devices.py test something)."""

from __future__ import annotations

import math
import random
import signal
import socket

import pytest
from bacpypes3.apdu import AbortPDU
from click.testing import CliRunner

from app.cli import cli
from bacnet.address import to_bacpypes
from bacnet.simulator.hostile import (
    HUGE_OBJECT_LIST, LONG_NAME, NUL_PADDED_NAME, NUL_TEXT_VALUE, OVERSIZED_UNSIGNED, ROLES, HostileSite)
from bacnet.properties import object_identifier
from tests.processes import Process, base_env


@pytest.fixture
def hostile(loopback_block):
    site = HostileSite(2, 3, base_address=f"127.0.{loopback_block}.10",
                       first_instance=random.randrange(100_000, 4_000_000), long_list_length=250)
    site.start()
    yield site
    site.stop()


def raw_read(runtime, device, ref, prop, index=None):
    """bacpypes3's own decoding of one ReadProperty answer (nothing of ours cleans it)."""

    async def read(app):
        try:
            return await app.read_property(to_bacpypes(device.address), object_identifier(ref), prop, index)
        except AbortPDU as abort:  # bacpypes3 raises these; they derive from BaseException
            return abort

    return runtime.call(read, 5)


def test_every_role_is_a_device_of_its_own(hostile):
    assert set(hostile.roles) == set(ROLES)
    assert len(set(hostile.addresses)) == len(hostile.devices) == 2 + len(ROLES)
    assert hostile.impostor.address not in hostile.targets and len(hostile.targets) == len(hostile.devices) - 1
    assert hostile.roles["twin-a"].instance == hostile.roles["twin-b"].instance
    assert (hostile.impostor.instance, hostile.impostor.name) == (hostile.victim.instance, hostile.victim.name)
    assert hostile.victim is hostile.healthy[-1]


def test_the_hostile_devices_serve_what_they_claim(hostile, runtime):
    roles = hostile.roles
    nul, long, odd = roles["nul-strings"], roles["long-strings"], roles["odd-numbers"]
    assert raw_read(runtime, nul, ("device", nul.instance), "objectName") == NUL_PADDED_NAME
    assert raw_read(runtime, nul, ("characterstring-value", 1), "presentValue") == NUL_TEXT_VALUE
    assert raw_read(runtime, long, ("device", long.instance), "objectName") == LONG_NAME
    assert math.isnan(raw_read(runtime, odd, ("analog-input", 2), "presentValue"))
    assert raw_read(runtime, odd, ("analog-value", 1), "presentValue") == math.inf
    assert raw_read(runtime, odd, ("positive-integer-value", 1), "presentValue") == OVERSIZED_UNSIGNED
    for role, length in (("huge-object-list", HUGE_OBJECT_LIST), ("long-object-list", 250)):
        device = roles[role]
        assert raw_read(runtime, device, ("device", device.instance), "objectList", 0) == length
        # The whole list is refused as a non-segmenting device refuses an answer too big to send.
        refused = raw_read(runtime, device, ("device", device.instance), "objectList")
        assert isinstance(refused, AbortPDU) and str(refused.apduAbortRejectReason) == "segmentation-not-supported"
        # Past the real objects, the list goes on with objects that are not there.
        kind, instance = raw_read(runtime, device, ("device", device.instance), "objectList", 200)
        assert (str(kind), instance) == ("analog-value", 200)


def test_the_cli_keeps_the_impostor_on_loopback():
    result = CliRunner().invoke(cli, ["simulate", "--profile", "hostile", "--impostor-to", "192.0.2.1"])
    assert result.exit_code == 2 and "must be on loopback" in result.output


@pytest.mark.e2e
def test_simulate_profile_hostile_lists_every_role_and_sends_the_timed_impostor(tmp_path, loopback_block):
    """`bacnet-pipeline simulate --profile hostile` as an operator runs it: the listing names every
    role, and the impostor's timed I-Am (the victim's instance) reaches the given address."""
    first = random.randrange(100_000, 4_000_000)
    collector = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    collector.bind((f"127.0.{loopback_block}.1", 47809))
    collector.settimeout(10)
    simulate = Process("simulate-hostile", [
        "simulate", "--profile", "hostile", "--devices", "1", "--points", "2",
        "--base-address", f"127.0.{loopback_block}.10", "--first-instance", str(first),
        "--long-list-length", "300", "--impostor-every", "0.2", "--impostor-to", f"127.0.{loopback_block}.1:47809",
    ], base_env(tmp_path), tmp_path)
    try:
        simulate.wait_for(f"simulating {1 + len(ROLES)} devices")
        data, (host, _port) = collector.recvfrom(2048)
    finally:
        simulate.stop(signal.SIGINT)
        collector.close()
    listing = simulate.output
    for role in ROLES:
        assert f"[{role}]" in listing
    assert "\x00" not in listing and "\x1b" not in listing  # hostile names are listed escaped
    # BVLC original-unicast, then an unconfirmed I-Am (0x10 0x00) whose device identifier is the victim's.
    assert data[:2] == b"\x81\x0a" and host == f"127.0.{loopback_block}.{10 + len(ROLES)}"
    iam = data.index(b"\x10\x00\xc4")
    identifier = int.from_bytes(data[iam + 3:iam + 7], "big")
    assert (identifier >> 22, identifier & 0x3FFFFF) == (8, first)  # object type 8: device
