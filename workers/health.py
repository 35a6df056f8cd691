"""Device health: when a device counts as offline and when we try it again.

A dead controller costs one request timeout each time it is tried; backing off keeps a site
with a few dead boxes from spending every cycle waiting on them. A device that answers is
online again at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from app.models import Device

#: Consecutive failed contacts after which a device is shown offline and backed off.
OFFLINE_AFTER_FAILURES = 2
#: First back-off delay once offline; doubles with each further failure.
BACKOFF_BASE_SECONDS = 30
#: Longest back-off: an offline device is still tried at least this often.
BACKOFF_CAP_SECONDS = 30 * 60


def backoff_seconds(consecutive_failures: int) -> int:
    """Delay before the next try after ``consecutive_failures`` failures (0 while still online)."""
    if consecutive_failures < OFFLINE_AFTER_FAILURES:
        return 0
    exponent = min(consecutive_failures - OFFLINE_AFTER_FAILURES, 16)
    return min(BACKOFF_BASE_SECONDS * 2 ** exponent, BACKOFF_CAP_SECONDS)


def mark_answered(device: Device, now: datetime) -> None:
    device.status = "online"
    device.last_seen = now
    device.consecutive_failures = 0
    device.next_retry_at = None
    device.last_error = ""


def mark_failed(device: Device, now: datetime, reason: str) -> None:
    device.consecutive_failures = (device.consecutive_failures or 0) + 1
    device.last_error = reason[:2000]
    if device.consecutive_failures >= OFFLINE_AFTER_FAILURES:
        device.status = "offline"
        device.next_retry_at = now + timedelta(seconds=backoff_seconds(device.consecutive_failures))


def mark_unstored(device: Device, now: datetime, reason: str) -> None:
    """The device answered, but what it sent could not be stored (the database refused it).

    It is reachable, so it stays online and is not backed off; ``last_error`` says why its data
    is missing.
    """
    mark_answered(device, now)
    device.last_error = reason[:2000]


def is_due(device: Device, now: datetime) -> bool:
    """False while the device is backed off."""
    return device.next_retry_at is None or device.next_retry_at <= now
