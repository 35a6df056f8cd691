"""bacpypes3 pieces that misbehave on purpose, for the hostile simulator profile (hostile.py).

Each does one thing a stock bacpypes3 device never does, and a real (buggy or hostile) one may:
an UNSIGNED of any length, an object list that claims more than it holds, a SimpleACK to a
ReadProperty, an I-Am answer that comes late (or is told on).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bacpypes3.apdu import AbortPDU, SimpleAckPDU
from bacpypes3.errors import PropertyError, SegmentationNotSupported
from bacpypes3.local.device import DeviceObject
from bacpypes3.local.object import Object as LocalObject
from bacpypes3.object import CharacterStringValueObject, PositiveIntegerValueObject
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import ApplicationTag, ObjectIdentifier, TagList, TagNumber, Unsigned

from bacnet.simulator.device import SimApplication

#: WriteProperty's service choice: the wrong-service answer is a SimpleACK that says it answers a
#: write (what a device's reply cache sends when a ReadProperty reuses a write's invoke id).
WRITE_PROPERTY_CHOICE = 15


class OversizedUnsigned(Unsigned):
    """An Unsigned of any size. bacpypes3 packs an Unsigned into 32 bits and refuses more; the
    standard allows any length, so a hostile device can send 138 octets (1100 bits)."""

    def encode(self) -> TagList:
        number = int(self)
        return TagList([ApplicationTag(TagNumber.unsigned, number.to_bytes(max(1, (number.bit_length() + 7) // 8),
                                                                           "big"))])


class PositiveIntegerValue(LocalObject, PositiveIntegerValueObject):
    """A local positive-integer-value object (bacpypes3 has no local one)."""


class CharacterStringValue(LocalObject, CharacterStringValueObject):
    """A local characterstring-value object (bacpypes3 has no local one)."""


class ClaimingDeviceObject(DeviceObject):
    """A device object whose object list claims ``_claimed_length`` entries.

    Index 0 answers the claim; indexes past the real objects answer made-up analog values; the
    whole list is refused with segmentation-not-supported, as a non-segmenting device must.
    """

    _claimed_length = 0

    async def read_property(self, attr, index=None):  # type: ignore[override]
        name = attr if isinstance(attr, str) else self._property_identifier_class(attr).attr
        if name != "objectList" or not self._claimed_length:
            return await super().read_property(attr, index)
        if index is None:
            raise SegmentationNotSupported()
        if index == 0:
            return Unsigned(self._claimed_length)
        if not 1 <= index <= self._claimed_length:
            raise PropertyError("invalidArrayIndex")
        real = await super().read_property(attr, None)
        return real[index - 1] if index <= len(real) else ObjectIdentifier(("analog-value", index))


class HostileApplication(SimApplication):
    """A simulated device that can answer the wrong service and answer Who-Is late (or tell on it)."""

    #: Objects whose present-value ReadProperty gets a SimpleACK instead of a ReadProperty-ACK.
    simple_ack_objects: frozenset[tuple[str, int]] = frozenset()
    #: Seconds before the I-Am answer to a Who-Is.
    who_is_delay: float = 0.0
    #: Called (on the loop) with the source of every Who-Is this device receives.
    on_who_is: Callable[[Address], None] | None = None

    async def do_ReadPropertyRequest(self, apdu) -> None:  # type: ignore[override]
        objid = apdu.objectIdentifier
        wrong = (str(objid[0]), int(objid[1])) in self.simple_ack_objects
        if wrong and str(apdu.propertyIdentifier) == "present-value":
            ack = SimpleAckPDU(context=apdu)
            ack.apduService = WRITE_PROPERTY_CHOICE
            await self.response(ack)
            return
        await super().do_ReadPropertyRequest(apdu)

    async def response(self, apdu) -> None:  # type: ignore[override]
        # bacpypes3 builds the abort for an AbortException without the "sent by server" bit, and
        # a client drops an abort that claims to come from a client: mark it as the server's.
        if isinstance(apdu, AbortPDU) and apdu.apduSrv is None:
            apdu.apduSrv = True
        await super().response(apdu)

    async def do_WhoIsRequest(self, apdu) -> None:  # type: ignore[override]
        if self.on_who_is is not None:
            self.on_who_is(apdu.pduSource)
        if self.who_is_delay:
            await asyncio.sleep(self.who_is_delay)
        await super().do_WhoIsRequest(apdu)
