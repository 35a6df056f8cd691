"""An admin's decision on a device's address conflict: accept the new address, or dismiss it.

Discovery never moves a known device to a new address by itself (workers.actors.identity): it
records the other address as ``Device.conflict_address``. Only a person who knows the device
really moved (DHCP, a replaced controller) accepts it, from the admin or the API; both come here.
"""

from __future__ import annotations

import logging

from app.models import Device, utcnow

#: Marks the conflict line of a device discovery created with its polling held
#: (workers.actors.identity): resolving that conflict turns polling on, since the admin has now
#: said which address is the device.
POLLING_HELD = "polling held until an admin picks its address"

log = logging.getLogger(__name__)


def _release_held_polling(device: Device) -> None:
    if POLLING_HELD in (device.conflict_detail or ""):
        device.polling_enabled = True


class NoConflict(ValueError):
    """The device has no address conflict to decide on."""


def _stamp() -> str:
    return utcnow().strftime("%Y-%m-%d %H:%M UTC")


def accept_new_address(device: Device, *, by: str) -> str:
    """Move ``device`` to its conflict address and clear the conflict; returns the old address.

    What was learned about talking to it belongs to the old address and is reset (max APDU and
    segmentation until the next discovery, health, back-off); its name and points are kept: the
    admin says it is the same device. The caller commits.
    """
    new = device.conflict_address
    if not new:
        raise NoConflict(f"device {device.device_instance} has no address conflict")
    old = device.address
    _release_held_polling(device)
    device.address = new
    device.conflict_address = None
    device.conflict_detail = f"moved from {old} to {new} by {by} ({_stamp()})"
    device.conflict_seen_at = utcnow()
    device.max_apdu = None
    device.segmentation = ""
    device.status = "unknown"
    device.consecutive_failures = 0
    device.next_retry_at = None
    device.last_error = ""
    log.info("device %s (site %s) moved from %s to %s by %s", device.device_instance, device.site_id, old, new, by)
    return old


def dismiss_conflict(device: Device, *, by: str) -> None:
    """Keep the device where it is and clear the conflict (the other answer was not this device).

    A later discovery records a new conflict if the other address answers again. The caller commits.
    """
    other = device.conflict_address
    if not other:
        raise NoConflict(f"device {device.device_instance} has no address conflict")
    _release_held_polling(device)
    device.conflict_address = None
    device.conflict_detail = f"kept at {device.address}; the answer from {other} was dismissed by {by} ({_stamp()})"
    device.conflict_seen_at = utcnow()
    log.info("device %s (site %s): conflict with %s dismissed by %s", device.device_instance, device.site_id,
             other, by)
