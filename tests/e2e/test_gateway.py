"""The native gateway as a real process, and parity of the three transports: the same request lands
the same rows whether it goes through the in-process broker, Redis, or the signed HTTP gateway."""

from __future__ import annotations

import logging
import signal

import pytest

from app.extensions import db
from app.models import Device, JobRun, Point, Reading, Site
from app.settings import BindAddress
from app.transport import LOCAL_BROKER_KEY, EnqueueError, enqueue
from tests.conftest import REDIS_URL, build_app, require_service
from tests.helpers import wait_for_job, wait_until
from tests.processes import Process, base_env, free_port, run
from workers.broker import make_broker
from workers.service import WorkerService

pytestmark = pytest.mark.e2e

SECRET = "parity-test-secret-0123456789abcdef"


def _site_rows(app, site_id: int) -> dict:
    with app.app_context():
        devices = db.session.execute(db.select(Device).where(Device.site_id == site_id)
                                     .order_by(Device.device_instance)).scalars().all()
        points = db.session.execute(db.select(Point).join(Device).where(Device.site_id == site_id)
                                    .order_by(Device.device_instance, Point.object_type, Point.object_instance)
                                    ).scalars().all()
        runs = db.session.execute(db.select(JobRun).where(JobRun.site_id == site_id).order_by(JobRun.id)).scalars()
        readings = db.session.scalar(db.select(db.func.count()).select_from(Reading).join(Point).join(Device)
                                     .where(Device.site_id == site_id))
        return {
            "devices": [(d.device_instance, d.name, d.address, d.vendor_id, d.vendor_name, d.model_name,
                         d.firmware_revision, d.max_apdu, d.segmentation, d.status) for d in devices],
            "points": [(p.device.device_instance, p.object_type, p.object_instance, p.name, p.units, p.writable,
                        p.value_type, p.polling_enabled, p.last_value is not None) for p in points],
            "jobs": [(r.actor, r.status, r.error, sorted((r.summary or {}).keys())) for r in runs],
            "readings": readings,
        }


def test_three_transports_land_the_same_rows(tmp_path, fresh_pg_database, redis_namespace, simulator,
                                             loopback_block, caplog):
    require_service("Redis", "127.0.0.1", 6379)
    caplog.set_level(logging.DEBUG)
    port = free_port()
    base = f"127.0.{loopback_block}"
    env = base_env(tmp_path, DATABASE_URL=fresh_pg_database, GATEWAY_SECRET=SECRET, BROKER_URL=REDIS_URL,
                   BROKER_NAMESPACE=redis_namespace, BACNET_REQUEST_TIMEOUT="1")
    assert run(["db", "upgrade"], env).returncode == 0
    gateway = Process("gateway", ["gateway", "--port", str(port)],
                      {**env, "BACNET_ADDRESS": f"{base}.2/8:47809"}, tmp_path)
    worker = Process("worker", ["worker", "--threads", "2"], {**env, "BACNET_ADDRESS": f"{base}.3/8:47809"}, tmp_path)
    # The web side: this test process. Its global gateway URL points nowhere on purpose: the http
    # site's own gateway_url must win.
    app = build_app(tmp_path, DATABASE_URL=fresh_pg_database, BROKER_URL=REDIS_URL, BROKER_NAMESPACE=redis_namespace,
                    GATEWAY_SECRET=SECRET, GATEWAY_URL=f"http://127.0.0.1:{free_port()}", BACNET_TRANSPORT="local")
    broker = make_broker("")
    app.extensions[LOCAL_BROKER_KEY] = broker
    local = WorkerService(app, broker, BindAddress(f"{base}.1", 8, 47809), threads=2, request_timeout=1.0)
    local.start()
    try:
        gateway.wait_for("serving on")
        worker.wait_for("worker started")
        sites = {}
        with app.app_context():
            for kind in ("local", "redis", "http"):
                site = Site(name=f"via {kind}", transport=kind, discovery_targets="\n".join(simulator.addresses),
                            poll_new_points=True, gateway_url=f"http://127.0.0.1:{port}" if kind == "http" else "")
                db.session.add(site)
                db.session.commit()
                sites[kind] = site.id
        for actor, kwargs in (("discover_devices", {"refresh_points": True}), ("collect_readings", {})):
            for kind, site_id in sites.items():
                with app.app_context():
                    job_id = enqueue(actor, {"site_id": site_id, **kwargs}, triggered_by="api").id
                job = wait_for_job(app, job_id, timeout=60)
                assert job.status == "succeeded", (kind, job.error)
                assert job.transport == kind
        rows = {kind: _site_rows(app, site_id) for kind, site_id in sites.items()}
        assert rows["local"]["readings"] == 36
        assert rows["redis"] == rows["local"]
        assert rows["http"] == rows["local"]
        with app.app_context():
            accepted = db.session.execute(db.select(JobRun.accepted_by).where(JobRun.transport == "http")).scalars()
            assert all(tag and tag.endswith(f":{port}/" + tag.rsplit("/", 1)[1]) for tag in accepted)

        # The gateway goes away: the next http enqueue fails at once, with the reason, on a failed row.
        assert gateway.stop(signal.SIGTERM) == 0
        with app.app_context():
            with pytest.raises(EnqueueError) as caught:
                enqueue("collect_readings", {"site_id": sites["http"]}, triggered_by="user")
            reason = str(caught.value)
            assert reason == f"gateway at http://127.0.0.1:{port} unreachable: connection refused"
            failed = db.session.get(JobRun, caught.value.job_run_id)
            assert (failed.status, failed.error) == ("failed", reason)
    finally:
        local.stop(timeout_ms=5000)
        gateway.stop()
        worker.stop()
    for process in (gateway, worker):
        assert SECRET not in process.output
        assert "Traceback" not in process.output, process.output[-3000:]
    assert SECRET not in caplog.text


def test_gateway_refuses_to_start_without_what_it_needs(tmp_path, pg_database):
    env = base_env(tmp_path, DATABASE_URL=pg_database, BACNET_ADDRESS="127.0.0.1/8:47809")
    no_secret = run(["gateway"], env)
    assert no_secret.returncode == 2
    assert no_secret.stderr.strip() == ("bacnet-pipeline: configuration error: GATEWAY_SECRET is not set: the gateway "
                                        "and the http transport share a secret of at least 32 characters")
    short = run(["gateway"], {**env, "GATEWAY_SECRET": "too-short"})
    assert short.returncode == 2 and "GATEWAY_SECRET: must be at least 32 characters long" in short.stderr
    assert "too-short" not in short.stderr
    no_bind = run(["gateway"], {**env, "GATEWAY_SECRET": SECRET, "BACNET_ADDRESS": ""})
    assert no_bind.returncode == 2 and "BACNET_ADDRESS is not set" in no_bind.stderr
    missing = pg_database.rsplit("/", 1)[0] + "/bp_no_such_database"
    no_db = run(["gateway"], {**env, "GATEWAY_SECRET": SECRET, "DATABASE_URL": missing})
    assert no_db.returncode == 4 and "unreachable" in no_db.stderr
    for result in (no_secret, short, no_bind, no_db):
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_gateway_serves_status_and_stops_cleanly(tmp_path, fresh_pg_database, loopback_block):
    import requests

    from workers.signing import signed_headers

    port = free_port()
    env = base_env(tmp_path, DATABASE_URL=fresh_pg_database, GATEWAY_SECRET=SECRET,
                   BACNET_ADDRESS=f"127.0.{loopback_block}.2/8:47809")
    assert run(["db", "upgrade"], env).returncode == 0
    gateway = Process("gateway", ["gateway", "--port", str(port)], env, tmp_path)
    try:
        gateway.wait_for("serving on")
        url = f"http://127.0.0.1:{port}"
        assert requests.get(url + "/healthz", timeout=5).json() == {"status": "ok"}
        assert requests.get(url + "/status", timeout=5).status_code == 401
        status = requests.get(url + "/status", headers=signed_headers(SECRET, b""), timeout=5).json()
        assert status["bacnet_bind_address"] == f"127.0.{loopback_block}.2/8:47809"
        assert status["jobs_running"] == 0 and status["uptime_seconds"] >= 0
    finally:
        code = gateway.stop(signal.SIGINT)
    assert code == 0, gateway.output[-2000:]
    assert "Traceback" not in gateway.output
    assert SECRET not in gateway.output


def test_graceful_stop_finishes_running_work_and_accounts_for_the_rest(tmp_path, fresh_pg_database, loopback_block):
    """SIGTERM while one job runs and two wait: the running one finishes, the waiting ones are
    marked lost with the reason (the in-process queue dies with the process), none stays queued."""
    port = free_port()
    base = f"127.0.{loopback_block}"
    env = base_env(tmp_path, DATABASE_URL=fresh_pg_database, GATEWAY_SECRET=SECRET, WORKER_THREADS="1",
                   BACNET_ADDRESS=f"{base}.2/8:47809", BACNET_REQUEST_TIMEOUT="2")
    assert run(["db", "upgrade"], env).returncode == 0
    # Slow devices: each collection takes a while, so the stop lands mid-job.
    simulate = Process("simulate", ["simulate", "--devices", "2", "--points", "40", "--base-address", f"{base}.10",
                                    "--latency-ms", "400"], env, tmp_path)
    gateway = Process("gateway", ["gateway", "--port", str(port)], env, tmp_path)
    app = build_app(tmp_path, DATABASE_URL=fresh_pg_database, GATEWAY_SECRET=SECRET, BACNET_TRANSPORT="http",
                    GATEWAY_URL=f"http://127.0.0.1:{port}")
    try:
        simulate.wait_for("simulating 2 devices")
        gateway.wait_for("serving on")
        with app.app_context():
            site = Site(name="Slow", discovery_targets=f"{base}.10\n{base}.11", poll_new_points=True)
            db.session.add(site)
            db.session.commit()
            site_id = site.id
            job_id = enqueue("discover_devices", {"site_id": site_id, "refresh_points": True}, triggered_by="cli").id
        assert wait_for_job(app, job_id, timeout=60).status == "succeeded"
        with app.app_context():
            ids = [enqueue("collect_readings", {"site_id": site_id}, triggered_by="cli").id for _ in range(3)]
        wait_until(lambda: wait_for_job(app, ids[0], timeout=0).status == "running", timeout=30, interval=0.05)
        assert gateway.stop(signal.SIGTERM, timeout=60) == 0
        runs = [wait_for_job(app, job_id, timeout=5) for job_id in ids]
        assert runs[0].status == "succeeded", runs[0].error
        assert [r.status for r in runs[1:]] == ["lost", "lost"]
        assert all(r.error == "the gateway stopped before this job ran" for r in runs[1:])
    finally:
        gateway.stop()
        simulate.stop()
    assert "Traceback" not in gateway.output, gateway.output[-3000:]
