"""BACnet device addresses as stored and typed by people, and their bacpypes3 form.

Accepted forms (anything else is an :class:`AddressError`, never a DNS lookup):

- ``192.168.1.20`` and ``192.168.1.20:47809`` — a BACnet/IP device on the local network;
- ``2001:12`` or ``2001:0x0c`` — MAC 12 on remote network 2001, behind a BACnet router (MS/TP);
- ``2001:192.168.5.20[:port]`` — a BACnet/IP device on remote network 2001.
"""

from __future__ import annotations

import ipaddress

from bacpypes3.pdu import Address

from bacnet.errors import AddressError

#: Remote network numbers are 1..65534 (65535 is the global broadcast network).
MAX_NETWORK_NUMBER = 65534


def _check_ip(text: str) -> str:
    host, sep, port = text.partition(":")
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        raise AddressError(f"{text!r} is not an IPv4 address (host names are not accepted)") from None
    if sep:
        if not port.isdigit() or not 1 <= int(port) <= 65535:
            raise AddressError(f"{text!r}: port must be a number from 1 to 65535")
    return text


def normalize_address(text: str) -> str:
    """Validate a device address and return its canonical text (raises AddressError)."""
    text = (text or "").strip()
    if not text:
        raise AddressError("empty device address")
    head, sep, tail = text.partition(":")
    if "." in head:
        return _check_ip(text)
    if not sep or not head.isdigit():
        raise AddressError(
            f"{text!r} is not a device address; use 192.168.1.20[:port], or network:MAC such as 2001:12"
        )
    network = int(head)
    if not 1 <= network <= MAX_NETWORK_NUMBER:
        raise AddressError(f"{text!r}: network number must be 1..{MAX_NETWORK_NUMBER}")
    if "." in tail:
        return f"{network}:{_check_ip(tail)}"
    try:
        mac = int(tail, 16) if tail.lower().startswith("0x") else int(tail)
    except ValueError:
        raise AddressError(f"{text!r}: MAC must be a number (decimal or 0x hex)") from None
    if not 0 <= mac <= 255:
        raise AddressError(f"{text!r}: an MS/TP MAC is 0..255")
    return f"{network}:{mac}"


def to_bacpypes(text: str) -> Address:
    """The bacpypes3 Address of a validated device address."""
    canonical = normalize_address(text)
    head, _, tail = canonical.partition(":")
    if "." not in head and "." not in tail:
        # bacpypes3 reads "2001:12" as decimal MAC 12; keep that explicit with hex.
        return Address(f"{head}:0x{int(tail):02x}")
    return Address(canonical)


def from_bacpypes(address: Address) -> str:
    """Our text form of an address bacpypes3 reports (e.g. the source of an I-Am).

    bacpypes3 prints remote MACs in decimal and omits the standard port, which is exactly the
    canonical form :func:`normalize_address` produces, so the two round-trip.
    """
    return str(address)
