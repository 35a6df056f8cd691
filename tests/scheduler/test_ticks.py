"""tick(): one slot, one outcome, one ledger row — with an injected clock."""

from datetime import datetime, timezone

import pytest

from app.extensions import db
from app.models import JobRun, Schedule, Site
from app.transport import LOCAL_BROKER_KEY
from scheduler.ticks import tick
from workers.broker import make_broker


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


@pytest.fixture
def schedule_id(app):
    app.extensions[LOCAL_BROKER_KEY] = make_broker("")  # nobody consumes: jobs stay queued
    with app.app_context():
        site = Site(name="S", discovery_targets="127.0.0.10")
        db.session.add(site)
        db.session.flush()
        schedule = Schedule(name="every 10 s", kind="collect", site_id=site.id, interval_seconds=10)
        db.session.add(schedule)
        db.session.commit()
        return schedule.id


def ledger(app):
    with app.app_context():
        return [(r.message_id, r.status, r.error) for r in db.session.execute(
            db.select(JobRun).order_by(JobRun.id)).scalars()]


def finish_all(app):
    with app.app_context():
        db.session.execute(db.update(JobRun).where(JobRun.status == "queued").values(status="succeeded"))
        db.session.commit()


def test_first_sight_is_a_baseline_then_each_slot_runs_once(app, schedule_id):
    with app.app_context():
        assert tick(schedule_id, at("2026-11-27 12:00:03"), baseline_only=True) == "baseline"
        assert tick(schedule_id, at("2026-11-27 12:00:09")) == "already handled"
        assert tick(schedule_id, at("2026-11-27 12:00:10.2")) == "enqueued"
        # A second tick for the same slot (retry, second scheduler) does nothing.
        assert tick(schedule_id, at("2026-11-27 12:00:11")) == "already handled"
    assert ledger(app) == [("sched-1-20261127T120010Z", "queued", "")]


def test_missed_slots_coalesce_into_one_run_and_the_skip_is_recorded(app, schedule_id):
    with app.app_context():
        tick(schedule_id, at("2026-11-27 12:00:00"), baseline_only=True)
        # No scheduler between 12:00:00 and 12:00:45: 12:00:10..12:00:30 are missed, 12:00:40 is due.
        assert tick(schedule_id, at("2026-11-27 12:00:45"), baseline_only=True) == "enqueued"
    rows = ledger(app)
    assert rows[0][0] == "sched-1-20261127T120040Z-missed" and rows[0][1] == "skipped"
    assert rows[0][2].startswith("3 run(s) missed between 2026-11-27 12:00:00 and 12:00:40 UTC")
    assert rows[1] == ("sched-1-20261127T120040Z", "queued", "")


def test_no_pile_up_while_the_previous_run_is_open(app, schedule_id):
    with app.app_context():
        tick(schedule_id, at("2026-11-27 12:00:00"), baseline_only=True)
        assert tick(schedule_id, at("2026-11-27 12:00:10")) == "enqueued"
        assert tick(schedule_id, at("2026-11-27 12:00:20")) == "skipped"
    finish_all(app)
    with app.app_context():
        assert tick(schedule_id, at("2026-11-27 12:00:30")) == "enqueued"
    assert ledger(app) == [
        ("sched-1-20261127T120010Z", "succeeded", ""),
        ("sched-1-20261127T120020Z", "skipped", "previous run still running"),
        ("sched-1-20261127T120030Z", "queued", ""),
    ]


def test_disabled_and_deleted_schedules_do_nothing(app, schedule_id):
    with app.app_context():
        db.session.get(Schedule, schedule_id).enabled = False
        db.session.commit()
        assert tick(schedule_id, at("2026-11-27 12:00:10")) == "gone"
        assert tick(999, at("2026-11-27 12:00:10")) == "gone"
    assert ledger(app) == []


def test_failed_enqueue_is_the_slots_record(app, schedule_id):
    app.extensions.pop(LOCAL_BROKER_KEY)
    with app.app_context():
        tick(schedule_id, at("2026-11-27 12:00:00"), baseline_only=True)
        assert tick(schedule_id, at("2026-11-27 12:00:10")) == "failed"
        assert tick(schedule_id, at("2026-11-27 12:00:11")) == "already handled"
    [(message_id, status, error)] = ledger(app)
    assert (message_id, status) == ("sched-1-20261127T120010Z", "failed")
    assert "no worker runs in this process" in error
