"""The gateway's HTTP protocol, request by request (Flask test client; no worker, no BACnet)."""

from __future__ import annotations

import json
import time

import pytest
from dramatiq.brokers.stub import StubBroker

from app.extensions import db
from app.models import JobRun, Site
from workers.broker import make_broker
from workers.gateway.http import MAX_BODY, GatewayState, create_gateway_app
from workers.gateway.ledger import GatewayIdentity, mark_lost
from workers.signing import sign, signed_headers

SECRET = "s" * 40


@pytest.fixture
def gateway(app):
    with app.app_context():
        db.session.add(Site(name="Remote", discovery_targets="127.0.0.10"))
        db.session.commit()
    broker = make_broker("")
    state = GatewayState(core=app, secret=SECRET, identity=GatewayIdentity("test-host:5001"), broker=broker,
                         bind="127.0.0.1/8:47809", version="test", queue_depth=lambda: broker.queues["bacnet"].qsize())
    return state, create_gateway_app(state).test_client()


def body(**fields) -> bytes:
    data = {"message_id": "m-1", "actor": "collect_readings", "kwargs": {"site_id": 1}, "job_id": None}
    data.update(fields)
    return json.dumps(data).encode()


def post(client, raw: bytes, headers: dict | None = None):
    return client.post("/enqueue", data=raw, headers={"Content-Type": "application/json",
                                                      **(signed_headers(SECRET, raw) if headers is None else headers)})


def queued(state) -> int:
    broker: StubBroker = state.broker
    return broker.queues["bacnet"].qsize()


def jobs(app) -> list[tuple[str, str, str | None]]:
    with app.app_context():
        return [(r.message_id, r.status, r.accepted_by) for r in db.session.execute(db.select(JobRun)).scalars()]


def test_signed_request_is_accepted_once(app, gateway):
    state, client = gateway
    response = post(client, body())
    assert response.status_code == 202
    assert response.get_json() == {"message_id": "m-1", "status": "accepted"}
    assert queued(state) == 1
    assert jobs(app) == [("m-1", "queued", state.identity.tag)]
    # The same message again (a replay, or a retry whose first answer was lost): 409, nothing queued.
    again = post(client, body())
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "replayed"
    assert queued(state) == 1


def test_a_row_written_by_the_web_is_taken_over(app, gateway):
    state, client = gateway
    with app.app_context():
        db.session.add(JobRun(message_id="m-web", actor="collect_readings", kwargs={"site_id": 1}, site_id=1,
                              transport="http", triggered_by="user", status="queued"))
        db.session.commit()
    assert post(client, body(message_id="m-web")).status_code == 202
    assert jobs(app) == [("m-web", "queued", state.identity.tag)]


@pytest.mark.parametrize("case", ["unsigned", "forged", "wrong_secret", "stale", "future", "not_digits",
                                  "body_changed"])
def test_bad_signatures_are_401_and_nothing_runs(app, gateway, case):
    state, client = gateway
    raw = body()
    now = int(time.time())
    headers = {
        "unsigned": {},
        "forged": {"X-Timestamp": str(now), "X-Signature": "sha256=" + "0" * 64},
        "wrong_secret": signed_headers("x" * 40, raw),
        "stale": {"X-Timestamp": str(now - 301), "X-Signature": sign(SECRET, str(now - 301), raw)},
        "future": {"X-Timestamp": str(now + 400), "X-Signature": sign(SECRET, str(now + 400), raw)},
        "not_digits": {"X-Timestamp": "yesterday", "X-Signature": sign(SECRET, "yesterday", raw)},
        "body_changed": signed_headers(SECRET, body(kwargs={"site_id": 2})),
    }[case]
    response = post(client, raw, headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert queued(state) == 0 and jobs(app) == []


@pytest.mark.parametrize("raw, status, fragment", [
    (b"not json", 400, "body is not JSON"),
    (b"[1, 2]", 400, "must be a JSON object"),
    (body(message_id=""), 400, "message_id must be a string"),
    (body(message_id="x" * 65), 400, "message_id must be a string"),
    (body(kwargs=[1]), 400, "kwargs must be a JSON object"),
    (body(job_id="7"), 400, "job_id must be an integer"),
    (body(extra=1), 400, "unexpected fields: extra"),
    (body(actor="format_c"), 404, "unknown actor 'format_c'"),
    (body(kwargs={"site_id": "one"}), 422, "site_id: Input should be a valid integer"),
    (body(kwargs={"site_id": 1, "rm": True}), 422, "rm: Extra inputs are not permitted"),
])
def test_malformed_requests(app, gateway, raw, status, fragment):
    state, client = gateway
    response = post(client, raw)
    assert response.status_code == status
    assert fragment in response.get_json()["error"]["message"]
    assert queued(state) == 0 and jobs(app) == []


def test_oversized_body_is_413_unread(app, gateway):
    state, client = gateway
    raw = body(kwargs={"site_id": 1, "pad": "x" * MAX_BODY})
    response = post(client, raw)
    assert response.status_code == 413
    assert queued(state) == 0 and jobs(app) == []


def test_status_is_signed_and_says_what_runs(app, gateway):
    state, client = gateway
    assert client.get("/status").status_code == 401
    response = client.get("/status", headers=signed_headers(SECRET, b""))
    assert response.status_code == 200
    status = response.get_json()
    assert set(status) == {"version", "platform", "bacnet_bind_address", "queue_depth", "jobs_running",
                           "last_job_finished", "uptime_seconds", "accepting"}
    assert status["bacnet_bind_address"] == "127.0.0.1/8:47809" and status["queue_depth"] == 0
    assert SECRET not in response.get_data(as_text=True)


def test_healthz_is_open_and_says_little(gateway):
    _, client = gateway
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_stopping_gateway_refuses_new_work(app, gateway):
    state, client = gateway
    state.accepting = False
    assert post(client, body()).status_code == 503
    assert client.get("/healthz").status_code == 503
    assert jobs(app) == []


def test_restart_marks_the_previous_runs_unfinished_jobs_lost(app, gateway):
    state, client = gateway
    assert post(client, body(message_id="a")).status_code == 202
    restarted = GatewayIdentity(state.identity.name)
    with app.app_context():
        assert mark_lost(restarted, "the gateway restarted before this job finished", previous_runs=True) == 1
        run = db.session.execute(db.select(JobRun)).scalar_one()
        assert (run.status, run.error) == ("lost", "the gateway restarted before this job finished")
