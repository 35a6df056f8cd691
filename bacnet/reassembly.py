"""A bound on what a peer can make us reassemble: segmented messages stop at a size.

bacpypes3 reassembles a segmented answer (and a segmented request) by appending every segment a
peer sends until one says "no more follows"; it never compares the count with the segments we
said we accept. A hostile device can therefore answer one ReadProperty with an endless stream of
segments, each acknowledged, and the collector buffers them all for as long as the request's
timeout allows: hundreds of megabytes on a fast link. Here the state machines abort a transaction
whose reassembled message would pass :data:`MAX_REASSEMBLED_BYTES` (abort reason
out-of-resources), so the peer's request fails after a bounded amount of memory.

The bound is far above any answer we ask for: our largest is an object list of
``BACNET_MAX_OBJECTS`` entries (20,000 x 5 bytes by default), and the ceiling of that setting,
1,000,000 objects, is read by index, never whole.
"""

from __future__ import annotations

import logging

from bacpypes3 import appservice
from bacpypes3.apdu import AbortReason, ComplexAckPDU, ConfirmedRequestPDU

log = logging.getLogger(__name__)

#: Largest segmented message (bytes of service data) reassembled for one transaction.
MAX_REASSEMBLED_BYTES = 1 << 20


def _too_big(ssm: appservice.SSM, apdu) -> bool:
    segment = getattr(ssm, "segmentAPDU", None)
    if segment is None:
        return False
    return len(segment.pduData) + len(apdu.pduData or b"") > MAX_REASSEMBLED_BYTES


class BoundedClientSSM(appservice.ClientSSM):
    """bacpypes3's client transaction, with reassembly of a segmented answer bounded."""

    async def segmented_confirmation(self, apdu) -> None:
        if apdu.apduType == ComplexAckPDU.pduType and _too_big(self, apdu):
            log.warning("%s sent a segmented answer longer than %d bytes: transaction aborted",
                        self.pdu_address, MAX_REASSEMBLED_BYTES)
            abort = self.abort(AbortReason.outOfResources)
            await self.request(abort)  # to the device
            await self.response(abort)  # to the application: the request fails
            return
        await super().segmented_confirmation(apdu)


class BoundedServerSSM(appservice.ServerSSM):
    """bacpypes3's server transaction, with reassembly of a segmented request bounded."""

    async def segmented_request(self, apdu) -> None:
        if apdu.apduType == ConfirmedRequestPDU.pduType and _too_big(self, apdu):
            log.warning("%s sent a segmented request longer than %d bytes: transaction aborted",
                        self.pdu_address, MAX_REASSEMBLED_BYTES)
            abort = self.abort(AbortReason.outOfResources)
            await self.response(abort)  # to the device; the application never saw the request
            return
        await super().segmented_request(apdu)


def install() -> None:
    """Make bacpypes3 build bounded transactions (its access point looks the classes up by name in
    :mod:`bacpypes3.appservice` for every new transaction). Idempotent; affects every application of
    the process, which is what we want: no BACnet socket of ours may buffer without bound."""
    appservice.ClientSSM = BoundedClientSSM
    appservice.ServerSSM = BoundedServerSSM
