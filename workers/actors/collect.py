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

One device never costs the others their readings: the readings go to the database in bulk (a
few statements for thousands of rows) inside a savepoint, and when the database refuses that,
device by device, each in a savepoint of its own, so only the refused device's rows are lost.
That device, and every device that did not answer, is named in the summary's
``failed_devices`` (the job ends "partial", or "failed" when no device's readings were stored:
workers.middleware). All of it is still the one transaction above.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone

from app.error_text import first_line
from app.extensions import db
from app.models import Device, Point, utcnow
from app.readings_store import PointErrorRow, ReadingRow, open_write_transaction, store_readings, update_points
from bacnet.types import ObjectRef, ReadOutcome
from workers.actors.common import device_label, in_savepoint, load_site, site_devices, target_of
from workers.context import WorkerContext
from workers.db_retry import with_db_retry
from workers.health import is_due, mark_answered, mark_failed, mark_unstored
from workers.middleware import (NOTHING_DUE, committed_summary, current_message_id, record_failed_devices,
                                stage_summary)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _DeviceWork:
    """What the write needs of one device read: plain data, valid across a rollback."""

    device_id: int
    label: str
    points: dict[ObjectRef, int]


@dataclass
class _DeviceRows:
    """One answering device's rows for the database."""

    device_id: int
    label: str
    readings: list[ReadingRow]
    failures: list[PointErrorRow]


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


def _write(rows: list[_DeviceRows]) -> tuple[int, dict[int, str]]:
    """Store every device's rows; (readings stored, {device id: why its rows were refused}).

    The fast path is one bulk write. Only when the database refuses it are the devices written
    one savepoint each, to find the device at fault and keep everybody else's rows.
    """
    readings = [row for device in rows for row in device.readings]
    failures = [row for device in rows for row in device.failures]
    if not readings and not failures:
        return 0, {}

    def bulk() -> int:
        stored = store_readings(readings)
        update_points(readings, failures)
        return stored

    stored, refused = in_savepoint(bulk, what="the collection's readings in bulk")
    if refused is None:
        return stored or 0, {}
    total, unstored = 0, {}
    for device in rows:

        def one(device: _DeviceRows = device) -> int:
            stored = store_readings(device.readings)
            update_points(device.readings, device.failures)
            return stored

        stored, refused = in_savepoint(one, what=f"readings of device {device.label}")
        if refused is None:
            total += stored or 0
        else:
            unstored[device.device_id] = refused
    return total, unstored


def _store(work: list[_DeviceWork], outcomes: list[ReadOutcome], finished: datetime, counts: dict,
           started: datetime) -> dict:
    """Write one collection in one transaction and commit; safe to run again after a rollback."""
    # SQLite: take the write lock before looking for the other attempt's summary, so the check
    # and the write are one step there too (PostgreSQL: the row lock below).
    open_write_transaction()
    done = committed_summary(lock=True)
    if done is not None:  # another attempt of this job stored its readings meanwhile
        db.session.rollback()
        log.warning("job %s: another attempt stored its readings first; these are dropped", current_message_id())
        return done
    devices = {device.id: device for device in db.session.execute(
        db.select(Device).where(Device.id.in_([item.device_id for item in work]))).scalars()}
    rows: list[_DeviceRows] = []
    failed: dict[str, str] = {}
    silent: list[tuple[int, str]] = []
    for item, outcome in zip(work, outcomes):
        if not outcome.ok:
            reason = first_line(outcome.device_error or "") or "no answer"
            failed[item.label] = reason
            silent.append((item.device_id, reason))
            continue
        if item.device_id not in devices:  # deleted while it was being read: its points went with it
            continue
        ts = datetime.fromtimestamp(outcome.read_at, timezone.utc)
        rows.append(_DeviceRows(
            item.device_id, item.label,
            [(item.points[ref], ts, value.number, value.text) for ref, value in outcome.values.items()],
            [(item.points[ref], error) for ref, error in outcome.errors.items()]))
    stored, unstored = _write(rows)
    # Device health last, after the savepoints: a savepoint rolled back expires what it touched.
    for device_rows in rows:
        device = devices[device_rows.device_id]
        refused = unstored.get(device_rows.device_id)
        if refused is None:
            mark_answered(device, finished)
        else:
            failed[device_rows.label] = f"could not store its readings: {refused}"
            mark_unstored(device, finished, failed[device_rows.label])
    for device_id, reason in silent:
        if device_id in devices:
            mark_failed(devices[device_id], finished, reason)
    summary = {**counts, "devices_failed": len(failed), "readings": stored,
               "point_errors": sum(len(device.failures) for device in rows if device.device_id not in unstored),
               "seconds": round((utcnow() - started).total_seconds(), 3)}
    record_failed_devices(summary, failed, asked=len(work))
    if not work and counts["devices_skipped"]:
        # Every polled device is backed off: the job read and stored nothing, which is not a success.
        summary[NOTHING_DUE] = (f"nothing was due: all {counts['devices_skipped']} polled device(s) are backed off "
                                "after failures (see the devices' last error and next retry)")
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
    work = [_DeviceWork(device.id, device_label(device.device_instance, device.address), points_by_device[device.id])
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
