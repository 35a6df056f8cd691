"""Small helpers shared by tests."""

from __future__ import annotations

import time

from app.extensions import db
from app.models import FINAL_STATUSES, Device, JobRun, Site


def wait_for_job(app, job_id: int, timeout: float = 30.0) -> JobRun:
    """Poll the ledger until the job is final; return the row (detached, attributes loaded)."""
    deadline = time.monotonic() + timeout
    while True:
        with app.app_context():
            run = db.session.get(JobRun, job_id)
            if run.status in FINAL_STATUSES or time.monotonic() > deadline:
                db.session.expunge(run)
                return run
        time.sleep(0.05)


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def add_site_and_device(site_name: str = "S", discovery_targets: str = "", **device_fields) -> Device:
    """A site and one device of it in the current session (flushed: ids are set); the device
    is instance 1 at 127.0.0.10 unless ``device_fields`` say otherwise."""
    site = Site(name=site_name, discovery_targets=discovery_targets)
    db.session.add(site)
    db.session.flush()
    device = Device(site_id=site.id, **{"device_instance": 1, "address": "127.0.0.10", **device_fields})
    db.session.add(device)
    db.session.flush()
    return device
