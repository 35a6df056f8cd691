"""discover_devices: Who-Is the site's targets and record the devices that answer."""

from __future__ import annotations

import logging

from app.extensions import db
from app.models import Device, utcnow
from bacnet.types import DeviceInfo
from workers.actors.common import JobError, load_site
from workers.actors.refresh import refresh_devices
from workers.context import WorkerContext
from workers.health import mark_answered

log = logging.getLogger(__name__)


def _apply(device: Device, info: DeviceInfo) -> None:
    device.address = info.address
    device.name = info.name or device.name or f"device {info.device_instance}"
    device.vendor_id = info.vendor_id
    device.vendor_name = info.vendor_name or device.vendor_name
    device.model_name = info.model_name or device.model_name
    device.firmware_revision = info.firmware_revision or device.firmware_revision
    device.application_software_version = info.application_software_version or device.application_software_version
    device.protocol_revision = info.protocol_revision
    device.max_apdu = info.max_apdu
    device.segmentation = info.segmentation


def discover_devices(context: WorkerContext, *, site_id: int, targets: list[str] | None = None,
                     low_limit: int | None = None, high_limit: int | None = None,
                     timeout: float | None = None, refresh_points: bool = False) -> dict:
    site = load_site(site_id)
    targets = targets or site.target_list()
    if not targets:
        raise JobError(f"site {site.name!r} has no discovery targets: add addresses to the site first")
    found, failed = context.engine.discover(targets, low_limit=low_limit, high_limit=high_limit,
                                            timeout=timeout)
    now = utcnow()
    existing = {device.device_instance: device
                for device in db.session.execute(db.select(Device).where(Device.site_id == site.id)).scalars()}
    new = 0
    touched = []
    for info in found:
        device = existing.get(info.device_instance)
        if device is None:
            device = Device(site_id=site.id, device_instance=info.device_instance, address=info.address)
            db.session.add(device)
            new += 1
        _apply(device, info)
        mark_answered(device, now)
        touched.append(device)
    for iam, error in failed:
        log.warning("device %s at %s answered Who-Is but not the property reads: %s",
                    iam.device_instance, iam.address, error)
    db.session.commit()
    summary = {"targets": len(targets), "found": len(found), "new": new, "unreadable": len(failed)}
    if refresh_points and touched:
        summary.update(refresh_devices(context, site, touched))
    return summary
