"""refresh_points: read devices' object lists and bring their points up to date.

Each device's points are written in a savepoint of their own: a device whose list the database
refuses (or that did not answer) is named in the job's ``failed_devices`` with the reason, and
the other devices' points are stored all the same (see workers.middleware for the job's status).
"""

from __future__ import annotations

from datetime import datetime

from app.error_text import first_line
from app.extensions import db
from app.models import Device, Point, Site, utcnow
from bacnet.errors import BACnetError
from bacnet.types import ObjectInfo
from workers.actors.common import device_label, in_savepoint, load_site, site_devices, target_of
from workers.context import WorkerContext
from workers.health import mark_answered, mark_failed, mark_unstored
from workers.middleware import record_failed_devices


def _upsert_points(site: Site, device: Device, infos: list[ObjectInfo], now: datetime) -> tuple[int, int]:
    """Create or update the device's points from its object list; (points seen, new points)."""
    mark_answered(device, now)
    existing = {(point.object_type, point.object_instance): point
                for point in db.session.execute(db.select(Point).where(Point.device_id == device.id)).scalars()}
    new_points = 0
    for info in infos:
        point = existing.get(info.ref)
        if point is None:
            point = Point(device_id=device.id, object_type=info.object_type,
                          object_instance=info.object_instance, polling_enabled=site.poll_new_points)
            db.session.add(point)
            existing[info.ref] = point  # a list naming an object twice updates one point
            new_points += 1
        point.name = info.name or point.name or f"{info.object_type} {info.object_instance}"
        point.description = info.description
        point.units = info.units
        point.writable = info.commandable
        point.value_type = info.value_type
    return len(infos), new_points


def refresh_devices(context: WorkerContext, site: Site, devices: list[Device]) -> dict:
    """Enumerate ``devices`` and upsert their points; returns the job's summary."""
    results = context.engine.list_points([target_of(device) for device in devices])
    now = utcnow()
    new_points = seen_points = 0
    failed: dict[str, str] = {}
    # Plain values first: a savepoint rolled back expires the ORM objects it touched.
    labels = [device_label(device.device_instance, device.address) for device in devices]
    for device, label, result in zip(devices, labels, results):
        if isinstance(result, BACnetError):
            reason = f"point list: {first_line(str(result)) or type(result).__name__}"
            _, refused = in_savepoint(lambda: mark_failed(device, now, reason), what=f"device {label}")
            failed[label] = reason if refused is None else f"{reason}; its state: {refused}"
            continue
        counts, refused = in_savepoint(lambda: _upsert_points(site, device, result, now),
                                       what=f"points of device {label}")
        if counts is None:
            failed[label] = f"could not store its points: {refused}"
            in_savepoint(lambda: mark_unstored(device, now, failed[label]), what=f"device {label}")
            continue
        seen_points += counts[0]
        new_points += counts[1]
    db.session.commit()
    summary = {"devices": len(devices), "points": seen_points, "new_points": new_points,
               "devices_failed": len(failed)}
    return record_failed_devices(summary, failed, asked=len(devices))


def refresh_points(context: WorkerContext, *, site_id: int, device_ids: list[int] | None = None) -> dict:
    site = load_site(site_id)
    return refresh_devices(context, site, site_devices(site, device_ids))
