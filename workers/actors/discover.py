"""discover_devices: Who-Is the site's targets and record the devices that answer.

Targets are addresses (directed Who-Is), CIDR blocks and A-B ranges (swept, one Who-Is per
address) and ``broadcast`` / ``local-broadcast``. A running discovery keeps its job_run row's
summary at ``{"progress": {"sent", "total", "found"}}`` until the final counts replace it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.models import Device, JobRun, utcnow
from bacnet.discovery import DiscoveryProgress
from bacnet.types import DeviceInfo
from workers.actors.common import JobError, load_site
from workers.actors.refresh import refresh_devices
from workers.catalog import check_sweep_duration, parse_discovery_targets, requested_targets
from workers.context import WorkerContext
from workers.health import mark_answered
from workers.middleware import current_message_id

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


def _progress_reporter() -> Callable[[DiscoveryProgress], None] | None:
    """Writes progress into the running job's row (best effort: a failed write only logs)."""
    message_id = current_message_id()
    if message_id is None:
        return None

    def report(progress: DiscoveryProgress) -> None:
        try:
            db.session.execute(db.update(JobRun).where(JobRun.message_id == message_id)
                               .values(summary={"progress": progress.as_dict()}))
            db.session.commit()
        except SQLAlchemyError as error:
            db.session.rollback()
            log.warning("could not record discovery progress: %s", error)

    return report


def discover_devices(context: WorkerContext, *, site_id: int, targets: list[str] | None = None,
                     broadcast: bool = False, ranges: list[str] | None = None,
                     low_limit: int | None = None, high_limit: int | None = None,
                     timeout: float | None = None, sweep_rate: float | None = None,
                     refresh_points: bool = False) -> dict:
    site = load_site(site_id)
    targets = requested_targets(targets, ranges, broadcast) or site.target_list()
    if not targets:
        raise JobError(f"site {site.name!r} has no discovery targets: add addresses to the site first")
    try:
        # The site's stored text may predate today's form validation: check it before any traffic.
        plan = parse_discovery_targets(targets)
        check_sweep_duration(plan.sweep_size, sweep_rate)
    except ValueError as error:
        raise JobError(f"site {site.name!r}: {error}") from None
    found, failed = context.engine.discover(targets, low_limit=low_limit, high_limit=high_limit,
                                            timeout=timeout, sweep_rate=sweep_rate,
                                            on_progress=_progress_reporter())
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
    if plan.sweep_size:
        summary["swept"] = plan.sweep_size
    if refresh_points and touched:
        summary.update(refresh_devices(context, site, touched))
    return summary
