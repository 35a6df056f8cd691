"""Small helpers shared by tests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from app.extensions import db
from app.models import FINAL_STATUSES, Device, JobRun, Site
from app.settings import BindAddress
from app.transport import LOCAL_BROKER_KEY
from workers.broker import make_broker
from workers.service import WorkerService


@contextmanager
def in_process_worker(app, loopback_block: int, *, threads: int = 2) -> Iterator[WorkerService]:
    """A worker on the in-process broker for ``app``, its BACnet socket on 127.0.<block>.1:47809."""
    broker = make_broker("")
    app.extensions[LOCAL_BROKER_KEY] = broker
    service = WorkerService(app, broker, BindAddress(f"127.0.{loopback_block}.1", 8, 47809), threads=threads,
                            request_timeout=1.0)
    service.start()
    try:
        yield service
    finally:
        service.stop(timeout_ms=5000)


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
