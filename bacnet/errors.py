"""Engine exceptions. Each message is one line an operator can act on."""

from __future__ import annotations


class BACnetError(Exception):
    """Base class of the engine's own errors."""


class BindError(BACnetError):
    """The BACnet application could not bind its UDP socket (port taken, address not on this host)."""


class AddressError(BACnetError, ValueError):
    """A BACnet device address could not be parsed."""


class RuntimeNotRunning(BACnetError):
    """A call was made while the BACnet runtime is stopped."""


class DeviceTimeout(BACnetError):
    """A device did not answer within the request timeout."""


class DeviceError(BACnetError):
    """A device answered with a BACnet Error, Reject or Abort.

    ``kind`` is ``error``, ``reject`` or ``abort``; ``reason`` the error code or abort/reject
    reason in its standard spelling (e.g. ``segmentation-not-supported``, ``unknown-object``).
    """

    def __init__(self, message: str, *, kind: str = "error", reason: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.reason = reason
