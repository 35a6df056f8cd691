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


# -- hostile headers and bodies (issue 12) ------------------------------------------------------------


def _wire(text: str) -> str:
    """A header value as a WSGI server hands it over: the bytes sent (UTF-8) decoded as latin-1."""
    return text.encode("utf-8").decode("latin-1")


@pytest.mark.parametrize("timestamp, signature", [
    ("١٧٠٠٠٠٠٠٠٠", None),                       # Arabic-Indic digits: str.isdigit() said yes
    ("²", None),                                  # a digit int() cannot parse
    (None, "sha256=" + "é" * 64),                 # hmac.compare_digest raised TypeError on these
    (None, "sha256=" + "０" * 64),                 # full-width zeros
    (None, "sha256=" + "A" * 64),                 # not lowercase hex
    (None, "sha256=" + "0" * 63),                 # too short
    (None, "sha256=" + "0" * 6400),               # far too long
    (None, "md5=" + "0" * 64),                    # another scheme
    ("1" * 13, None),                             # more digits than any unix time
    (" 1700000000", None), ("-1", None), ("1e9", None), ("0x10", None),
    (None, "\x00\x01\x02"), (None, "sha256=" + "0" * 32 + "\u202e" + "0" * 31),
])
def test_malformed_and_non_ascii_signature_headers_are_401(app, gateway, timestamp, signature):
    state, client = gateway
    raw = body()
    good = signed_headers(SECRET, raw)
    headers = {"X-Timestamp": _wire(timestamp) if timestamp is not None else good["X-Timestamp"],
               "X-Signature": _wire(signature) if signature is not None else good["X-Signature"]}
    response = post(client, raw, headers)
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert queued(state) == 0 and jobs(app) == []


@pytest.mark.parametrize("timestamp, signature", [
    ("١٧٠٠٠٠٠٠٠٠", "sha256=" + "0" * 64), ("²", "sha256=" + "0" * 64),
    (str(int(time.time())), "sha256=" + "é" * 64), (str(int(time.time())), "sha256=١" + "0" * 63),
])
def test_verify_refuses_unicode_headers_as_signature_errors(timestamp, signature):
    from workers.signing import SignatureError, verify

    with pytest.raises(SignatureError):
        verify(SECRET, timestamp, signature, b"{}")


@pytest.mark.parametrize("raw, fragment", [
    (b'{"message_id": "m-1", "actor": "ping", "kwargs": {"x": ' + b"[" * 30_000 + b"]" * 30_000 + b"}}",
     "nested deeper than"),
    (b'{"message_id": "m-1", "actor": "ping", "kwargs": ' + b'{"a":' * 5000 + b"1" + b"}" * 5000 + b"}",
     "nested deeper than"),
    (b"[" * 60_000, "nested deeper than"),
    (b'{"message_id": "m-1", "actor": "ping", "kwargs": {}, "job_id": NaN}', "body is not JSON"),
    (b'{"message_id": "m-1", "actor": "ping", "kwargs": {"site_id": Infinity}}', "body is not JSON"),
    (b'\xff\xfe{"message_id": "m-1"}', "body is not JSON"),
])
def test_deep_or_non_standard_signed_json_is_400(app, gateway, raw, fragment):
    state, client = gateway
    assert len(raw) <= MAX_BODY
    response = post(client, raw)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert fragment in response.get_json()["error"]["message"]
    assert queued(state) == 0 and jobs(app) == []


def test_a_message_naming_a_missing_site_is_422_not_409(app, gateway):
    state, client = gateway
    response = post(client, body(message_id="m-ghost", kwargs={"site_id": 999}))
    assert response.status_code == 422
    assert response.get_json()["error"] == {"code": "invalid_kwargs", "message": "site_id: no site with id 999"}
    assert queued(state) == 0 and jobs(app) == []
    # The same id is not burnt: once the request is right, it is accepted.
    assert post(client, body(message_id="m-ghost")).status_code == 202
