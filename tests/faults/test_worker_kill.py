"""A worker killed with SIGKILL in the middle of collect_readings.

Proves: the message comes back (Dramatiq's heartbeat timeout, 2 s here via
BROKER_HEARTBEAT_TIMEOUT_MS) and the restarted worker runs it; its job_run ends succeeded (never
stuck in running); no reading is stored twice (each point has exactly one reading per succeeded
collection, the killed attempt included); the first slot after the recovery runs on time.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from tests.conftest import REDIS_URL
from tests.faults.common import discover, scheduled_jobs, web_side
from tests.faults.stack import Stack
from tests.helpers import wait_until

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

#: Seconds between two scheduled collections.
INTERVAL = 6
#: How late (s) after its slot a job may start and still count as on time: the scheduler's
#: tick plus the worker's pick-up, far below the interval.
ON_TIME = 2.0


def test_worker_killed_mid_collection(tmp_path, shared_pg_database, redis_namespace, loopback_block):
    stack = Stack(tmp_path, database_url=shared_pg_database, block=loopback_block, BROKER_URL=REDIS_URL,
                  BROKER_NAMESPACE=redis_namespace, WORKER_THREADS="1")
    stack.upgrade()
    try:
        # Slow devices (every answer 500 ms late, small APDUs: several requests each), so one
        # collection takes about a second and the kill lands in the middle of it.
        stack.simulate("simulate", devices=2, points=60, first=10, first_instance=4101,
                       extra=("--latency-ms", "500", "--max-apdu", "480"))
        stack.start("worker", ["worker"], "worker started")
        site_id = stack.add_site("Slow", [stack.address(10), stack.address(11)])
        app = web_side(stack, BROKER_URL=REDIS_URL, BROKER_NAMESPACE=redis_namespace, BACNET_TRANSPORT="redis")
        discover(app, site_id)
        points = stack.scalar("SELECT count(*) FROM point WHERE polling_enabled")
        assert points == 120

        stack.start("scheduler", ["scheduler"], r"scheduler \S+ started")
        schedule_id = stack.add_schedule(site_id, INTERVAL)
        # The first collection that starts running: kill its worker a moment into it.
        victim = wait_until(lambda: next((job for job in scheduled_jobs(stack, schedule_id)
                                          if job["status"] == "running"), None), timeout=3 * INTERVAL, interval=0.02)
        time.sleep(0.3)
        stack.kill("worker")
        killed = stack.job(victim["id"])
        assert (killed["status"], killed["summary"]) == ("running", None), "the kill did not land mid-job"
        assert stack.scalar("SELECT count(*) FROM reading") == 0

        stack.start("worker", ["worker"], "worker started")
        done = stack.wait_job(victim["id"], timeout=30)
        assert done["status"] == "succeeded", done["error"]
        assert done["attempts"] == 2
        assert done["summary"]["readings"] == points
        assert "running it again" in stack.processes["worker-2"].output

        # The first slot after the recovery has run.
        wait_until(lambda: any(job["slot"] > done["finished_at"] and job["status"] in ("succeeded", "failed")
                               for job in scheduled_jobs(stack, schedule_id)), timeout=3 * INTERVAL)
    finally:
        codes = stack.stop_all()

    jobs = scheduled_jobs(stack, schedule_id)
    # Never stuck: every slot's row is final (the skipped ones say why).
    assert all(job["status"] in ("succeeded", "skipped") for job in jobs), [(j["slot"], j["status"]) for j in jobs]
    assert all(job["error"] == "previous run still running" for job in jobs if job["status"] == "skipped")
    succeeded = [job for job in jobs if job["status"] == "succeeded"]
    # No reading stored twice: one per point per succeeded collection (the killed one included).
    per_point = stack.readings_per_point(site_id)
    assert set(per_point.values()) == {len(succeeded)}, (per_point, len(succeeded))
    # The first slot after the redelivered job finished ran, on time.
    following = [job for job in jobs if job["slot"] > done["finished_at"]][0]
    assert following["status"] == "succeeded"
    assert following["started_at"] - following["slot"] <= timedelta(seconds=ON_TIME), following
    assert codes["worker-2"] == 0 and codes["scheduler"] == 0
    assert stack.tracebacks("worker-2", "scheduler") == []
