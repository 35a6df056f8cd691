"""Redis restarted (stopped, down for a few seconds, started empty) while jobs are flowing.

Proves: web, scheduler and worker stay up; enqueues during the outage fail at once with a clear
reason (API 503 naming the broker; the scheduler's slot recorded failed with it; /healthz says
the broker is unreachable, and stays 200); after the restart everything resumes by itself
(scheduled collections succeed again without touching any process); and no job is left hanging:
the messages that were waiting in Redis died with it, and their rows end "lost" with the reason
(scheduler.vanished), within half a minute instead of the reaper's time limit of minutes.

Two in-process tests pin the pieces down: which queued rows the vanished-message rule marks lost
(and which it must not), and that an unresponsive Redis (accepts, never answers) fails an
enqueue within the broker's bound instead of redis-py's default minute of retries.
"""

from __future__ import annotations

import socket
import time
from datetime import timedelta

import dramatiq
import pytest
import requests

from app.extensions import db
from app.models import JobRun, Site, utcnow
from app.transport import EnqueueError, enqueue
from scheduler.reaper import reap
from scheduler.vanished import REASON, VANISHED_AFTER
from tests.conftest import REDIS_URL, build_app
from tests.faults.common import discover, scheduled_jobs, web_side
from tests.faults.stack import Stack, wait_alive
from tests.helpers import wait_until
from tests.processes import free_port, run
from workers import broker as broker_module
from workers.broker import make_broker

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

INTERVAL = 2
#: Jobs sent at once before the outage: more than the one-thread worker clears before Redis goes.
BURST = 12
#: Seconds Redis stays down.
OUTAGE = 4.0


def test_redis_restart_during_load(tmp_path, shared_pg_database, private_redis, loopback_block):
    stack = Stack(tmp_path, database_url=shared_pg_database, block=loopback_block, BROKER_URL=private_redis.url,
                  BROKER_NAMESPACE="faults", WORKER_THREADS="1")
    stack.upgrade()
    assert run(["create-user", "ops", "--role", "admin", "--password-stdin"], stack.env,
               input="ops-password\n").returncode == 0
    token = run(["create-token", "ops"], stack.env).stdout.strip()
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {token}"
    web_port = free_port()
    base = f"http://127.0.0.1:{web_port}"
    try:
        stack.simulate("simulate", devices=3, points=20, first=10, first_instance=4201,
                       extra=("--latency-ms", "100"))
        stack.start("worker", ["worker"], "worker started")
        stack.start("web", ["web", "--port", str(web_port)], "serving on")
        site_id = stack.add_site("Plant", [stack.address(host) for host in (10, 11, 12)])
        discover(web_side(stack, BROKER_URL=private_redis.url, BROKER_NAMESPACE="faults", BACNET_TRANSPORT="redis"),
                 site_id)
        stack.start("scheduler", ["scheduler"], r"scheduler \S+ started")
        schedule_id = stack.add_schedule(site_id, INTERVAL)
        wait_until(lambda: any(j["status"] == "succeeded" for j in scheduled_jobs(stack, schedule_id)),
                   timeout=6 * INTERVAL)

        burst = []
        for _ in range(BURST):
            response = api.post(f"{base}/api/v1/jobs", json={"actor": "collect_readings",
                                                             "kwargs": {"site_id": site_id}}, timeout=10)
            assert response.status_code == 202, response.text
            burst.append(response.json()["job_id"])
        private_redis.stop()
        down_at = time.time()

        # During the outage: a clear refusal, a failed row with the reason, nothing crashes.
        response = api.post(f"{base}/api/v1/jobs", json={"actor": "collect_readings", "kwargs": {"site_id": site_id}},
                            timeout=30)
        assert response.status_code == 503, response.text
        error = response.json()["error"]
        assert error["code"] == "enqueue_failed"
        assert error["message"].startswith(f"broker at {private_redis.url} unreachable: "), error
        refused = stack.job(response.json()["job_id"])
        assert (refused["status"], refused["error"]) == ("failed", error["message"])
        health = requests.get(f"{base}/healthz", timeout=10)
        assert health.status_code == 200
        assert health.json()["checks"]["broker"]["ok"] is False
        wait_until(lambda: any(j["status"] == "failed" and "unreachable" in j["error"]
                               for j in scheduled_jobs(stack, schedule_id)), timeout=2 * INTERVAL + 2)
        for name in ("web", "scheduler", "worker"):
            wait_alive(stack.processes[name], max(0.0, OUTAGE - (time.time() - down_at)) / 3)

        time.sleep(max(0.0, OUTAGE - (time.time() - down_at)))
        private_redis.start()
        up_at = time.time()

        # Nothing hangs: every job of the burst ends, done or marked lost with the reason
        # (scheduler.vanished: queued VANISHED_AFTER and in no Redis queue; the reaper runs every 10 s).
        wait_until(lambda: all(stack.job(job_id)["status"] in ("succeeded", "lost") for job_id in burst),
                   timeout=VANISHED_AFTER.total_seconds() + 30)
        # Resumed by itself meanwhile: scheduled collections succeed again.
        wait_until(lambda: len([j for j in scheduled_jobs(stack, schedule_id) if j["status"] == "succeeded"
                                and j["started_at"].timestamp() > up_at]) >= 2, timeout=4 * INTERVAL)
        assert requests.get(f"{base}/healthz", timeout=10).json()["checks"]["broker"]["ok"] is True
    finally:
        codes = stack.stop_all()

    outcomes = [stack.job(job_id) for job_id in burst]
    lost = [job for job in outcomes if job["status"] == "lost"]
    assert lost, "the outage lost nothing: the burst did not wait in Redis"
    assert all(job["error"] == REASON for job in lost)
    # The slots around the outage: done, failed with the reason, or skipped with it; none hangs.
    for job in scheduled_jobs(stack, schedule_id):
        assert job["status"] in ("succeeded", "failed", "skipped", "lost"), job
        assert job["status"] == "succeeded" or job["error"], job
    assert codes["web"] == 0 and codes["scheduler"] == 0 and codes["worker"] == 0
    assert stack.tracebacks() == []


def test_queued_jobs_whose_message_vanished_are_marked_lost(tmp_path, redis_namespace):
    app = build_app(tmp_path, BROKER_URL=REDIS_URL, BROKER_NAMESPACE=redis_namespace, BACNET_TRANSPORT="redis")
    broker = make_broker(REDIS_URL, namespace=redis_namespace)
    with app.app_context():
        site = Site(name="Plant")
        db.session.add(site)
        db.session.commit()
        waiting, vanished, young = (enqueue("collect_readings", {"site_id": site.id}, triggered_by="cli").id
                                    for _ in range(3))
        # A retry waiting out its backoff sits in the delay queue: still there, not lost.
        delayed = JobRun(message_id="delayed-retry", actor="collect_readings", kwargs={"site_id": site.id},
                         transport="redis", queue="bacnet", triggered_by="cli", status="queued")
        db.session.add(delayed)
        db.session.commit()
        broker.enqueue(dramatiq.Message(queue_name="bacnet", actor_name="collect_readings", args=(),
                                        kwargs={"site_id": site.id}, options={}, message_id="delayed-retry"),
                       delay=600_000)
        # What a Redis restart does to two of them: their messages are gone.
        client = broker.client
        for redis_id, data in client.hgetall(f"{redis_namespace}:bacnet.msgs").items():
            if dramatiq.Message.decode(data).message_id in {db.session.get(JobRun, vanished).message_id,
                                                            db.session.get(JobRun, young).message_id}:
                client.hdel(f"{redis_namespace}:bacnet.msgs", redis_id)
                client.lrem(f"{redis_namespace}:bacnet", 0, redis_id)
        old = utcnow() - VANISHED_AFTER - timedelta(seconds=1)
        db.session.execute(db.update(JobRun).where(JobRun.id.in_([waiting, vanished, delayed.id]))
                           .values(enqueued_at=old))
        db.session.commit()

        assert reap() == 1
        assert reap() == 0
        rows = {run.id: (run.status, run.error) for run in db.session.execute(db.select(JobRun)).scalars()}
    assert rows[vanished] == ("lost", REASON)
    # Still in Redis (queue or delay queue), or too young to judge: untouched.
    assert rows[waiting] == ("queued", "") and rows[delayed.id] == ("queued", "") and rows[young] == ("queued", "")


def test_an_unresponsive_redis_fails_an_enqueue_within_the_bound(tmp_path, monkeypatch):
    """A Redis that accepts connections and never answers (hung, or a stuck proxy): the enqueue
    fails after (1 + REDIS_RETRIES) command timeouts with the reason, not after a minute."""
    monkeypatch.setattr(broker_module, "REDIS_CONNECT_TIMEOUT", 0.5)
    monkeypatch.setattr(broker_module, "REDIS_SOCKET_TIMEOUT", 0.5)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        app = build_app(tmp_path, BROKER_URL=url, BACNET_TRANSPORT="redis")
        with app.app_context():
            site = Site(name="Plant")
            db.session.add(site)
            db.session.commit()
            started = time.monotonic()
            with pytest.raises(EnqueueError) as refused:
                enqueue("collect_readings", {"site_id": site.id}, triggered_by="user")
            elapsed = time.monotonic() - started
            assert db.session.get(JobRun, refused.value.job_run_id).status == "failed"
    assert str(refused.value).startswith(f"broker at {url} unreachable: ")
    # The default retry policy of redis-py would take ~60 s with 5 s timeouts (~6 s with these).
    assert elapsed < 4 * (1 + broker_module.REDIS_RETRIES) * 0.5 + 1, elapsed
