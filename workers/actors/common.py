"""Lookups the actors share."""

from __future__ import annotations

from app.extensions import db
from app.models import Device, Site
from bacnet.types import DeviceTarget, Value


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
