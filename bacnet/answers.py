"""Answers are matched to their request by source address, invoke id **and service**.

bacpypes3 pairs an answer with a pending request by source address and invoke id only: its
client state machine completes the transaction with whatever SimpleACK or ComplexACK arrives,
and its ``read_property`` then returns None (stored as the value null) for an answer of the
wrong kind. A device's reply cache produces exactly that when invoke ids repeat (a short-lived
process asks ReadProperty with the invoke id a previous process used for a WriteProperty and
gets the cached SimpleACK), and so can a buggy or hostile device.

:class:`MatchingServiceAccessPoint` checks every answer the state machine completes against the
request it answers (:func:`answer_problem`). An answer of another service, or of the wrong
kind for the service (a SimpleACK to a ReadProperty, a ComplexACK to a WriteProperty), fails
that request with a :class:`bacnet.errors.DeviceError` of kind ``invalid``, reason
``wrong-service``, and is never decoded as a value.

Why fail the request rather than ignore the answer and wait for the right one: bacpypes3's
state machine has already closed the transaction when the answer reaches us (so the right answer
would be dropped as unmatched anyway), and a device answering from its reply cache sends nothing
else — ignoring it would turn a clear, immediate error into a timeout after every retry. The
next request gets a new invoke id. A forger could achieve the same failure with a forged Error
answer, so failing costs nothing in safety.

Source addresses are matched by bacpypes3 (an answer from another address than the request's
destination reaches no transaction); forged source addresses via BVLC Forwarded-NPDU are
stopped at the link layer (:mod:`bacnet.forwarded`).
"""

from __future__ import annotations

import logging

from bacpypes3.apdu import APDU, ComplexAckPDU, ConfirmedServiceChoice, ErrorPDU, SimpleAckPDU
from bacpypes3.appservice import ApplicationServiceAccessPoint

from bacnet.errors import DeviceError

log = logging.getLogger(__name__)

#: Confirmed services whose positive answer is a ComplexACK (ASHRAE 135 clause 21,
#: BACnet-Confirmed-Service-ACK): getAlarmSummary, getEnrollmentSummary, atomicReadFile,
#: atomicWriteFile, createObject, readProperty, readPropertyMultiple, confirmedPrivateTransfer,
#: vtOpen, vtData, authenticate (removed from the standard), readRange, getEventInformation,
#: auditLogQuery. Every other confirmed service is answered with a SimpleACK.
COMPLEX_ACK_SERVICES = frozenset({3, 4, 6, 7, 10, 12, 14, 18, 21, 23, 24, 26, 29, 33})

#: The DeviceError reason of an answer that does not answer its request's service.
WRONG_SERVICE = "wrong-service"


def service_name(choice: int | None) -> str:
    """``read-property`` for 12; the number for a choice the standard does not name."""
    try:
        name = str(ConfirmedServiceChoice(choice))
    except (TypeError, ValueError):
        name = ""
    # bacpypes3 prints a choice it has no name for as its number.
    return name if name and not name.isdigit() else f"service {choice}"


def answer_problem(request_service: int, answer: APDU) -> str | None:
    """Why ``answer`` cannot answer a request of ``request_service``; None if it can.

    Rejects and aborts carry no service and always belong to their transaction.
    """
    if isinstance(answer, SimpleAckPDU):
        kind = "a SimpleACK"
    elif isinstance(answer, ComplexAckPDU):
        kind = "a ComplexACK"
    elif isinstance(answer, ErrorPDU):
        kind = "an Error"
    else:
        return None
    service = answer.apduService
    if service != request_service:
        return f"{kind} of {service_name(service)}"
    complex_expected = request_service in COMPLEX_ACK_SERVICES
    if isinstance(answer, SimpleAckPDU) and complex_expected:
        return f"a SimpleACK, but {service_name(service)} is answered with a ComplexACK"
    if isinstance(answer, ComplexAckPDU) and not complex_expected:
        return f"a ComplexACK, but {service_name(service)} is answered with a SimpleACK"
    return None


class MatchingServiceAccessPoint(ApplicationServiceAccessPoint):
    """bacpypes3's application service access point, except that an answer of the wrong service
    fails its request instead of being delivered (see the module docstring)."""

    def pending_request(self, apdu: APDU) -> tuple[APDU, object] | None:
        """The (request, future) the answer ``apdu`` belongs to: same peer, same invoke id."""
        requests = getattr(self.serviceElement, "_requests", None) or {}
        for request, future in requests.get(apdu.pduSource, ()):
            if request.apduInvokeID == apdu.apduInvokeID:
                return request, future
        return None

    async def sap_response(self, apdu) -> None:  # type: ignore[override]
        # Reached only from a client transaction (bacpypes3's ClientSSM.response), with the
        # transaction's peer as the source: checked before anything is decoded.
        pending = self.pending_request(apdu)
        if pending is not None:
            request, future = pending
            problem = answer_problem(request.apduService, apdu)
            if problem is not None:
                self.refuse_answer(request, future, apdu, problem)
                return
        await super().sap_response(apdu)

    def refuse_answer(self, request: APDU, future, answer: APDU, problem: str) -> None:
        """Fail ``request`` with a DeviceError naming the wrong answer."""
        asked = service_name(request.apduService)
        message = (f"{asked} to {answer.pduSource} (invoke id {answer.apduInvokeID}) was answered with "
                   f"{problem}: not an answer to it")
        log.debug("%s", message)
        if not future.done():
            future.set_exception(DeviceError(message, kind="invalid", reason=WRONG_SERVICE))
