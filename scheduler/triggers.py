"""Schedule rows -> APScheduler triggers, and the deterministic job id of each schedule."""

from __future__ import annotations

from datetime import timezone

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from app.cron import CronError, parse_cron
from app.models import Schedule


class ScheduleError(ValueError):
    """A schedule row cannot be turned into a trigger; the message says why."""


def job_id(schedule_id: int) -> str:
    """Deterministic APScheduler job id: reconciling the same row twice never adds two jobs."""
    return f"schedule-{schedule_id}"


def trigger_for(schedule: Schedule) -> BaseTrigger:
    jitter = schedule.jitter_seconds or None
    if schedule.interval_seconds:
        if schedule.interval_seconds < 1:
            raise ScheduleError("interval must be at least 1 second")
        return IntervalTrigger(seconds=schedule.interval_seconds, timezone=timezone.utc, jitter=jitter)
    if (schedule.cron or "").strip():
        try:
            trigger = parse_cron(schedule.cron.strip())
        except CronError as error:
            raise ScheduleError(str(error)) from None
        trigger.jitter = jitter
        return trigger
    raise ScheduleError("schedule has neither an interval nor a cron expression")


def signature(schedule: Schedule) -> tuple:
    """What, if changed, requires replacing the job."""
    return (schedule.kind, schedule.site_id, tuple(schedule.device_ids or ()), schedule.interval_seconds,
            (schedule.cron or "").strip(), schedule.jitter_seconds or 0)
