"""The worker consuming from the real Redis, in-process, with the real BACnet engine."""

from app.extensions import db
from app.models import Reading, Site
from app.settings import BindAddress
from app.transport import enqueue
from tests.conftest import REDIS_URL, build_app
from tests.helpers import wait_for_job
from workers.broker import make_broker
from workers.service import WorkerService


def test_jobs_sent_through_redis_run_in_the_worker(tmp_path, redis_namespace, simulator, loopback_block):
    app = build_app(tmp_path, BROKER_URL=REDIS_URL, BROKER_NAMESPACE=redis_namespace, BACNET_TRANSPORT="redis")
    broker = make_broker(REDIS_URL, namespace=redis_namespace)
    worker = WorkerService(app, broker, BindAddress(f"127.0.{loopback_block}.1", 8, 47809), threads=2,
                           request_timeout=1.0)
    worker.start()
    try:
        with app.app_context():
            site = Site(name="Redis site", discovery_targets=",".join(simulator.addresses), poll_new_points=True)
            db.session.add(site)
            db.session.commit()
            job_id = enqueue("discover_devices", {"site_id": site.id, "refresh_points": True},
                             triggered_by="cli").id
            site_id = site.id
        assert wait_for_job(app, job_id).status == "succeeded"
        with app.app_context():
            job_id = enqueue("collect_readings", {"site_id": site_id}, triggered_by="cli").id
        job = wait_for_job(app, job_id)
        assert job.status == "succeeded" and job.summary["readings"] == 36
        with app.app_context():
            assert db.session.scalar(db.select(db.func.count()).select_from(Reading)) == 36
    finally:
        worker.stop(timeout_ms=5000)
