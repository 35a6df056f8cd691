"""The hot read's request path: ReadPropertyMultiple with the answer's bytes, decoded by :mod:`bacnet.fastrpm`.

Everything about the transaction stays bacpypes3's: :func:`read_multiple_fast` hands an already
encoded ReadPropertyMultiple-Request to ``Application.request`` like any other, so invoke ids,
retries, the APDU timeout and segmentation (a segmented answer is reassembled by bacpypes3's
client state machine) are the stack's. The one difference is where the answer is decoded:

- bacpypes3's application service access point decodes every complete answer into its service's
  ``Sequence`` (``sap_response``). :class:`RawAckServiceAccessPoint` does the same, except for a
  ReadPropertyMultiple-ACK answering a request this module marked: that one reaches the request's
  future as the plain ComplexAckPDU with its bytes. Every other answer of the application —
  errors, rejects, aborts, other services, ReadPropertyMultiple sent by anyone else — is checked
  against its request's service (:class:`bacnet.answers.MatchingServiceAccessPoint`, the base
  class: an answer of another service fails its request) and decoded as before.
- :func:`decode_answer` reads those bytes with :func:`bacnet.fastrpm.decode_ack`; whatever that
  decoder is not sure about, it decodes the stock way instead (``APCISequence.decode`` and the
  datatype lookup and ``cast_out`` of bacpypes3's ``read_property_multiple``), so the result is
  the same as the stock path's either way: the fallback costs speed, never a different value.

The collector's application installs the access point (:class:`bacnet.links.CollectorApplication`);
on any other application :func:`read_multiple_fast` simply is :func:`bacnet.properties.read_multiple`.
"""

from __future__ import annotations

from collections.abc import Sequence

from bacpypes3.apdu import APCISequence, ComplexAckPDU, ConfirmedRequestPDU, ReadPropertyMultipleACK
from bacpypes3.app import Application
from bacpypes3.comm import ServiceAccessPoint, bind
from bacpypes3.constructeddata import Array
from bacpypes3.pdu import Address
from bacpypes3.primitivedata import Unsigned

from bacnet.answers import MatchingServiceAccessPoint
from bacnet.errors import DeviceError
from bacnet.fastrpm import READ_PROPERTY_MULTIPLE, decode_ack, encode_request
from bacnet.guard import DECODING_ERRORS, check_answer, guarded, undecodable
from bacnet.properties import (STANDARD_VENDOR, PropertySpec, ResultKey, complete_results, read_multiple,
                               results_of)

#: Attribute set on a request whose ReadPropertyMultiple-ACK should arrive undecoded.
RAW_ACK = "bacnet_pipeline_raw_ack"


class RawAckServiceAccessPoint(MatchingServiceAccessPoint):
    """The collector's application service access point (:class:`bacnet.answers.MatchingServiceAccessPoint`:
    answers matched by service too), except that the ReadPropertyMultiple-ACK of a request marked
    with :data:`RAW_ACK` is passed on undecoded."""

    async def sap_response(self, apdu) -> None:  # type: ignore[override]
        # Exactly bacpypes3's ComplexAckPDU (a complete answer, segments reassembled), nothing
        # already decoded; the ack's source and invoke id name the request it answers. Only
        # ReadPropertyMultiple requests are marked, so a raw ack always answers its request's
        # service; everything else goes through the service check of the base class.
        if type(apdu) is ComplexAckPDU and apdu.apduService == READ_PROPERTY_MULTIPLE and self._wants_raw(apdu):
            await ServiceAccessPoint.sap_response(self, apdu)
            return
        await super().sap_response(apdu)

    def _wants_raw(self, apdu: ComplexAckPDU) -> bool:
        pending = self.pending_request(apdu)
        return pending is not None and getattr(pending[0], RAW_ACK, False) is True


def install_raw_acks(app: Application) -> None:
    """Replace ``app``'s application service access point (as built by ``from_object_list``, before
    any request) with a :class:`RawAckServiceAccessPoint` on the same device object and cache."""
    asap = RawAckServiceAccessPoint(app.asap.device_object, app.device_info_cache)
    bind(app, asap, app.nsap)
    app.asap = asap


async def read_multiple_fast(app: Application, address: Address, specs: Sequence[PropertySpec],
                             timeout: float) -> dict[ResultKey, object]:
    """:func:`bacnet.properties.read_multiple` with the fast codec: same request, same results
    (values already converted to :class:`bacnet.types.Value` where the fast decoder read them)."""
    if not isinstance(getattr(app, "asap", None), RawAckServiceAccessPoint):
        return await read_multiple(app, address, specs, timeout)
    what = f"ReadPropertyMultiple of {len(specs)} properties"
    request = ConfirmedRequestPDU(READ_PROPERTY_MULTIPLE, destination=address)
    request.put_data(encode_request(specs))
    setattr(request, RAW_ACK, True)
    answer = check_answer(await guarded(app.request(request), timeout, what), what)
    return complete_results(decode_answer(answer, what), specs)


def decode_answer(answer: object, what: str) -> dict[ResultKey, object]:
    """The results of ``answer`` (what the request's future gave), fast where possible."""
    if type(answer) is ComplexAckPDU and answer.apduService == READ_PROPERTY_MULTIPLE:
        fast = decode_ack(answer.pduData)
        if fast is not None:
            return fast  # type: ignore[return-value]
        try:
            answer = APCISequence.decode(answer)
        except Exception:  # noqa: BLE001 - what bacpypes3's sap_response does with an undecodable ack
            raise DeviceError(f"{what}: error: invalid-tag", kind="error", reason="invalid-tag") from None
    if not isinstance(answer, ReadPropertyMultipleACK):
        return {}  # bacpypes3's read_property_multiple returns None for any other answer
    try:
        return results_of(stock_values(answer))
    except DECODING_ERRORS as error:
        raise undecodable(error, what) from None


def stock_values(ack: ReadPropertyMultipleACK) -> list[tuple]:
    """(objid, property, index, value) per result, as bacpypes3's ``read_property_multiple`` makes
    them from a decoded ack (same datatype lookup, same ``cast_out``) — the fallback of the fast path."""
    values: list[tuple] = []
    for read_access_result in ack.listOfReadAccessResults:
        objid = read_access_result.objectIdentifier
        object_class = STANDARD_VENDOR.get_object_class(objid[0])
        for element in read_access_result.listOfResults:
            prop_id = element.propertyIdentifier
            index = element.propertyArrayIndex
            read_result = element.readResult
            if read_result.propertyAccessError:
                values.append((objid, prop_id, index, read_result.propertyAccessError))
                continue
            property_type = object_class.get_property_type(prop_id)
            if property_type is None:
                values.append((objid, prop_id, index, None))
                continue
            if issubclass(property_type, Array) and index is not None:
                property_type = Unsigned if index == 0 else property_type._subtype
            values.append((objid, prop_id, index, read_result.propertyValue.cast_out(property_type)))
    return values
