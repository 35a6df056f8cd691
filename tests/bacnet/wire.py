"""Raw BACnet/IP frames for the untrusted-network tests: a UDP socket that plays a device, a BBMD
or an attacker on a loopback address, and the few frames they send, written out byte by byte
(ASHRAE 135 Annex J for BVLC, clause 6 for the NPDU, clause 20 for the APDU) so a test shows
exactly what went on the wire.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

#: BVLC function codes (Annex J.2).
BVLC_RESULT = 0x00
BVLC_FORWARDED_NPDU = 0x04
BVLC_REGISTER_FOREIGN_DEVICE = 0x05
BVLC_ORIGINAL_UNICAST = 0x0A

#: Confirmed service choices used here.
ADD_LIST_ELEMENT = 8
REMOVE_LIST_ELEMENT = 9
READ_PROPERTY = 12
READ_PROPERTY_MULTIPLE = 14
WRITE_PROPERTY = 15

#: Seconds a raw peer waits for a datagram before the test fails.
RECEIVE_TIMEOUT = 5.0


def bvlc(function: int, payload: bytes) -> bytes:
    return struct.pack("!BBH", 0x81, function, 4 + len(payload)) + payload


def npdu(apdu: bytes) -> bytes:
    """Version 1, no routing information, not expecting a reply (an answer)."""
    return b"\x01\x00" + apdu


def original_unicast(apdu: bytes) -> bytes:
    return bvlc(BVLC_ORIGINAL_UNICAST, npdu(apdu))


def confirmed_request(apdu: bytes) -> bytes:
    """An Original-Unicast-NPDU expecting a reply (a confirmed request)."""
    return bvlc(BVLC_ORIGINAL_UNICAST, b"\x01\x04" + apdu)


def forwarded(origin: tuple[str, int], apdu: bytes) -> bytes:
    """A Forwarded-NPDU claiming that ``origin`` (ip, port) sent ``apdu``."""
    return bvlc(BVLC_FORWARDED_NPDU, socket.inet_aton(origin[0]) + struct.pack("!H", origin[1]) + npdu(apdu))


def _object_id(object_type: int, instance: int) -> bytes:
    return struct.pack("!I", (object_type << 22) | instance)


def read_property_ack(invoke_id: int, value: float, instance: int = 1) -> bytes:
    """ReadProperty-ACK: analog-input ``instance`` presentValue = REAL ``value``."""
    return (bytes([0x30, invoke_id, READ_PROPERTY]) + b"\x0c" + _object_id(0, instance) + b"\x19\x55"
            + b"\x3e\x44" + struct.pack("!f", value) + b"\x3f")


def read_property_multiple_ack(invoke_id: int, value: float, instance: int = 1) -> bytes:
    """ReadPropertyMultiple-ACK: analog-input ``instance`` presentValue = REAL ``value``."""
    return (bytes([0x30, invoke_id, READ_PROPERTY_MULTIPLE]) + b"\x0c" + _object_id(0, instance) + b"\x1e"
            + b"\x29\x55" + b"\x4e\x44" + struct.pack("!f", value) + b"\x4f" + b"\x1f")


def list_element_request(invoke_id: int, service: int, device_instance: int) -> bytes:
    """Add/RemoveListElement on the device's timeSynchronizationRecipients (property 116) of one
    recipient, device ``device_instance``."""
    device = _object_id(8, device_instance)
    return (bytes([0x00, 0x05, invoke_id, service]) + b"\x0c" + device + b"\x19\x74"
            + b"\x3e" + b"\x0c" + device + b"\x3f")


def simple_ack(invoke_id: int, service: int) -> bytes:
    return bytes([0x20, invoke_id, service])


def error(invoke_id: int, service: int, error_class: int = 1, error_code: int = 31) -> bytes:
    """An Error of ``service`` (by default object / unknown-object: class 1, code 31)."""
    return bytes([0x50, invoke_id, service, 0x91, error_class, 0x91, error_code])


@dataclass(frozen=True)
class Request:
    """A confirmed request as it arrived: who sent it, its invoke id and service."""

    source: tuple[str, int]
    invoke_id: int
    service: int


class RawPeer:
    """A UDP socket on ``host:port`` (loopback only) that sends and receives raw frames."""

    def __init__(self, host: str, port: int = 47808) -> None:
        if not host.startswith("127."):
            raise ValueError("raw peers live on loopback only")
        self.address = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(self.address)
        self.sock.settimeout(RECEIVE_TIMEOUT)

    def close(self) -> None:
        self.sock.close()

    def send(self, frame: bytes, to: tuple[str, int]) -> None:
        self.sock.sendto(frame, to)

    def receive(self) -> tuple[bytes, tuple[str, int]]:
        return self.sock.recvfrom(2048)

    def receive_request(self) -> Request:
        """The next confirmed request (an Original-Unicast-NPDU without routing information)."""
        data, source = self.receive()
        assert data[:2] == bytes([0x81, BVLC_ORIGINAL_UNICAST]), data.hex()
        assert data[4] == 0x01 and data[5] == 0x04, data.hex()  # version 1, expecting a reply, no routing
        assert data[6] & 0xF0 == 0x00, data.hex()  # a confirmed request, not segmented
        return Request(source=source, invoke_id=data[8], service=data[9])

    def answer_registration(self) -> tuple[str, int]:
        """Receive one Register-Foreign-Device and acknowledge it (BVLC-Result 0); the registrant."""
        data, source = self.receive()
        assert data[:2] == bytes([0x81, BVLC_REGISTER_FOREIGN_DEVICE]), data.hex()
        self.send(bvlc(BVLC_RESULT, b"\x00\x00"), source)
        return source
