"""Lookups the actors share, and the per-device isolation of their database writes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from app.error_text import error_line
from app.extensions import db
from app.models import Device, Site
from app.readings_store import open_write_transaction
from bacnet.types import DeviceTarget, Value
from workers.db_retry import is_connection_error

log = logging.getLogger(__name__)

T = TypeVar("T")


class JobError(Exception):
    """The job cannot run as asked (missing site, nothing to do). The message goes to job_run.error."""


def load_site(site_id: int) -> Site:
    site = db.session.get(Site, site_id)
    if site is None:
        raise JobError(f"site {site_id} does not exist")
    return site


def site_devices(site: Site, device_ids: list[int] | None) -> list[Device]:
    """The site's devices, or the given subset of them (ids of other sites are an error)."""
    query = db.select(Device).where(Device.site_id == site.id).order_by(Device.id)
    if device_ids is not None:
        query = query.where(Device.id.in_(device_ids))
    devices = list(db.session.execute(query).scalars())
    if device_ids is not None:
        missing = sorted(set(device_ids) - {device.id for device in devices})
        if missing:
            raise JobError(f"devices {missing} are not devices of site {site.name!r}")
    return devices


def target_of(device: Device) -> DeviceTarget:
    return DeviceTarget(address=device.address, device_instance=device.device_instance,
                        max_apdu=device.max_apdu or 480, segmentation=device.segmentation or "no-segmentation")


def value_text(value: Value | None) -> str | None:
    """A value as audit and summary text: `15`, `1 (active)`, `text`, or None."""
    if value is None:
        return None
    if value.text is not None and value.number is not None:
        return f"{value.number:g} ({value.text})"
    return value.text if value.number is None else f"{value.number:g}"


def device_label(device_instance: int, address: str) -> str:
    """How a job names a device in its failed devices and error lines: ``<instance> (<address>)``."""
    return f"{device_instance} ({address})"


def in_savepoint(work: Callable[[], T], *, what: str) -> tuple[T | None, str | None]:
    """Run ``work`` (database writes of one device) in a savepoint of the session's transaction.

    Returns ``(result, None)``, or ``(None, reason)`` with the savepoint rolled back when the
    database (or the driver) refused the work: the device's writes are lost, the transaction and
    the other devices' writes are not. ``reason`` is one line without SQL or parameters. A
    connection error is raised: the whole job's retry (workers.db_retry) deals with those.

    ORM changes pending before the call are flushed as the savepoint starts, outside its
    protection: make every device's changes inside its own call. ORM objects the work changed are
    expired after a rollback (they reload from the database when next read).
    """
    open_write_transaction()
    try:
        with db.session.begin_nested():
            return work(), None
    except Exception as error:  # the database's or the driver's refusal, whatever its class
        if is_connection_error(error):
            raise
        reason = error_line(error)
        log.warning("%s: not stored: %s", what, reason)
        return None, reason
