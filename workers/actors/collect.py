"""collect_readings: read the polled points of a site and store the readings."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from app.extensions import db
from app.models import Point, utcnow
from app.readings_store import PointErrorRow, ReadingRow, store_readings, update_points
from bacnet.types import ObjectRef
from workers.actors.common import load_site, site_devices, target_of
from workers.context import WorkerContext
from workers.health import is_due, mark_answered, mark_failed

log = logging.getLogger(__name__)


def _polled_points(device_ids: list[int]) -> dict[int, dict[ObjectRef, int]]:
    """Point ids of the polled points of each device, by object. Plain rows, not ORM objects:
    a site has thousands of points and nothing here needs more than their ids."""
    by_device: dict[int, dict[ObjectRef, int]] = {}
    if not device_ids:
        return by_device
    rows = db.session.execute(
        db.select(Point.id, Point.device_id, Point.object_type, Point.object_instance)
        .where(Point.device_id.in_(device_ids), Point.polling_enabled.is_(True)))
    for point_id, device_id, object_type, object_instance in rows:
        by_device.setdefault(device_id, {})[(object_type, object_instance)] = point_id
    return by_device


def collect_readings(context: WorkerContext, *, site_id: int, device_ids: list[int] | None = None) -> dict:
    site = load_site(site_id)
    now = utcnow()
    devices = [device for device in site_devices(site, device_ids) if device.polling_enabled]
    due = [device for device in devices if is_due(device, now)]
    points_by_device = _polled_points([device.id for device in due])
    work = [(device, points_by_device[device.id]) for device in due if device.id in points_by_device]

    outcomes = context.engine.read_values([(target_of(device), list(points)) for device, points in work])

    readings: list[ReadingRow] = []
    failures: list[PointErrorRow] = []
    devices_failed = 0
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
        readings.extend((points[ref], ts, value.number, value.text) for ref, value in outcome.values.items())
        failures.extend((points[ref], error) for ref, error in outcome.errors.items())
    stored = store_readings(readings)
    update_points(readings, failures)
    db.session.commit()
    return {
        "devices": len(work),
        "devices_skipped": len(devices) - len(due),
        "devices_failed": devices_failed,
        "points": sum(len(points) for _, points in work),
        "readings": stored,
        "point_errors": len(failures),
        "seconds": round((utcnow() - now).total_seconds(), 3),
    }
