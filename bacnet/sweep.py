"""Unicast sweeps: a directed Who-Is to every address of a CIDR block or an ``A-B`` range.

For networks where broadcasts do not reach (no BBMD, broadcasts filtered) but the address plan
is known. Sends are paced (``rate`` per second) so a sweep never floods a site's network, and
the number of addresses is bounded so a typo (``/8`` for ``/24``) fails before anything is sent.

Accepted forms (an optional ``:port`` at the end applies to every address; default 47808):

- ``192.0.2.0/28`` — the hosts of the block (network and broadcast addresses left out, except
  in /31 and /32 blocks, which have none);
- ``192.0.2.10-192.0.2.40`` — an inclusive range;
- ``192.0.2.10-40`` — the same, with only the last octet of the end.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from bacnet.errors import AddressError

#: Most addresses one discovery may sweep: a /16. More is almost surely a typo, and would take
#: minutes at any polite rate.
MAX_SWEEP_ADDRESSES = 65536
#: Default pace of a sweep (Who-Is per second). A /24 takes ~1.3 s; a /16 ~5.5 min.
DEFAULT_SWEEP_RATE = 200.0
#: Fastest pace accepted (Who-Is per second); the I-Am answers come back at the same rate.
MAX_SWEEP_RATE = 2000.0
#: The sweep yields to the loop (and paces itself) after about this many seconds of sends.
_PACE_TICK = 0.02
#: Default UDP port of the swept addresses.
_DEFAULT_PORT = 47808

#: Blocks no BACnet device lives in: "this network", multicast, reserved and limited broadcast.
_NEVER = (ipaddress.IPv4Network("0.0.0.0/8"), ipaddress.IPv4Network("224.0.0.0/3"))


@dataclass(frozen=True)
class AddressRange:
    """An inclusive range of IPv4 addresses to sweep, at one UDP port."""

    first: ipaddress.IPv4Address
    last: ipaddress.IPv4Address
    port: int = _DEFAULT_PORT

    def __len__(self) -> int:
        return int(self.last) - int(self.first) + 1

    def __iter__(self) -> Iterator[str]:
        suffix = "" if self.port == _DEFAULT_PORT else f":{self.port}"
        for value in range(int(self.first), int(self.last) + 1):
            yield f"{ipaddress.IPv4Address(value)}{suffix}"

    def __str__(self) -> str:
        suffix = "" if self.port == _DEFAULT_PORT else f":{self.port}"
        return f"{self.first}-{self.last}{suffix}"


def is_range(text: str) -> bool:
    """Whether ``text`` is meant as a range or CIDR block (rather than one address)."""
    return "/" in text or "-" in text


def parse_range(text: str) -> AddressRange:
    """Parse a CIDR block or ``A-B`` range (see the module docstring); raise AddressError."""
    spec = text.strip()
    body, port = spec, _DEFAULT_PORT
    head, sep, tail = spec.rpartition(":")
    if sep:
        if not tail.isdigit() or not 1 <= int(tail) <= 65535:
            raise AddressError(f"{text!r}: port must be a number from 1 to 65535")
        body, port = head, int(tail)
    try:
        if "/" in body:
            network = ipaddress.IPv4Network(body, strict=False)
            if network.prefixlen >= 31:
                first, last = network.network_address, network.broadcast_address
            else:
                first, last = network.network_address + 1, network.broadcast_address - 1
        elif "-" in body:
            start, _, end = body.partition("-")
            first = ipaddress.IPv4Address(start.strip())
            end = end.strip()
            if end.isdigit() and int(end) <= 255:
                last = ipaddress.IPv4Address(f"{str(first).rsplit('.', 1)[0]}.{end}")
            else:
                last = ipaddress.IPv4Address(end)
        else:
            raise ValueError
    except ValueError:
        raise AddressError(
            f"{text!r} is not an address range; use a CIDR block such as 192.0.2.0/24 or a range "
            "such as 192.0.2.10-192.0.2.40"
        ) from None
    if last < first:
        raise AddressError(f"{text!r}: the range ends before it starts")
    swept = AddressRange(first, last, port)
    if len(swept) > MAX_SWEEP_ADDRESSES:
        raise AddressError(f"{text!r} has {len(swept)} addresses; a sweep may cover at most "
                           f"{MAX_SWEEP_ADDRESSES} (a /16)")
    for block in _NEVER:
        if first <= block.broadcast_address and last >= block.network_address:
            raise AddressError(f"{text!r} overlaps {block}, where no BACnet device can be")
    return swept


def check_sweep_size(ranges: Sequence[AddressRange]) -> int:
    """The number of addresses of all ``ranges``; AddressError above MAX_SWEEP_ADDRESSES."""
    total = sum(len(swept) for swept in ranges)
    if total > MAX_SWEEP_ADDRESSES:
        raise AddressError(f"the ranges add up to {total} addresses; one discovery may sweep at most "
                           f"{MAX_SWEEP_ADDRESSES}: split it into several")
    return total


def check_rate(rate: float) -> float:
    if not 0 < rate <= MAX_SWEEP_RATE:
        raise ValueError(f"sweep rate must be above 0 and at most {MAX_SWEEP_RATE:g} Who-Is per second")
    return rate


async def sweep(ranges: Sequence[AddressRange], send: Callable[[str], None], *, rate: float,
                on_sent: Callable[[int], None] | None = None) -> int:
    """Call ``send(address)`` for every address of ``ranges``, at most ``rate`` per second.

    ``on_sent(n)`` is told the running count. Returns the number of addresses sent to.
    """
    check_rate(rate)
    loop = asyncio.get_running_loop()
    # Send in small bursts and sleep until each burst's slot: one sleep per tick, not per send.
    burst = max(1, int(rate * _PACE_TICK))
    started = loop.time()
    sent = 0
    for swept in ranges:
        for address in swept:
            send(address)
            sent += 1
            if sent % burst == 0:
                if on_sent is not None:
                    on_sent(sent)
                await asyncio.sleep(max(0.0, started + sent / rate - loop.time()))
    if on_sent is not None:
        on_sent(sent)
    return sent
