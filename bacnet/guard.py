"""One place where a bacpypes3 request meets a timeout and the stack's BaseException errors.

bacpypes3 raises ErrorPDU / RejectPDU / AbortPDU (all ``ErrorRejectAbortNack``) from confirmed
services, and they derive from BaseException: ``except Exception`` misses them and they would
tear down a worker thread. A dead host makes bacpypes3 retry for ~12 s on its own; we bound every
request with our own timeout instead.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable
from typing import TypeVar

from bacpypes3.apdu import AbortPDU, ErrorRejectAbortNack, RejectPDU
from bacpypes3.errors import RejectException

from bacnet.errors import DeviceError, DeviceTimeout

T = TypeVar("T")

#: What bacpypes3 raises when an answer arrived but cannot be decoded or cast to the property's
#: datatype (a REAL property answered with an UNSIGNED raises InvalidTag, a RejectException; a
#: number too large for its type OverflowError; constructed data nested absurdly deep
#: RecursionError): a misbehaving device, reported per request instead of failing the device's
#: whole read.
DECODING_ERRORS = (ValueError, TypeError, AttributeError, IndexError, KeyError, struct.error, RejectException,
                   OverflowError, RecursionError)


def kind_of(error: BaseException) -> str:
    """``abort``, ``reject`` or ``error``."""
    if isinstance(error, AbortPDU):
        return "abort"
    if isinstance(error, RejectPDU):
        return "reject"
    return "error"


def reason_of(error: BaseException) -> str:
    """The abort/reject reason (e.g. ``segmentation-not-supported``) or the error code, as text."""
    for attribute in ("apduAbortRejectReason", "errorCode"):
        value = getattr(error, attribute, None)
        if value is not None:
            return str(value)
    return type(error).__name__


def describe(error: BaseException) -> str:
    """A short, stable text for a BACnet error answer, e.g. ``error: unknown-object``."""
    return f"{kind_of(error)}: {reason_of(error)}"


async def guarded(request: Awaitable[T], timeout: float, what: str) -> T:
    """Await ``request`` for at most ``timeout`` seconds.

    Raises DeviceTimeout when no answer came, DeviceError (with the BACnet error, reject or
    abort as ``kind`` and ``reason``) when the device refused. Cancellation still propagates.
    """
    try:
        return await asyncio.wait_for(request, timeout)
    except asyncio.TimeoutError:
        raise DeviceTimeout(f"{what}: no answer within {timeout:g} s") from None
    except ErrorRejectAbortNack as error:
        raise as_device_error(error, what) from None
    except DECODING_ERRORS as error:
        # The answer arrived but bacpypes3 could not decode it: a misbehaving device, not a crash.
        raise undecodable(error, what) from None


def undecodable(error: BaseException, what: str) -> DeviceError:
    """Our DeviceError for an answer that arrived but could not be decoded."""
    return DeviceError(f"{what}: undecodable answer ({type(error).__name__}: {error})",
                       kind="invalid", reason="invalid-answer")


def as_device_error(error: BaseException, what: str) -> DeviceError:
    """Our DeviceError for a bacpypes3 Error/Reject/Abort."""
    return DeviceError(f"{what}: {describe(error)}", kind=kind_of(error), reason=reason_of(error))


def check_answer(result: T, what: str) -> T:
    """Some bacpypes3 calls *return* an Error/Reject/Abort instead of raising it; raise it as ours."""
    if isinstance(result, ErrorRejectAbortNack):
        raise as_device_error(result, what)
    return result
