"""refresh_points: read devices' object lists and bring their points up to date."""

from __future__ import annotations

from app.extensions import db
from app.models import Device, Point, Site, utcnow
from bacnet.errors import BACnetError
from workers.actors.common import load_site, site_devices, target_of
from workers.context import WorkerContext
from workers.health import mark_answered, mark_failed


def refresh_devices(context: WorkerContext, site: Site, devices: list[Device]) -> dict:
    """Enumerate ``devices`` and upsert their points; returns counts."""
    results = context.engine.list_points([target_of(device) for device in devices])
    now = utcnow()
    new_points = seen_points = failed = 0
    for device, result in zip(devices, results):
        if isinstance(result, BACnetError):
            mark_failed(device, now, f"point list: {result}")
            failed += 1
            continue
        mark_answered(device, now)
        existing = {(point.object_type, point.object_instance): point
                    for point in db.session.execute(db.select(Point).where(Point.device_id == device.id)).scalars()}
        for info in result:
            point = existing.get(info.ref)
            if point is None:
                point = Point(device_id=device.id, object_type=info.object_type,
                              object_instance=info.object_instance, polling_enabled=site.poll_new_points)
                db.session.add(point)
                new_points += 1
            point.name = info.name or point.name or f"{info.object_type} {info.object_instance}"
            point.description = info.description
            point.units = info.units
            point.writable = info.commandable
            point.value_type = info.value_type
            seen_points += 1
    db.session.commit()
    return {"devices": len(devices), "points": seen_points, "new_points": new_points, "devices_failed": failed}


def refresh_points(context: WorkerContext, *, site_id: int, device_ids: list[int] | None = None) -> dict:
    site = load_site(site_id)
    return refresh_devices(context, site, site_devices(site, device_ids))
