"""collect_readings: read the polled points of a site and store the readings."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from app.extensions import db
from app.models import Point, utcnow
from app.readings_store import store_readings
from workers.actors.common import load_site, site_devices, target_of
from workers.context import WorkerContext
from workers.health import is_due, mark_answered, mark_failed

log = logging.getLogger(__name__)


def collect_readings(context: WorkerContext, *, site_id: int, device_ids: list[int] | None = None) -> dict:
    site = load_site(site_id)
    now = utcnow()
    devices = [device for device in site_devices(site, device_ids) if device.polling_enabled]
    due = [device for device in devices if is_due(device, now)]
    points_by_device: dict[int, dict[tuple[str, int], Point]] = {}
    for point in db.session.execute(
        db.select(Point).where(Point.device_id.in_([d.id for d in due]), Point.polling_enabled.is_(True))
    ).scalars():
        points_by_device.setdefault(point.device_id, {})[(point.object_type, point.object_instance)] = point
    work = [(device, points_by_device[device.id]) for device in due if device.id in points_by_device]

    outcomes = context.engine.read_values([(target_of(device), list(points)) for device, points in work])

    rows = []
    point_errors = devices_failed = 0
    finished = utcnow()
    for (device, points), outcome in zip(work, outcomes):
        if not outcome.ok:
            mark_failed(device, finished, outcome.device_error or "no answer")
            devices_failed += 1
            log.warning("device %s (%s) did not answer: %s", device.device_instance, device.address,
                        outcome.device_error)
            continue
        mark_answered(device, finished)
        ts = datetime.fromtimestamp(outcome.read_at, timezone.utc)
        for ref, value in outcome.values.items():
            point = points[ref]
            point.last_value = value.number
            point.last_text = value.text
            point.last_read_at = ts
            point.last_error = ""
            rows.append((point.id, ts, value.number, value.text))
        for ref, error in outcome.errors.items():
            points[ref].last_error = error
            point_errors += 1
    stored = store_readings(rows)
    db.session.commit()
    return {
        "devices": len(work),
        "devices_skipped": len(devices) - len(due),
        "devices_failed": devices_failed,
        "points": sum(len(points) for _, points in work),
        "readings": stored,
        "point_errors": point_errors,
        "seconds": round((utcnow() - now).total_seconds(), 3),
    }
