"""More than a thousand hostile requests against a real gateway: every one is refused with its
status code, nothing runs, and the gateway keeps serving."""

from __future__ import annotations

import json
import random
import time

import pytest
import requests

from app.extensions import db
from app.models import JobRun
from tests.conftest import build_app
from tests.helpers import wait_for_job
from tests.processes import Process, base_env, free_port, run
from workers.signing import sign, signed_headers

pytestmark = pytest.mark.e2e

SECRET = "hostile-test-secret-0123456789abcdef"
#: Requests per category; 12 categories -> 1,200 requests.
PER_CATEGORY = 100
#: Refused by the server (waitress) itself, before the app: its answer is plain text, not JSON.
SERVER_REFUSALS = {"oversized"}


def _body(rng: random.Random, **fields) -> bytes:
    data = {"message_id": f"h-{rng.getrandbits(48):x}", "actor": "ping", "kwargs": {}, "job_id": None}
    data.update(fields)
    return json.dumps(data).encode()


def _flip(signature: str, rng: random.Random) -> str:
    digits = list(signature)
    index = rng.randrange(len("sha256="), len(digits))
    digits[index] = "0" if digits[index] != "0" else "1"
    return "".join(digits)


def hostile_requests(rng: random.Random, replayed: bytes):
    """(category, body, headers, expected status) tuples."""
    now = int(time.time())
    for _ in range(PER_CATEGORY):
        junk = rng.randbytes(rng.randrange(0, 400))
        yield "random body, signed", junk, signed_headers(SECRET, junk), 400
        body = _body(rng)
        yield "bit-flipped signature", body, {**signed_headers(SECRET, body),
                                              "X-Signature": _flip(sign(SECRET, str(now), body), rng)}, 401
        stale = str(now - rng.randrange(301, 10**6))
        yield "stale timestamp", body, {"X-Timestamp": stale, "X-Signature": sign(SECRET, stale, body)}, 401
        future = str(now + rng.randrange(301, 10**6))
        yield "future timestamp", body, {"X-Timestamp": future, "X-Signature": sign(SECRET, future, body)}, 401
        yield "unsigned", body, {}, 401
        yield "replay", replayed, signed_headers(SECRET, replayed), 409
        huge = _body(rng, kwargs={"pad": "x" * (64 * 1024 + rng.randrange(1, 4096))})
        yield "oversized", huge, signed_headers(SECRET, huge), 413
        unknown = _body(rng, actor=rng.choice(["rm_rf", "format_disk", "PING", "ping ", "__import__"]))
        yield "unknown actor", unknown, signed_headers(SECRET, unknown), 404
        wrong = _body(rng, actor="collect_readings", kwargs=rng.choice([
            {"site_id": "1"}, {"site_id": -5}, {"site_id": 1.5}, {"site_id": None}, {"site_id": [1]},
            {"site_id": 1, "device_ids": "all"}, {"site_id": 1, "x": 1}, {}]))
        yield "wrong types", wrong, signed_headers(SECRET, wrong), 422
        # Header bytes that are not ASCII (sent as UTF-8): a 500 before authentication, once.
        garbage = rng.choice(["١٧٠٠٠٠٠٠٠٠", "²", "sha256=" + "é" * 64, "\u202e" + "0" * 10]).encode("utf-8")
        yield "non-ASCII headers", body, {**signed_headers(SECRET, body),
                                          rng.choice(["X-Timestamp", "X-Signature"]): garbage}, 401
        depth = rng.randrange(40, 20_000)
        deep = b'{"message_id": "d", "actor": "ping", "kwargs": {"x": ' + b"[" * depth + b"]" * depth + b"}}"
        yield "deep JSON, signed", deep, signed_headers(SECRET, deep), 400
        ghost = _body(rng, actor="collect_readings", kwargs={"site_id": rng.randrange(1000, 10**6)})
        yield "missing site", ghost, signed_headers(SECRET, ghost), 422


def test_hostile_requests_are_refused_and_nothing_runs(tmp_path, fresh_pg_database, loopback_block):
    port = free_port()
    env = base_env(tmp_path, DATABASE_URL=fresh_pg_database, GATEWAY_SECRET=SECRET,
                   BACNET_ADDRESS=f"127.0.{loopback_block}.2/8:47809")
    assert run(["db", "upgrade"], env).returncode == 0
    gateway = Process("gateway", ["gateway", "--port", str(port)], env, tmp_path)
    url = f"http://127.0.0.1:{port}"
    try:
        gateway.wait_for("serving on")
        rng = random.Random(20261127)
        session = requests.Session()
        replayed = _body(rng, message_id="the-original")
        assert session.post(f"{url}/enqueue", data=replayed, headers=signed_headers(SECRET, replayed),
                            timeout=10).status_code == 202
        wrong_answers, sent = [], 0
        for category, body, headers, expected in hostile_requests(rng, replayed):
            response = session.post(f"{url}/enqueue", data=body, timeout=10,
                                    headers={"Content-Type": "application/json", **headers})
            sent += 1
            json_error = category in SERVER_REFUSALS or "error" in response.json()
            if response.status_code != expected or not json_error:
                wrong_answers.append((category, response.status_code, response.text[:200]))
        assert sent >= 1000
        assert wrong_answers == []
        # Still serving, and still doing real work.
        assert session.get(f"{url}/healthz", timeout=5).json() == {"status": "ok"}
        good = _body(rng, message_id="after-the-storm")
        assert session.post(f"{url}/enqueue", data=good, headers=signed_headers(SECRET, good),
                            timeout=10).status_code == 202
        app = build_app(tmp_path, DATABASE_URL=fresh_pg_database)
        with app.app_context():
            rows = {r.message_id: r.id for r in db.session.execute(db.select(JobRun)).scalars()}
        # Nothing but the two genuine messages was ever recorded, let alone run.
        assert set(rows) == {"the-original", "after-the-storm"}
        assert wait_for_job(app, rows["after-the-storm"], timeout=30).status == "succeeded"
    finally:
        assert gateway.stop() == 0
    assert "Traceback" not in gateway.output
    assert SECRET not in gateway.output
