"""collect_readings: read the polled points of a site and store the readings.

Each collection stores at most one reading per point, whatever happens to the worker or the
database around it:

- the readings, the points' last values, the devices' health and the job's summary are written
  in one transaction (the summary on the job's own row, workers.middleware.stage_summary);
- a redelivered message (the worker died after that commit, before the job was marked finished)
  finds the committed summary and returns it instead of reading the devices again, which would
  store a second set of readings under new timestamps; the write checks again, holding the job's
  row, so two attempts running at once (a live worker taken for dead) cannot both store;
- the write is retried through a database outage with the same rows, so a retried or an
  ambiguous commit meets the (point, ts) primary key and stores nothing twice.

No database transaction stays open while the devices are read (seconds, for a large site): the
connection goes back to the pool, and the write checks one out again (pre-ping: a database that
restarted meanwhile costs nothing).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone

from app.extensions import db
from app.models import Device, Point, utcnow
from app.readings_store import PointErrorRow, ReadingRow, store_readings, update_points
from bacnet.types import ObjectRef, ReadOutcome
from workers.actors.common import load_site, site_devices, target_of
from workers.context import WorkerContext
from workers.db_retry import with_db_retry
from workers.health import is_due, mark_answered, mark_failed
from workers.middleware import committed_summary, current_message_id, stage_summary

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _DeviceWork:
    """What the write needs of one device read: plain data, valid across a rollback."""

    device_id: int
    label: str
    points: dict[ObjectRef, int]


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


def _store(work: list[_DeviceWork], outcomes: list[ReadOutcome], finished: datetime, counts: dict,
           started: datetime) -> dict:
    """Write one collection in one transaction and commit; safe to run again after a rollback."""
    done = committed_summary(lock=True)
    if done is not None:  # another attempt of this job stored its readings meanwhile
        db.session.rollback()
        log.warning("job %s: another attempt stored its readings first; these are dropped", current_message_id())
        return done
    devices = {device.id: device for device in db.session.execute(
        db.select(Device).where(Device.id.in_([item.device_id for item in work]))).scalars()}
    readings: list[ReadingRow] = []
    failures: list[PointErrorRow] = []
    devices_failed = 0
    for item, outcome in zip(work, outcomes):
        device = devices.get(item.device_id)
        if not outcome.ok:
            devices_failed += 1
            if device is not None:
                mark_failed(device, finished, outcome.device_error or "no answer")
            continue
        if device is None:  # deleted while it was being read: its points went with it
            continue
        mark_answered(device, finished)
        ts = datetime.fromtimestamp(outcome.read_at, timezone.utc)
        readings.extend((item.points[ref], ts, value.number, value.text) for ref, value in outcome.values.items())
        failures.extend((item.points[ref], error) for ref, error in outcome.errors.items())
    stored = store_readings(readings)
    update_points(readings, failures)
    summary = {**counts, "devices_failed": devices_failed, "readings": stored, "point_errors": len(failures),
               "seconds": round((utcnow() - started).total_seconds(), 3)}
    stage_summary(summary)
    db.session.commit()
    return summary


def collect_readings(context: WorkerContext, *, site_id: int, device_ids: list[int] | None = None) -> dict:
    done = committed_summary()
    if done is not None:
        log.warning("job %s: its readings were stored by an earlier attempt (message delivered again); "
                    "not reading the devices again", current_message_id())
        return done
    site = load_site(site_id)
    started = utcnow()
    devices = [device for device in site_devices(site, device_ids) if device.polling_enabled]
    due = [device for device in devices if is_due(device, started)]
    points_by_device = _polled_points([device.id for device in due])
    work = [_DeviceWork(device.id, f"{device.device_instance} ({device.address})", points_by_device[device.id])
            for device in due if device.id in points_by_device]
    targets = [(target_of(device), list(points_by_device[device.id])) for device in due
               if device.id in points_by_device]
    counts = {"devices": len(work), "devices_skipped": len(devices) - len(due),
              "points": sum(len(item.points) for item in work)}
    # End the read-only transaction before the (long) BACnet reads: no connection idles in a
    # transaction meanwhile, and one that died with a database restart is simply replaced.
    db.session.commit()

    outcomes = context.engine.read_values(targets)
    finished = utcnow()
    for item, outcome in zip(work, outcomes):
        if not outcome.ok:
            log.warning("device %s did not answer: %s", item.label, outcome.device_error)
    return with_db_retry(lambda: _store(work, outcomes, finished, counts, started),
                         what=f"collection of site {site_id}: storing the readings")
