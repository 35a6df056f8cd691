"""Which BVLC Forwarded-NPDU frames the collector believes.

A Forwarded-NPDU (ASHRAE 135 Annex J.2.5) carries, next to the NPDU, the B/IP address of the
device that originally sent it; bacpypes3 hands the NPDU up *as if it came from that address*.
The address is whatever the sender wrote: any host that can reach our UDP port can claim to be
any device and answer our pending requests (the source and invoke id match), and the answer
would be stored as that device's value. Only a BBMD legitimately forwards frames, so:

- with no BBMD configured (a normal BACnet/IP port) every Forwarded-NPDU is dropped. A site
  whose remote subnets are reached through BBMDs runs the collector as a foreign device of one
  of them (``BACNET_BBMD_ADDRESS``);
- with a BBMD configured (foreign-device mode) a Forwarded-NPDU is accepted only when its UDP
  source is that BBMD's address (IP and port), which is what bacpypes3's foreign-device link
  layer already checks; the mixin states it once for every link layer we build.

:class:`ForwardedNPDUGuard` is mixed into each link layer the collector builds
(:mod:`bacnet.links`, :mod:`bacnet.foreign`). Drops are counted and logged through a
:class:`bacnet.logfilter.ThrottledLog`: one warning per source, then at most one line a minute
with the number dropped meanwhile, so a flood of forged frames does not flood the log.
"""

from __future__ import annotations

import logging

from bacpypes3.ipv4.bvll import LPDU, ForwardedNPDU
from bacpypes3.pdu import IPv4Address

from bacnet.logfilter import ThrottledLog

log = logging.getLogger(__name__)


class ForwardedNPDUGuard:
    """Mixin for a bacpypes3 BVLL service access point (put it first in the bases): a
    Forwarded-NPDU goes up the stack only when its UDP source is :meth:`trusted_forwarder`."""

    #: Created per instance on first use (link layers are built by bacpypes3-style __init__s).
    _forwarded_drops: ThrottledLog | None = None

    @property
    def forwarded_drops(self) -> ThrottledLog:
        if self._forwarded_drops is None:
            self._forwarded_drops = ThrottledLog(log)
        return self._forwarded_drops

    def trusted_forwarder(self) -> IPv4Address | None:
        """The one address whose Forwarded-NPDUs are believed; None: nobody's (no BBMD configured)."""
        return None

    async def confirmation(self, lpdu: LPDU) -> None:
        if isinstance(lpdu, ForwardedNPDU):
            forwarder = self.trusted_forwarder()
            if forwarder is None or lpdu.pduSource != forwarder:
                why = "no BBMD is configured" if forwarder is None else f"it does not come from the BBMD {forwarder}"
                self.forwarded_drops.record(
                    str(lpdu.pduSource), "dropped a BVLC Forwarded-NPDU from %s claiming to relay %s: %s",
                    lpdu.pduSource, lpdu.bvlciAddress, why)
                return
        await super().confirmation(lpdu)  # type: ignore[misc]
