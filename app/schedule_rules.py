"""What makes a schedule valid, shared by the admin form and the REST API."""

from __future__ import annotations

from app.cron import CronError, parse_cron

#: Longest interval a schedule may have (a week; longer belongs in a cron expression).
MAX_INTERVAL_SECONDS = 7 * 86400
#: Longest jitter (seconds).
MAX_JITTER_SECONDS = 3600


def schedule_problem(interval_seconds: int | None, cron: str | None,
                     jitter_seconds: int | None) -> tuple[str, str] | None:
    """The first problem as (field, message), or None when the timing is valid."""
    cron = (cron or "").strip()
    if interval_seconds is not None and not 1 <= interval_seconds <= MAX_INTERVAL_SECONDS:
        return "interval_seconds", f"must be 1..{MAX_INTERVAL_SECONDS} seconds"
    if not interval_seconds and not cron:
        return "interval_seconds", "give an interval in seconds or a cron expression"
    if interval_seconds and cron:
        return "cron", "give an interval or a cron expression, not both"
    if cron:
        try:
            parse_cron(cron)
        except CronError as error:
            return "cron", str(error)
    jitter = jitter_seconds or 0
    if not 0 <= jitter <= MAX_JITTER_SECONDS:
        return "jitter_seconds", f"must be 0..{MAX_JITTER_SECONDS} seconds"
    if interval_seconds and jitter >= interval_seconds:
        # A jitter as long as the interval would let a run drift into the next slot.
        return "jitter_seconds", "must be shorter than the interval"
    return None
