"""Cron expressions as schedules use them: five fields, UTC. Shared by the admin, the API and
the scheduler so an expression the form accepts is exactly one the scheduler can run."""

from __future__ import annotations

from datetime import timezone

from apscheduler.triggers.cron import CronTrigger


class CronError(ValueError):
    """The expression is not a valid five-field cron; the message says why."""


def parse_cron(expression: str) -> CronTrigger:
    """A five-field cron expression (minute hour day month weekday), in UTC."""
    fields = expression.split()
    if len(fields) != 5:
        raise CronError(f"cron {expression!r} must have 5 fields (minute hour day month weekday), "
                        f"it has {len(fields)}")
    try:
        return CronTrigger.from_crontab(expression, timezone=timezone.utc)
    except ValueError as error:
        raise CronError(f"cron {expression!r}: {error}") from None
