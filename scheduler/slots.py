"""Slots: the instants a schedule is due, independent of when any scheduler process happened to run.

Interval schedules are due on a grid anchored at the Unix epoch (every 10 s means :00, :10, ...),
cron schedules at their cron times. Naming each run after its slot gives every run a stable
message id, so a retried tick, two schedulers for a moment, or a restarted leader can never send
two messages for one slot — and missed slots can be counted after any downtime.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from apscheduler.triggers.cron import CronTrigger

from app.cron import parse_cron
from app.models import Schedule

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: How far back a cron slot is searched for (a yearly cron still has one within this).
CRON_LOOKBACK = timedelta(days=400)
#: Most slots counted when reporting missed runs (the count is only informative beyond that).
MAX_COUNTED = 100_000


def _cron(schedule: Schedule) -> CronTrigger:
    return parse_cron(schedule.cron.strip())


def latest_slot(schedule: Schedule, now: datetime) -> datetime | None:
    """The last slot at or before ``now``."""
    if schedule.interval_seconds:
        seconds = int((now - EPOCH).total_seconds()) // schedule.interval_seconds * schedule.interval_seconds
        return EPOCH + timedelta(seconds=seconds)
    trigger = _cron(schedule)
    window = timedelta(minutes=1)
    while window <= CRON_LOOKBACK:
        found = trigger.get_next_fire_time(None, now - window)
        if found is not None and found <= now:
            # Walk forward to the last fire time that is still not after now.
            while True:
                following = trigger.get_next_fire_time(found, found + timedelta(seconds=1))
                if following is None or following > now:
                    return found
                found = following
        window *= 2
    return None


def next_slot(schedule: Schedule, after: datetime) -> datetime | None:
    """The first slot strictly after ``after``."""
    if schedule.interval_seconds:
        return latest_slot(schedule, after) + timedelta(seconds=schedule.interval_seconds)
    return _cron(schedule).get_next_fire_time(None, after + timedelta(seconds=1))


def period(schedule: Schedule, slot: datetime) -> timedelta:
    """Time from ``slot`` to the following one: how late a run may be and still run."""
    following = next_slot(schedule, slot)
    return (following - slot) if following else timedelta(days=1)


def count_between(schedule: Schedule, start: datetime, end: datetime) -> int:
    """Slots strictly between ``start`` and ``end``."""
    if schedule.interval_seconds:
        gap = int((end - start).total_seconds()) // schedule.interval_seconds
        return max(0, gap - 1)
    count, current = 0, next_slot(schedule, start)
    while current is not None and current < end and count < MAX_COUNTED:
        count += 1
        current = next_slot(schedule, current)
    return count


def message_id(schedule: Schedule, slot: datetime, suffix: str = "") -> str:
    """The deterministic id of the schedule's run for ``slot``."""
    return f"sched-{schedule.id}-{slot.strftime('%Y%m%dT%H%M%SZ')}{suffix}"
