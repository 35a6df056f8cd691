"""Steps several fault tests share: the web side's app, discovery, reading the slots' ledger."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from app.extensions import db
from app.models import Site
from app.transport import enqueue
from tests.conftest import build_app
from tests.faults.stack import Stack
from tests.helpers import wait_for_job

#: The slot a scheduled job belongs to, from its message id (scheduler.slots.message_id).
_SLOT = re.compile(r"sched-(\d+)-(\d{8}T\d{6}Z)(-missed)?$")


def web_side(stack: Stack, **settings: str):
    """An app configured like the web process (enqueues go through the real transport)."""
    return build_app(stack.tmp_path, DATABASE_URL=stack.database_url, SECRET_KEY="faults-secret-key-faults",
                     **settings)


def discover(app, site_id: int, timeout: float = 90) -> None:
    """Discovery with point refresh through the product's transport; asserts it succeeded."""
    with app.app_context():
        site = db.session.get(Site, site_id)
        assert site is not None
        job_id = enqueue("discover_devices", {"site_id": site_id, "refresh_points": True}, triggered_by="cli").id
    job = wait_for_job(app, job_id, timeout=timeout)
    assert job.status == "succeeded", job.error
    assert job.summary and job.summary.get("devices_failed", 0) == 0, job.summary


def slot_of(message_id: str) -> datetime | None:
    match = _SLOT.match(message_id)
    if match is None or match.group(3):
        return None
    return datetime.strptime(match.group(2), "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)


def scheduled_jobs(stack: Stack, schedule_id: int) -> list[dict]:
    """The schedule's job rows (one per slot, "-missed" records left out), oldest slot first."""
    rows = stack.sql("SELECT id, message_id, status, attempts, error, summary, started_at, finished_at "
                     "FROM job_run WHERE schedule_id = :id ORDER BY message_id", id=schedule_id)
    jobs = []
    for row in rows:
        job = dict(row._mapping)
        job["slot"] = slot_of(job["message_id"])
        if job["slot"] is not None:
            jobs.append(job)
    return jobs
