"""enqueue(): validation, the ledger row first, transports, readable failures."""

import json

import pytest
import redis

from app.extensions import db
from app.models import JobRun, Site
from app.transport import CatalogError, EnqueueError, enqueue
from tests.conftest import REDIS_URL, build_app


def _site(app, **fields) -> int:
    with app.app_context():
        site = Site(name="Plant", discovery_targets="127.0.0.10", **fields)
        db.session.add(site)
        db.session.commit()
        return site.id


def test_local_without_a_worker_fails_with_a_reason(app):
    site_id = _site(app)
    with app.app_context():
        with pytest.raises(EnqueueError, match="no worker runs in this process") as caught:
            enqueue("collect_readings", {"site_id": site_id}, triggered_by="user", detail="alice")
        run = db.session.get(JobRun, caught.value.job_run_id)
        assert (run.status, run.transport, run.triggered_by, run.triggered_by_detail) == (
            "failed", "local", "user", "alice")
        assert "no worker runs in this process" in run.error and run.finished_at is not None


def test_bad_requests_write_no_row(app):
    site_id = _site(app)
    with app.app_context():
        with pytest.raises(CatalogError, match="unknown actor"):
            enqueue("format_disk", {}, triggered_by="api")
        with pytest.raises(CatalogError, match="site 999 does not exist"):
            enqueue("collect_readings", {"site_id": 999}, triggered_by="api")
        with pytest.raises(CatalogError, match="device_ids"):
            enqueue("collect_readings", {"site_id": site_id, "device_ids": "all"}, triggered_by="api")
        assert db.session.scalar(db.select(db.func.count()).select_from(JobRun)) == 0


def test_redis_transport_puts_the_message_on_the_queue(tmp_path, redis_namespace):
    app = build_app(tmp_path, BROKER_URL=REDIS_URL, BROKER_NAMESPACE=redis_namespace, BACNET_TRANSPORT="auto")
    site_id = _site(app)
    with app.app_context():
        run = enqueue("collect_readings", {"site_id": site_id}, triggered_by="schedule")
        assert (run.status, run.transport, run.queue) == ("queued", "redis", "bacnet")
        message_id = run.message_id
    client = redis.Redis.from_url(REDIS_URL)
    payloads = client.hvals(f"{redis_namespace}:bacnet.msgs")
    messages = [json.loads(payload) for payload in payloads]
    assert [(m["actor_name"], m["kwargs"], m["message_id"]) for m in messages] == [
        ("collect_readings", {"site_id": site_id}, message_id)]


def test_site_queue_and_transport_override_the_global_ones(tmp_path, redis_namespace):
    app = build_app(tmp_path, BROKER_URL=REDIS_URL, BROKER_NAMESPACE=redis_namespace, BACNET_TRANSPORT="local")
    site_id = _site(app, transport="redis", queue_name="building-b")
    with app.app_context():
        run = enqueue("collect_readings", {"site_id": site_id}, triggered_by="user")
        assert (run.transport, run.queue) == ("redis", "building-b")
    client = redis.Redis.from_url(REDIS_URL)
    assert client.hlen(f"{redis_namespace}:building-b.msgs") == 1


def test_unreachable_broker_fails_fast_with_the_reason(tmp_path):
    # Nothing listens on port 1 of loopback: connection refused at once.
    app = build_app(tmp_path, BROKER_URL="redis://:hunter2@127.0.0.1:1/0", BACNET_TRANSPORT="redis")
    site_id = _site(app)
    with app.app_context():
        with pytest.raises(EnqueueError) as caught:
            enqueue("collect_readings", {"site_id": site_id}, triggered_by="user")
        reason = str(caught.value)
        assert reason.startswith("broker at redis://:***@127.0.0.1:1/0 unreachable:")
        assert "hunter2" not in reason
        run = db.session.get(JobRun, caught.value.job_run_id)
        assert run.status == "failed" and run.error == reason


def test_message_id_makes_enqueue_idempotent(tmp_path, redis_namespace):
    app = build_app(tmp_path, BROKER_URL=REDIS_URL, BROKER_NAMESPACE=redis_namespace, BACNET_TRANSPORT="redis")
    site_id = _site(app)
    with app.app_context():
        first = enqueue("collect_readings", {"site_id": site_id}, triggered_by="schedule", message_id="slot-1")
        second = enqueue("collect_readings", {"site_id": site_id}, triggered_by="schedule", message_id="slot-1")
        assert first.id == second.id
        assert db.session.scalar(db.select(db.func.count()).select_from(JobRun)) == 1
    assert redis.Redis.from_url(REDIS_URL).hlen(f"{redis_namespace}:bacnet.msgs") == 1
