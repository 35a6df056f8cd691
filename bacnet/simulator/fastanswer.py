"""The simulator's fast answer to the one request a collection sends: present values by ReadPropertyMultiple.

A stock bacpypes3 device spends about half a millisecond of pure Python per present value it
answers (decoding the request into ``Sequence`` objects, reading each property through
``inspect.getattr_static``, building and encoding the answer; profiled: request decoding ~40 %,
the handler ~40 %, encoding ~15 %): one simulator process serving 50 devices x 100 points every
5 s then needs more CPU than the collector it is meant to test. Real controllers answer with
their own CPUs; the simulator should not be the bottleneck of a benchmark or a soak.

:class:`FastAnswerServiceAccessPoint` answers a request itself only when all of this holds,
and hands everything else to bacpypes3 unchanged (errors, other services, other properties,
segmentation, the device told to be silent or RPM-less); a device told to be slow answers
``latency`` later either way:

- a complete (unsegmented) ReadPropertyMultiple-Request whose every property reference is
  ``present-value`` without an array index, of objects the device has;
- every one of those values is a REAL or an ENUMERATED (analog and binary points);
- the answer fits one APDU of the smaller of the client's and the device's max APDU.

The answer's bytes are the ones bacpypes3 would send for the same request (the shape is
ASHRAE 135 clause 21's ReadAccessResult; :mod:`bacnet.fastrpm` decodes the same shape on the
client side); a test compares the two byte for byte.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from typing import TYPE_CHECKING

from bacpypes3.apdu import ComplexAckPDU
from bacpypes3.appservice import ApplicationServiceAccessPoint
from bacpypes3.comm import bind
from bacpypes3.pdu import PDU
from bacpypes3.primitivedata import Enumerated, Real

if TYPE_CHECKING:
    from bacpypes3.app import Application

#: The ReadPropertyMultiple service choice (ASHRAE 135 clause 21).
READ_PROPERTY_MULTIPLE = 14
#: present-value (BACnetPropertyIdentifier 85).
PRESENT_VALUE = 85
#: Max APDU length accepted, by the 4-bit code of a confirmed request's header (clause 20.1.2.5).
MAX_APDU_BY_CODE = (50, 128, 206, 480, 1024, 1476)
#: Header octets of an unsegmented ComplexAck: type, invoke id, service choice.
ACK_HEADER = 3

_REAL = struct.Struct(">f")

log = logging.getLogger(__name__)


class _NotFast(Exception):
    """The request is not one this module answers; bacpypes3 does."""


def encode_value(value: object) -> bytes:
    """The application-tagged encoding of a present value, or _NotFast."""
    if isinstance(value, Real):
        return b"\x44" + _REAL.pack(value)
    if isinstance(value, Enumerated):
        number = int(value)
        data = number.to_bytes(max(1, (number.bit_length() + 7) // 8), "big")
        if len(data) > 4:
            raise _NotFast
        return bytes([0x90 | len(data)]) + data
    raise _NotFast


def parse_request(data: bytes) -> list[int]:
    """Object identifiers (as 32-bit numbers) of a request that reads present-value only."""
    objects: list[int] = []
    end = len(data)
    i = 0
    while i < end:
        # [0] object identifier, [1] opening tag of the property references.
        if data[i] != 0x0C or i + 6 > end or data[i + 5] != 0x1E:
            raise _NotFast
        objects.append(int.from_bytes(data[i + 1:i + 5], "big"))
        i += 6
        # Exactly one reference: [0] property identifier 85, no [1] index; then the closing tag.
        if data[i:i + 3] != b"\x09\x55\x1f":
            raise _NotFast
        i += 3
    if not objects:
        raise _NotFast
    return objects


def answer_data(app: Application, objects: list[int]) -> bytes:
    """The ReadPropertyMultiple-ACK service data for ``objects``' present values."""
    index: dict[int, object] = app.fast_objects  # type: ignore[attr-defined]
    parts: list[bytes] = []
    for number in objects:
        obj = index.get(number)
        if obj is None:
            raise _NotFast  # unknown object: bacpypes3 answers with the error
        # The stored value (what bacpypes3 reads, without its ~35 us getattr_static lookup).
        value = vars(obj).get("presentValue")
        parts.append(b"\x0c" + number.to_bytes(4, "big") + b"\x1e\x29\x55\x4e" + encode_value(value) + b"\x4f\x1f")
    return b"".join(parts)


class FastAnswerServiceAccessPoint(ApplicationServiceAccessPoint):
    """bacpypes3's application service access point that answers present-value reads itself."""

    async def confirmation(self, pdu: PDU) -> None:  # type: ignore[override]
        try:
            ack = self._fast_ack(pdu)
        except Exception:  # noqa: BLE001 - a bug here must cost speed, never an answer
            log.exception("simulator: fast answer failed, answering the stock way")
            ack = None
        if ack is None:
            await super().confirmation(pdu)
            return
        app = self.serviceElement
        # Counted and delayed as SimApplication.indication counts and delays a stock answer: the
        # values are read when the request arrives, the answer leaves ``latency`` later.
        counter = getattr(app, "counter", None)
        if counter is not None:
            counter.current += 1
            counter.total += 1
            counter.peak = max(counter.peak, counter.current)
        try:
            latency = getattr(app, "latency", 0.0)
            if latency:
                await asyncio.sleep(latency)
                if not getattr(app, "answering", True):
                    return
        finally:
            if counter is not None:
                counter.current -= 1
        await self.request(ack)

    def _fast_ack(self, pdu: PDU) -> ComplexAckPDU | None:
        """The answer to ``pdu`` when it is a request this module answers, else None."""
        app = self.serviceElement
        data = bytes(pdu.pduData)
        # Confirmed request (type 0), not segmented, ReadPropertyMultiple; a device told to drop
        # or reject requests does it the stock way.
        if (len(data) < 5 or data[0] & 0xF8 != 0 or data[3] != READ_PROPERTY_MULTIPLE
                or self.dccEnableDisable != "enable" or not getattr(app, "answering", True)
                or not getattr(app, "rpm", True)):
            return None
        code = data[1] & 0x0F
        if code >= len(MAX_APDU_BY_CODE):
            return None
        try:
            body = answer_data(app, parse_request(data[4:]))
        except _NotFast:
            return None
        limit = min(MAX_APDU_BY_CODE[code], int(self.device_object.maxApduLengthAccepted))
        if ACK_HEADER + len(body) > limit:
            return None  # needs segmentation, or an abort: bacpypes3's state machine does both
        ack = ComplexAckPDU(READ_PROPERTY_MULTIPLE, data[2], destination=pdu.pduSource)
        ack.apduSeg = False
        ack.apduMor = False
        ack.put_data(body)
        return ack


def install_fast_answers(app: Application, objects: list) -> None:
    """Give ``app`` (built by ``from_object_list``, before it answers anything) the fast access point."""
    asap = FastAnswerServiceAccessPoint(app.asap.device_object, app.device_info_cache)
    bind(app, asap, app.nsap)
    app.asap = asap
    # Object identifier as the 32-bit number of the request -> object.
    index = {(int(obj.objectIdentifier[0]) << 22) | int(obj.objectIdentifier[1]): obj for obj in objects}
    app.fast_objects = index  # type: ignore[attr-defined]
