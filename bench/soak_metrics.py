"""The soak's measures, computed from the ledger and the readings after the run.

Definitions (docs/reliability.md repeats them):

- window: the schedule's slots from the first one the scheduler ran (the slot after it first saw
  the schedule) to the last one due before the run's end; ``slots`` is their number.
- ``missed_slots``: slots of the window without a succeeded collection (skipped because the
  previous one still ran, failed, lost, coalesced after downtime, or never recorded at all).
- a collection's readings: the site's readings stamped inside its run, from ``started_at`` to
  ``finished_at`` (a schedule's runs never overlap: the scheduler skips a slot while the previous
  one is still open).
- ``duplicate_readings``: readings beyond one per point per succeeded collection, plus readings in
  the window that belong to no succeeded collection (what a killed or failed attempt would leave).
- ``lost_readings``: expected point-slots minus stored ones: for each succeeded collection, the
  site's polled points (devices x points) minus the points with a reading inside its run.
- ``p99_cycle_s``: 99th percentile of the succeeded collections' run time (``finished_at -
  started_at``: reading every device, writing, committing). ``p99_start_lag_s``: of ``started_at -
  slot`` (scheduler tick, Redis, worker pick-up).
- ``worker_rss_mb_start`` / ``_end``: the worker's resident memory after the warm-up collections and
  after the last collection of the window.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import text
from sqlalchemy.engine import Connection

_SLOT = re.compile(r"sched-\d+-(\d{8}T\d{6}Z)(-missed)?$")


def slot_of(message_id: str) -> tuple[datetime | None, bool]:
    """(slot, is the "-missed" record) of a scheduled job's message id."""
    match = _SLOT.match(message_id)
    if match is None:
        return None, False
    return datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc), bool(match.group(2))


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class Window:
    first_slot: datetime
    last_slot: datetime
    interval: int

    @property
    def slots(self) -> int:
        return int((self.last_slot - self.first_slot).total_seconds()) // self.interval + 1

    def __contains__(self, slot: datetime) -> bool:
        return self.first_slot <= slot <= self.last_slot


def scheduled_runs(connection: Connection, schedule_id: int) -> list[dict]:
    """Every job row of the schedule, with its slot, oldest first."""
    rows = connection.execute(text(
        "SELECT id, message_id, status, started_at, finished_at, summary FROM job_run WHERE schedule_id = :id"),
        {"id": schedule_id}).mappings().all()
    runs = []
    for row in rows:
        slot, missed_record = slot_of(row["message_id"])
        if slot is not None:
            runs.append({**row, "slot": slot, "missed_record": missed_record})
    return sorted(runs, key=lambda run: (run["slot"], run["missed_record"]))


def measure(connection: Connection, *, schedule_id: int, site_id: int, window: Window, expected_points: int) -> dict:
    """The soak's figures for ``window`` (see the module docstring)."""
    runs = [run for run in scheduled_runs(connection, schedule_id) if run["slot"] in window]
    done = [run for run in runs if not run["missed_record"] and run["status"] == "succeeded"]
    done_slots = {run["slot"] for run in done}
    per_run = {}
    if done:
        rows = connection.execute(text(
            "SELECT j.id, count(*), count(DISTINCT r.point_id) FROM job_run j "
            "JOIN reading r ON r.ts BETWEEN j.started_at AND j.finished_at "
            "JOIN point p ON p.id = r.point_id JOIN device d ON d.id = p.device_id AND d.site_id = :site "
            "WHERE j.id = ANY(:ids) GROUP BY j.id"), {"site": site_id, "ids": [run["id"] for run in done]}).all()
        per_run = {job_id: (count, distinct) for job_id, count, distinct in rows}
    stored = sum(count for count, _ in per_run.values())
    distinct_pairs = sum(distinct for _, distinct in per_run.values())
    in_window = 0
    if runs:
        low = min((run["started_at"] for run in runs if run["started_at"]), default=window.first_slot)
        high = max((run["finished_at"] for run in runs if run["finished_at"]), default=window.last_slot)
        in_window = connection.execute(text(
            "SELECT count(*) FROM reading r JOIN point p ON p.id = r.point_id JOIN device d ON d.id = p.device_id "
            "WHERE d.site_id = :site AND r.ts BETWEEN :low AND :high"),
            {"site": site_id, "low": low, "high": high}).scalar()
    cycles = [(run["finished_at"] - run["started_at"]).total_seconds() for run in done]
    lags = [(run["started_at"] - run["slot"]).total_seconds() for run in done]
    return {
        "slots": window.slots,
        "missed_slots": window.slots - len(done_slots),
        "duplicate_readings": (stored - distinct_pairs) + (in_window - stored),
        "lost_readings": expected_points * len(done) - distinct_pairs,
        "p99_cycle_s": round(percentile(cycles, 0.99), 3),
        "p50_cycle_s": round(percentile(cycles, 0.50), 3),
        "max_cycle_s": round(max(cycles, default=0.0), 3),
        "p99_start_lag_s": round(percentile(lags, 0.99), 3),
        "readings": in_window,
        "not_succeeded": sorted({run["status"] for run in runs if run["status"] != "succeeded"}),
    }


def first_run_slot(connection: Connection, schedule_id: int) -> datetime | None:
    """The slot of the schedule's first job row (the scheduler's first run of it)."""
    runs = scheduled_runs(connection, schedule_id)
    return runs[0]["slot"] if runs else None


def window_for(first_slot: datetime, interval: int, minutes: float) -> Window:
    """``minutes`` worth of slots from ``first_slot`` (at least one)."""
    count = max(1, int(minutes * 60) // interval)
    return Window(first_slot, first_slot + timedelta(seconds=interval * (count - 1)), interval)
