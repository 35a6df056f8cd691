"""The reaper: jobs nobody will finish become ``lost``, visibly, instead of "queued" forever."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app

from app.extensions import db
from app.models import JobRun, utcnow
from scheduler.vanished import reap_vanished
from workers.catalog import CATALOG

#: Added to an actor's time limit before its job counts as lost (queue wait, clock drift).
MARGIN = timedelta(minutes=2)


def reap(margin: timedelta = MARGIN) -> int:
    """Mark queued/running jobs older than their actor's time limit plus ``margin`` as lost, and
    queued jobs whose message Redis no longer holds (scheduler.vanished)."""
    now = utcnow()
    total = reap_vanished(current_app.config["SETTINGS"], now)
    for actor, spec in CATALOG.items():
        bound = now - timedelta(milliseconds=spec.time_limit_ms) - margin
        for status, column, what in (("running", JobRun.started_at, "started"),
                                     ("queued", JobRun.enqueued_at, "queued")):
            total += db.session.execute(
                db.update(JobRun).where(JobRun.actor == actor, JobRun.status == status, column < bound)
                .values(status="lost", finished_at=now,
                        error=f"{what} over {int((now - bound).total_seconds())} s ago and never finished: "
                              "no worker ran it to the end (worker stopped or killed?)")
            ).rowcount
    db.session.commit()
    return total
