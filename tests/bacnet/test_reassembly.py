"""A device cannot make the collector reassemble an answer without bound (issue 12).

A raw socket plays a device that answers a ReadProperty with segment after segment, each saying
"more follows". bacpypes3 alone would acknowledge and buffer them for as long as the request's
timeout lasts; the bounded state machine aborts the transaction (out-of-resources) once the
reassembled answer would pass the bound, and the request fails at once.
"""

from __future__ import annotations

import asyncio
import socket

import pytest
from bacpypes3 import appservice
from bacpypes3.pdu import Address

from bacnet import reassembly
from bacnet.errors import DeviceError
from bacnet.properties import read_property
from tests.bacnet.wire import READ_PROPERTY, RawPeer, original_unicast

#: Per-request timeout (seconds): the abort must come long before it.
TIMEOUT = 5.0
#: Service data per segment (fits one BACnet/IP datagram).
SEGMENT_BYTES = 1000
#: Segments the device is willing to send: far past the bound the test sets.
MAX_SEGMENTS = 200
#: APDU types (clause 20.1): ComplexACK, SegmentACK, Abort.
COMPLEX_ACK, SEGMENT_ACK, ABORT = 0x3, 0x4, 0x7


def segment(invoke_id: int, sequence: int) -> bytes:
    """A segment of a ReadProperty-ACK: segmented, more follows, window 1, filler data."""
    return bytes([0x3C, invoke_id, sequence % 256, 1, READ_PROPERTY]) + b"\x00" * SEGMENT_BYTES


@pytest.fixture
def small_bound(monkeypatch):
    monkeypatch.setattr(reassembly, "MAX_REASSEMBLED_BYTES", 20 * SEGMENT_BYTES)


@pytest.fixture
def device(loopback_block):
    peer = RawPeer(f"127.0.{loopback_block}.41")
    peer.sock.settimeout(2.0)
    yield peer
    peer.close()


def test_an_endless_segmented_answer_is_aborted_at_the_bound(runtime, device, small_bound):
    pending = asyncio.run_coroutine_threadsafe(
        read_property(runtime.app, Address(device.address[0]), ("analog-input", 1), "presentValue", TIMEOUT),
        runtime.loop)
    request = device.receive_request()
    sent, aborted = 0, False
    for sequence in range(MAX_SEGMENTS):
        device.send(original_unicast(segment(request.invoke_id, sequence)), request.source)
        sent += 1
        try:
            data, _ = device.receive()
        except socket.timeout:
            break
        kind = data[6] >> 4  # BVLC (4 bytes) + NPDU (2 bytes), then the APDU
        if kind == ABORT:
            aborted = True
            break
        assert kind == SEGMENT_ACK, data.hex()
    assert aborted, f"no abort after {sent} segments"
    # Stopped at the bound (20 segments' worth), not at the device's whim.
    assert sent <= 21
    with pytest.raises(DeviceError) as caught:
        pending.result(TIMEOUT)
    assert (caught.value.kind, caught.value.reason) == ("abort", "out-of-resources")


def test_the_collector_builds_bounded_transactions(runtime):
    assert appservice.ClientSSM is reassembly.BoundedClientSSM
    assert appservice.ServerSSM is reassembly.BoundedServerSSM
