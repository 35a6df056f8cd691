"""A controller stops answering in the middle of a scheduled collection (its simulator process is
killed with SIGKILL while it is being read), as all-in-one runs it: in-process worker and
scheduler on SQLite, devices in separate processes.

Proves: that cycle still finishes within its interval (the dead device costs one request
timeout) and keeps what the device answered before it died (its other points get a "no answer"
error); the device goes offline after OFFLINE_AFTER_FAILURES cycles in which it answers nothing,
and is then backed off, not waited for; every other device's readings are complete in every cycle.
"""

from __future__ import annotations

import signal
import time
from datetime import timedelta

import pytest

from app.extensions import db
from app.models import Device, JobRun, Point, Reading, Schedule, Site
from app.settings import BindAddress
from app.transport import LOCAL_BROKER_KEY, enqueue
from scheduler.service import SchedulerService
from tests.helpers import wait_for_job, wait_until
from tests.processes import Process, base_env
from workers.broker import make_broker
from workers.health import OFFLINE_AFTER_FAILURES
from workers.service import WorkerService

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

INTERVAL = 3
#: The BACnet request timeout of this test's worker (s): what a dead device costs a cycle.
REQUEST_TIMEOUT = 1.0
HEALTHY_DEVICES, HEALTHY_POINTS = 3, 30
#: Statuses of a collection that ran: "partial" when a device failed as a whole (issue 12).
RAN = ("succeeded", "partial")


def _jobs(app) -> list[JobRun]:
    with app.app_context():
        runs = db.session.execute(db.select(JobRun).where(JobRun.actor == "collect_readings",
                                                          JobRun.triggered_by == "schedule", JobRun.status != "skipped")
                                  .order_by(JobRun.id)).scalars().all()
        db.session.expunge_all()
        return runs


def _readings_in(app, run: JobRun, device_ids: list[int]) -> dict[int, int]:
    """Readings per point of ``device_ids`` stamped within the run."""
    with app.app_context():
        rows = db.session.execute(
            db.select(Point.id, db.func.count(Reading.ts)).join(Reading, Reading.point_id == Point.id)
            .where(Point.device_id.in_(device_ids), Reading.ts.between(run.started_at, run.finished_at))
            .group_by(Point.id)).all()
    return dict(rows)


def test_device_stops_answering_mid_cycle(app, tmp_path, loopback_block):
    base = f"127.0.{loopback_block}"
    env = base_env(tmp_path)
    healthy = Process("simulate-healthy", ["simulate", "--devices", str(HEALTHY_DEVICES), "--points",
                                           str(HEALTHY_POINTS), "--base-address", f"{base}.10", "--first-instance",
                                           "4501", "--latency-ms", "50"], env, tmp_path)
    # The doomed controller answers ReadProperty only, 50 ms late: reading its 40 points takes
    # about a second, so the kill lands in the middle of it.
    doomed = Process("simulate-doomed", ["simulate", "--devices", "1", "--points", "40", "--base-address",
                                         f"{base}.20", "--first-instance", "4599", "--latency-ms", "50", "--no-rpm"],
                     env, tmp_path)
    broker = make_broker("")
    app.extensions[LOCAL_BROKER_KEY] = broker
    worker = WorkerService(app, broker, BindAddress(f"{base}.1", 8, 47809), threads=1,
                           request_timeout=REQUEST_TIMEOUT)
    scheduler = SchedulerService(app, reconcile_interval=0.5)
    try:
        healthy.wait_for(f"simulating {HEALTHY_DEVICES} devices")
        doomed.wait_for("simulating 1 devices")
        worker.start()
        with app.app_context():
            site = Site(name="Plant", poll_new_points=True, discovery_targets="\n".join(
                [f"{base}.{10 + n}" for n in range(HEALTHY_DEVICES)] + [f"{base}.20"]))
            db.session.add(site)
            db.session.commit()
            site_id = site.id
            job_id = enqueue("discover_devices", {"site_id": site_id, "refresh_points": True}, triggered_by="cli").id
        assert wait_for_job(app, job_id, timeout=60).status == "succeeded"
        with app.app_context():
            devices = {d.device_instance: d.id for d in db.session.execute(db.select(Device)).scalars()}
            db.session.add(Schedule(name="fast", kind="collect", site_id=site_id, interval_seconds=INTERVAL))
            db.session.commit()
        dead_id = devices.pop(4599)
        healthy_ids = list(devices.values())
        scheduler.start()

        victim = wait_until(lambda: next((run for run in _jobs(app) if run.status == "running"), None),
                            timeout=4 * INTERVAL, interval=0.02)
        time.sleep(0.4)
        doomed.stop(signal.SIGKILL)
        victim = wait_for_job(app, victim.id, timeout=INTERVAL * 2)
        # OFFLINE_AFTER_FAILURES cycles without an answer take it offline, the next one skips it.
        wait_until(lambda: len([run for run in _jobs(app) if run.id > victim.id and run.status in RAN])
                   >= OFFLINE_AFTER_FAILURES + 1, timeout=(OFFLINE_AFTER_FAILURES + 3) * INTERVAL)
    finally:
        scheduler.stop()
        worker.stop(timeout_ms=5000)
        healthy.stop()
        doomed.stop()

    assert victim.status in RAN, victim.error
    assert victim.duration_seconds < INTERVAL, victim.duration_seconds
    # The interrupted cycle: whatever the device answered before it died is kept; the rest of its
    # points are errors (or the whole device failed, had it died before its first answer).
    assert victim.summary["point_errors"] > 0 or victim.summary["devices_failed"] == 1, victim.summary
    runs = [run for run in _jobs(app) if run.id >= victim.id]
    assert all(run.status in RAN and run.duration_seconds < INTERVAL for run in runs), runs
    # A cycle in which the dead device failed as a whole is partial (the others' readings are
    # stored) and names it; the others succeeded.
    assert all((run.status == "partial") == bool(run.summary["devices_failed"]) for run in runs), runs
    assert all(set(run.summary.get("failed_devices", {})) <= {f"4599 ({base}.20)"} for run in runs), runs
    # Then offline after OFFLINE_AFTER_FAILURES cycles without an answer, then skipped (backed off).
    silent = [run for run in runs[1:] if run.summary["devices_failed"]]
    assert len(silent) == OFFLINE_AFTER_FAILURES - (victim.summary["devices_failed"] == 1), runs
    after = runs[1 + len(silent)]
    assert (after.summary["devices_skipped"], after.summary["devices_failed"]) == (1, 0), after.summary
    with app.app_context():
        dead = db.session.get(Device, dead_id)
        assert dead.status == "offline" and f"no answer within {REQUEST_TIMEOUT:g} s" in dead.last_error
        assert dead.next_retry_at - dead.last_seen > timedelta(seconds=INTERVAL)
    # The other devices' readings are complete in every cycle, the interrupted one included.
    for run in runs:
        per_point = _readings_in(app, run, healthy_ids)
        assert len(per_point) == HEALTHY_DEVICES * HEALTHY_POINTS and set(per_point.values()) == {1}, run
    assert "Traceback" not in healthy.output
