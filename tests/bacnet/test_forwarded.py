"""BVLC Forwarded-NPDU spoofing (issue 12): a forged answer relayed "on behalf of" a device.

The collector reads analog-input 1 of a device played by a raw socket. Before the device
answers, another host sends a Forwarded-NPDU claiming the device sent a ReadProperty-ACK (or
ReadPropertyMultiple-ACK) with the pending request's invoke id and a value of 666. Dropped, the
forgery leaves the request to the device's real answer (21.5); believed, it would be the value.
No test waits for a timeout: the device answers right after the forged frame was dropped.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging

import pytest
from bacpypes3.basetypes import IPMode
from bacpypes3.local.device import DeviceObject
from bacpypes3.local.networkport import NetworkPortObject
from bacpypes3.pdu import Address

from bacnet.fastread import read_multiple_fast
from bacnet.links import CollectorApplication, GuardedLinkLayer, MirroringLinkLayer
from bacnet.properties import read_property
from bacnet.runtime import BACnetRuntime
from tests.bacnet.wire import (RawPeer, forwarded, original_unicast, read_property_ack,
                               read_property_multiple_ack)
from tests.helpers import wait_until

REAL_VALUE = 21.5
FORGED_VALUE = 666.0
#: Per-request timeout of the reads (seconds): never reached when things work.
TIMEOUT = 2.0
REF = ("analog-input", 1)


@pytest.fixture
def started():
    """Start BACnetRuntimes (stopped afterwards)."""
    runtimes: list[BACnetRuntime] = []

    def start(host: str, port: int, **kwargs) -> BACnetRuntime:
        runtime = BACnetRuntime(host, 8, port, request_timeout=TIMEOUT, **kwargs)
        runtime.start()
        runtimes.append(runtime)
        return runtime

    yield start
    for runtime in runtimes:
        runtime.stop()


@pytest.fixture
def peers():
    """Raw sockets on loopback addresses (closed afterwards)."""
    opened: list[RawPeer] = []

    def open_peer(host: str, port: int = 47808) -> RawPeer:
        peer = RawPeer(host, port)
        opened.append(peer)
        return peer

    yield open_peer
    for peer in opened:
        peer.close()


def start_read(runtime: BACnetRuntime, device: RawPeer, service: str) -> concurrent.futures.Future:
    """Send the read from the runtime's loop; the future holds the number read."""
    address = Address(f"{device.address[0]}:{device.address[1]}")

    async def read() -> float:
        if service == "rp":
            return await read_property(runtime.app, address, REF, "presentValue", TIMEOUT)
        results = await read_multiple_fast(runtime.app, address, [(REF, "presentValue", None)], TIMEOUT)
        value = results[(REF, "presentValue", None)]
        return getattr(value, "number", value)

    return asyncio.run_coroutine_threadsafe(read(), runtime.loop)


def ack(service: str, invoke_id: int, value: float) -> bytes:
    return (read_property_ack if service == "rp" else read_property_multiple_ack)(invoke_id, value)


def _text(peer: RawPeer) -> str:
    """How bacpypes3 prints the peer's address (the standard port left out)."""
    host, port = peer.address
    return host if port == 47808 else f"{host}:{port}"


def link_of(runtime: BACnetRuntime):
    [link] = runtime.app.link_layers.values()
    return link


def forge_then_answer(runtime: BACnetRuntime, device: RawPeer, forger: RawPeer, service: str) -> float:
    """The forger relays a forged answer, which must be dropped; then the device answers."""
    pending = start_read(runtime, device, service)
    request = device.receive_request()
    drops = link_of(runtime).forwarded_drops
    before = drops.total
    forger.send(forwarded(device.address, ack(service, request.invoke_id, FORGED_VALUE)), request.source)
    wait_until(lambda: drops.total == before + 1, timeout=5, interval=0.01)
    device.send(original_unicast(ack(service, request.invoke_id, REAL_VALUE)), request.source)
    return pending.result(TIMEOUT + 1)


@pytest.mark.parametrize("port, link_class", [(47809, MirroringLinkLayer), (47808, GuardedLinkLayer)])
@pytest.mark.parametrize("service", ["rp", "rpm"])
def test_without_a_bbmd_every_forwarded_npdu_is_dropped(started, peers, loopback_block, port, link_class, service,
                                                        caplog):
    caplog.set_level(logging.WARNING, logger="bacnet.forwarded")
    runtime = started(f"127.0.{loopback_block}.1", port)
    assert type(link_of(runtime)) is link_class
    # bacpypes3 takes any 127.x on its own port for itself: on the standard port, the device
    # and the forger listen on another one.
    other = 47810 if port == 47808 else 47808
    device = peers(f"127.0.{loopback_block}.31", other)
    forger = peers(f"127.0.{loopback_block}.32", other)

    assert forge_then_answer(runtime, device, forger, service) == REAL_VALUE
    [warning] = [r.getMessage() for r in caplog.records if r.name == "bacnet.forwarded"]
    assert warning == (f"dropped a BVLC Forwarded-NPDU from {_text(forger)} claiming to relay "
                       f"{_text(device)}: no BBMD is configured")


def test_a_flood_of_forged_frames_logs_one_line(started, peers, loopback_block, caplog):
    caplog.set_level(logging.WARNING, logger="bacnet.forwarded")
    runtime = started(f"127.0.{loopback_block}.1", 47809)
    device, forger = peers(f"127.0.{loopback_block}.31"), peers(f"127.0.{loopback_block}.32")
    drops = link_of(runtime).forwarded_drops
    for invoke_id in range(50):
        forger.send(forwarded(device.address, read_property_ack(invoke_id, FORGED_VALUE)), (runtime.host, runtime.port))
    wait_until(lambda: drops.total == 50, timeout=5, interval=0.01)
    assert len([r for r in caplog.records if r.name == "bacnet.forwarded"]) == 1


@pytest.fixture
def foreign(started, peers, loopback_block):
    """A foreign-device runtime registered with a BBMD played by a raw socket at .2."""
    bbmd = peers(f"127.0.{loopback_block}.2")
    runtime = started(f"127.0.{loopback_block}.1", 47809, bbmd_address=bbmd.address[0])
    assert bbmd.answer_registration() == (runtime.host, runtime.port)
    wait_until(lambda: runtime.registration_status.registered, timeout=5, interval=0.01)
    return runtime, bbmd


@pytest.mark.parametrize("service", ["rp", "rpm"])
def test_with_a_bbmd_a_forwarded_npdu_from_another_host_is_dropped(foreign, peers, loopback_block, service, caplog):
    caplog.set_level(logging.WARNING, logger="bacnet.forwarded")
    runtime, bbmd = foreign
    device, forger = peers(f"127.0.{loopback_block}.31"), peers(f"127.0.{loopback_block}.32")

    assert forge_then_answer(runtime, device, forger, service) == REAL_VALUE
    assert any(f"claiming to relay {device.address[0]}: it does not come from the BBMD {bbmd.address[0]}"
               in r.getMessage() for r in caplog.records)


def test_with_a_bbmd_a_forwarded_npdu_from_it_is_accepted(foreign, peers, loopback_block):
    # The BBMD is the one trusted relay: what it forwards is believed (here, a forgery: the
    # value read is the one it relayed, although the device never sent it).
    runtime, bbmd = foreign
    device = peers(f"127.0.{loopback_block}.31")
    pending = start_read(runtime, device, "rp")
    request = device.receive_request()
    bbmd.send(forwarded(device.address, read_property_ack(request.invoke_id, FORGED_VALUE)), request.source)
    assert pending.result(TIMEOUT + 1) == FORGED_VALUE
    assert link_of(runtime).forwarded_drops.total == 0


def test_the_collector_never_runs_as_a_bbmd(loopback_block):
    # The stock BBMD link layer relays anyone's frames; the collector refuses to build one.
    async def build() -> None:
        port = NetworkPortObject(f"127.0.{loopback_block}.1/8:47809", objectIdentifier=("network-port", 1),
                                 objectName="NetworkPort-1")
        port.bacnetIPMode = IPMode.bbmd
        device = DeviceObject(objectIdentifier=("device", 1), objectName="collector", vendorIdentifier=999)
        CollectorApplication.from_object_list([device, port])

    with pytest.raises(ValueError, match="normal or foreign mode, not bbmd"):
        asyncio.run(build())
