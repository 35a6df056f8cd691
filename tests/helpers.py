"""Small helpers shared by tests."""

from __future__ import annotations

import time

from app.extensions import db
from app.models import FINAL_STATUSES, JobRun


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
