"""PostgreSQL (a private cluster) stopped while a collection reads its devices, started again a few
seconds later: the collection's write meets the outage.

Proves: the worker retries its write through the outage (workers.db_retry) and the readings of
that cycle are stored exactly once after recovery; the job ends succeeded (had the outage outlasted
the retry bound it would end failed with the reason, never "running"); worker and scheduler stay
up, the scheduler takes the leadership back (its advisory lock died with the server) and the
following slots are collected as before.
"""

from __future__ import annotations

import pytest

from tests.conftest import REDIS_URL
from tests.faults.common import discover, scheduled_jobs, web_side
from tests.faults.stack import Stack, wait_alive
from tests.helpers import wait_until

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

INTERVAL = 4
#: Seconds the database stays down: longer than the rest of the collection's reads, so the
#: write happens while it is down.
OUTAGE = 3.0


def test_postgres_restart_during_collection(tmp_path, private_postgres, redis_namespace, loopback_block):
    url = private_postgres.create_database("bp_faults")
    stack = Stack(tmp_path, database_url=url, block=loopback_block, BROKER_URL=REDIS_URL,
                  BROKER_NAMESPACE=redis_namespace, WORKER_THREADS="1")
    stack.upgrade()
    try:
        stack.simulate("simulate", devices=2, points=60, first=10, first_instance=4301,
                       extra=("--latency-ms", "500", "--max-apdu", "480"))
        stack.start("worker", ["worker"], "worker started")
        site_id = stack.add_site("Plant", [stack.address(10), stack.address(11)])
        discover(web_side(stack, BROKER_URL=REDIS_URL, BROKER_NAMESPACE=redis_namespace, BACNET_TRANSPORT="redis"),
                 site_id)
        stack.start("scheduler", ["scheduler"], r"scheduler \S+ started")
        schedule_id = stack.add_schedule(site_id, INTERVAL)
        victim = wait_until(lambda: next((job for job in scheduled_jobs(stack, schedule_id)
                                          if job["status"] == "running"), None), timeout=3 * INTERVAL, interval=0.02)
        private_postgres.stop("fast")
        wait_alive(stack.processes["worker"], OUTAGE)
        private_postgres.start()

        done = stack.wait_job(victim["id"], timeout=60)
        assert done["status"] == "succeeded", done["error"]
        assert done["summary"]["readings"] == 120 and done["summary"]["devices_failed"] == 0
        assert "storing the readings: database unreachable" in stack.processes["worker"].output
        # Resumes: the next slots are collected as before.
        wait_until(lambda: any(job["status"] == "succeeded" and job["slot"] > done["finished_at"]
                               for job in scheduled_jobs(stack, schedule_id)), timeout=6 * INTERVAL)
        # It led, lost the lock with the server, and took it back.
        assert stack.processes["scheduler"].output.count("is now the leader") >= 2
    finally:
        codes = stack.stop_all()

    jobs = scheduled_jobs(stack, schedule_id)
    succeeded = [job for job in jobs if job["status"] == "succeeded"]
    # The cycle written through the outage is stored once: one reading per point per succeeded
    # collection, and each of the victim's readings lies inside its run.
    assert set(stack.readings_per_point(site_id).values()) == {len(succeeded)}
    in_victim = stack.scalar("SELECT count(*) FROM reading WHERE ts BETWEEN :start AND :end",
                             start=done["started_at"], end=done["finished_at"])
    assert in_victim == 120
    for job in jobs:
        assert job["status"] in ("succeeded", "failed", "skipped"), job
        assert job["status"] == "succeeded" or job["error"], job
    assert codes["worker"] == 0 and codes["scheduler"] == 0
    # An expected outage is reported in one line per event, not as a traceback wall.
    assert stack.tracebacks("worker", "scheduler") == []
