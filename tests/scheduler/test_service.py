"""The scheduler service in-process: leadership on one host (file lock), reconcile, edits, takeover."""

import time

import pytest

from app.extensions import db
from app.models import JobRun, Schedule, ProcessHeartbeat, Site, scheduler_status
from app.transport import LOCAL_BROKER_KEY
from scheduler.service import SchedulerService
from scheduler.triggers import ScheduleError, job_id, trigger_for
from tests.helpers import wait_until
from workers.broker import make_broker


@pytest.fixture
def scheduler_app(app):
    # A broker nobody consumes: jobs stay queued. Scheduling is all these tests look at; the
    # pile-up guard would skip every slot after the first, so each test finishes jobs itself.
    app.extensions[LOCAL_BROKER_KEY] = make_broker("")
    with app.app_context():
        db.session.add(Site(name="S", discovery_targets="127.0.0.10"))
        db.session.commit()
    return app


def _runs(app, **filters) -> list[JobRun]:
    with app.app_context():
        db.session.execute(db.update(JobRun).where(JobRun.status == "queued").values(status="succeeded"))
        db.session.commit()
        return db.session.execute(db.select(JobRun).filter_by(**filters).order_by(JobRun.id)).scalars().all()


def test_only_one_leads_and_the_standby_takes_over(scheduler_app):
    app = scheduler_app
    with app.app_context():
        db.session.add(Schedule(name="fast", kind="collect", site_id=1, interval_seconds=1))
        db.session.commit()
    first = SchedulerService(app, reconcile_interval=0.2)
    second = SchedulerService(app, reconcile_interval=0.2)
    first.start()
    second.start()
    try:
        assert first.leading and not second.leading
        wait_until(lambda: len(_runs(app, status="succeeded")) >= 3, timeout=10)
        with app.app_context():
            status = scheduler_status()
            assert status["alive"] and status["standby"] == 1 and status["leader"]["pid"] > 0
        first.stop()
        wait_until(lambda: second.leading, timeout=5)
        before = len(_runs(app))
        wait_until(lambda: len(_runs(app)) >= before + 2, timeout=10)
    finally:
        first.stop()
        second.stop()
    runs = _runs(app)
    ids = [run.message_id for run in runs if run.status != "skipped"]
    assert len(ids) == len(set(ids))  # never two messages for one slot
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(ProcessHeartbeat)) == 0


def test_edits_apply_without_restart(scheduler_app):
    app = scheduler_app
    with app.app_context():
        schedule = Schedule(name="fast", kind="collect", site_id=1, interval_seconds=1)
        db.session.add(schedule)
        db.session.commit()
        schedule_id = schedule.id
    service = SchedulerService(app, reconcile_interval=0.2)
    service.start()
    try:
        wait_until(lambda: len(_runs(app, schedule_id=schedule_id)) >= 2, timeout=10)
        with app.app_context():
            db.session.get(Schedule, schedule_id).enabled = False
            db.session.commit()
        wait_until(lambda: service.scheduler.get_job(job_id(schedule_id)) is None, timeout=3)
        frozen = len(_runs(app, schedule_id=schedule_id))
        time.sleep(1.5)
        assert len(_runs(app, schedule_id=schedule_id)) == frozen
        with app.app_context():
            db.session.add(Schedule(name="refresh", kind="refresh", site_id=1, interval_seconds=1))
            db.session.commit()
        wait_until(lambda: len(_runs(app, actor="refresh_points")) >= 1, timeout=5)
        with app.app_context():
            refresh = db.session.execute(db.select(Schedule).where(Schedule.kind == "refresh")).scalar_one()
            refresh.interval_seconds = 3600
            db.session.commit()
            refresh_id = refresh.id
        wait_until(lambda: "interval[1:00:00]" in str(service.scheduler.get_job(job_id(refresh_id)).trigger),
                   timeout=3)
        with app.app_context():
            db.session.delete(db.session.get(Schedule, refresh_id))
            db.session.commit()
        wait_until(lambda: service.scheduler.get_job(job_id(refresh_id)) is None, timeout=3)
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
