"""What happens when a schedule is due: enqueue its slot's job, or record why not.

Every outcome of a slot is a job_run row with the slot's message id: the job itself, or a
``skipped`` row with the reason (previous run still running; missed slots coalesced). So the
ledger shows every slot, and the unique message id makes a second attempt for a slot a no-op.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import JobRun, Schedule, utcnow
from app.transport import CatalogError, EnqueueError, enqueue, resolve_kind
from scheduler.slots import count_between, latest_slot, message_id

log = logging.getLogger(__name__)


def _kwargs(schedule: Schedule) -> dict:
    kwargs: dict = {"site_id": schedule.site_id}
    if schedule.kind == "discover":
        kwargs["refresh_points"] = True
    elif schedule.device_ids:
        kwargs["device_ids"] = list(schedule.device_ids)
    return kwargs


def record_skip(schedule: Schedule, slot: datetime, reason: str, *, suffix: str = "") -> None:
    """A finished ``skipped`` job_run for ``slot`` (ignored if that slot already has its row)."""
    now = utcnow()
    db.session.add(JobRun(message_id=message_id(schedule, slot, suffix), actor=schedule.actor,
                          kwargs=_kwargs(schedule), site_id=schedule.site_id, schedule_id=schedule.id,
                          transport=resolve_kind(schedule.site, _settings()), queue="", triggered_by="schedule",
                          triggered_by_detail=str(schedule)[:120], status="skipped", enqueued_at=now,
                          finished_at=now, error=reason))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()


def _settings():
    from flask import current_app

    return current_app.config["SETTINGS"]


def _previous_still_open(schedule: Schedule) -> bool:
    return db.session.execute(
        db.select(JobRun.id).where(JobRun.schedule_id == schedule.id, JobRun.status.in_(("queued", "running")))
        .limit(1)).first() is not None


def tick(schedule_id: int, now: datetime | None = None, *, baseline_only: bool = False) -> str:
    """Handle the schedule's latest due slot if nobody has; return what was done (for logs/tests).

    ``baseline_only``: remember the current slot as handled without running it (a schedule seen
    for the first time runs from its next slot on, not at once).
    """
    now = now or utcnow()
    schedule = db.session.get(Schedule, schedule_id)
    if schedule is None or not schedule.enabled:
        return "gone"
    slot = latest_slot(schedule, now)
    if slot is None:
        return "no slot"
    last = schedule.last_slot_at
    if last is not None and slot <= last:
        return "already handled"
    if last is None and baseline_only:
        schedule.last_slot_at = slot
        db.session.commit()
        return "baseline"
    if last is not None:
        missed = count_between(schedule, last, slot)
        if missed:
            record_skip(schedule, slot, f"{missed} run(s) missed between {last:%Y-%m-%d %H:%M:%S} and "
                        f"{slot:%H:%M:%S} UTC (no scheduler was running); coalesced into the run at "
                        f"{slot:%H:%M:%S}", suffix="-missed")
    outcome = "enqueued"
    if _previous_still_open(schedule):
        record_skip(schedule, slot, "previous run still running")
        outcome = "skipped"
    else:
        try:
            enqueue(schedule.actor, _kwargs(schedule), triggered_by="schedule", detail=str(schedule),
                    schedule_id=schedule.id, message_id=message_id(schedule, slot))
        except (CatalogError, EnqueueError) as error:
            # The failed row (with the reason) is the slot's record; the next slot tries again.
            log.warning("schedule %s, slot %s: %s", schedule.id, slot, error)
            outcome = "failed"
    schedule = db.session.get(Schedule, schedule_id)
    schedule.last_slot_at = slot
    schedule.last_run_at = now
    db.session.commit()
    return outcome
