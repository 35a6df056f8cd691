"""The scheduler service against the database: schedules become enqueued jobs, edits apply."""

import time

import pytest

from app.extensions import db
from app.models import JobRun, Schedule, Site
from app.transport import LOCAL_BROKER_KEY
from scheduler.service import SchedulerService
from scheduler.triggers import ScheduleError, job_id, trigger_for
from tests.helpers import wait_until
from workers.broker import make_broker


@pytest.fixture
def scheduler_app(app):
    # A broker nobody consumes: the jobs stay queued, which is all the scheduler is responsible for.
    app.extensions[LOCAL_BROKER_KEY] = make_broker("")
    with app.app_context():
        site = Site(name="S", discovery_targets="127.0.0.10")
        db.session.add(site)
        db.session.commit()
    return app


def _count(app, **filters) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(JobRun).filter_by(**filters))


def test_interval_schedule_enqueues_and_edits_apply(scheduler_app):
    app = scheduler_app
    with app.app_context():
        schedule = Schedule(name="fast", kind="collect", site_id=1, interval_seconds=1)
        db.session.add(schedule)
        db.session.commit()
        schedule_id = schedule.id
    service = SchedulerService(app, reconcile_interval=0.2)
    service.start()
    try:
        wait_until(lambda: _count(app, schedule_id=schedule_id) >= 2, timeout=5)
        with app.app_context():
            run = db.session.execute(db.select(JobRun).where(JobRun.schedule_id == schedule_id)).scalars().first()
            assert (run.actor, run.triggered_by, run.triggered_by_detail, run.kwargs) == (
                "collect_readings", "schedule", "fast", {"site_id": 1})
            assert db.session.get(Schedule, schedule_id).last_run_at is not None
            db.session.get(Schedule, schedule_id).enabled = False
            db.session.commit()
        wait_until(lambda: service.scheduler.get_job(job_id(schedule_id)) is None, timeout=3)
        frozen = _count(app, schedule_id=schedule_id)
        time.sleep(1.5)
        assert _count(app, schedule_id=schedule_id) == frozen
        # A new schedule appears without a restart.
        with app.app_context():
            db.session.add(Schedule(name="refresh", kind="refresh", site_id=1, interval_seconds=1))
            db.session.commit()
        wait_until(lambda: _count(app, actor="refresh_points") >= 1, timeout=5)
    finally:
        service.stop()


def test_invalid_rows_are_ignored_not_fatal(scheduler_app):
    app = scheduler_app
    with app.app_context():
        db.session.add(Schedule(name="broken", kind="collect", site_id=1, cron="not a cron"))
        db.session.add(Schedule(name="ok", kind="collect", site_id=1, interval_seconds=3600))
        db.session.commit()
    service = SchedulerService(app, reconcile_interval=0.2)
    service.start()
    try:
        assert [job.id for job in service.scheduler.get_jobs()] == [job_id(2)]
    finally:
        service.stop()


def test_trigger_for_reports_why():
    with pytest.raises(ScheduleError, match="must have 5 fields"):
        trigger_for(Schedule(kind="collect", site_id=1, cron="* * *"))
    with pytest.raises(ScheduleError, match="neither an interval nor a cron"):
        trigger_for(Schedule(kind="collect", site_id=1, cron=""))
    assert "interval[0:00:10]" in str(trigger_for(Schedule(kind="collect", site_id=1, interval_seconds=10)))
