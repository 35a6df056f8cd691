"""No JSON the app emits holds NaN or Infinity, even when old rows in the database do
(app/json_safety.py): the API, the admin's trend and job JSON, the database's JSON columns."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import text

from app.admin import trend as trend_module
from app.extensions import db
from app.json_safety import MAX_JSON_DEPTH, FiniteJSONProvider, TooDeep, check_depth, dumps_finite, finite
from app.models import JobRun, Point, Reading, utcnow
from tests.api.conftest import bearer, make_token
from tests.conftest import add_user
from tests.helpers import add_site_and_device

NON_FINITE = (float("inf"), float("-inf"), float("nan"))


def strict(response) -> object:
    """The body parsed as RFC 8259 JSON: NaN, Infinity and -Infinity are refused."""
    def refuse(name: str) -> None:
        raise AssertionError(f"{name} in a JSON answer: {response.get_data(as_text=True)[:300]}")

    return json.loads(response.get_data(as_text=True), parse_constant=refuse)


def _non_finite_rows(app) -> dict[str, int]:
    """A point whose last value is inf and whose readings are inf, -inf, NaN and 20.0 (rows stored
    before the engine reported non-finite REALs as text), and a job whose summary holds NaN."""
    with app.app_context():
        device = add_site_and_device()
        point = Point(device_id=device.id, object_type="analog-input", object_instance=1, name="T",
                      polling_enabled=True, last_value=float("inf"))
        db.session.add(point)
        db.session.flush()
        now = utcnow()
        for offset, value in enumerate((*NON_FINITE, 20.0)):
            db.session.add(Reading(point_id=point.id, ts=now - timedelta(seconds=40 - offset), value=value))
        run = JobRun(message_id="m-nan", actor="collect_readings", kwargs={"site_id": device.site_id},
                     site_id=device.site_id, transport="local", triggered_by="user", status="succeeded")
        db.session.add(run)
        db.session.commit()
        return {"point": point.id, "job": run.id}


def _store_nan_summary(app, job_id: int) -> None:
    """A summary holding NaN as an old SQLite row may (PostgreSQL's json type refuses the token)."""
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            db.session.execute(text("UPDATE job_run SET summary = '{\"elapsed\": NaN, \"points\": 2}' WHERE id = :id"),
                               {"id": job_id})
        else:
            db.session.get(JobRun, job_id).summary = {"elapsed": float("nan"), "points": 2}
        db.session.commit()


def test_api_answers_are_strict_json(any_app):
    ids = _non_finite_rows(any_app)
    _store_nan_summary(any_app, ids["job"])
    client = any_app.test_client()
    headers = bearer(make_token(any_app))
    point = strict(client.get(f"/api/v1/points/{ids['point']}", headers=headers))
    assert point["last_value"] is None
    assert strict(client.get("/api/v1/points", headers=headers))["items"][0]["last_value"] is None
    readings = strict(client.get(f"/api/v1/points/{ids['point']}/readings", headers=headers))
    assert [item["value"] for item in readings["items"]] == [None, None, None, 20.0]
    job = strict(client.get(f"/api/v1/jobs/{ids['job']}", headers=headers))
    assert job["summary"] == {"elapsed": None, "points": 2}


def test_admin_trend_and_job_json_are_strict(any_app):
    ids = _non_finite_rows(any_app)
    _store_nan_summary(any_app, ids["job"])
    add_user(any_app)
    client = any_app.test_client()
    client.post("/login", data={"username": "alice", "password": "correct-horse"})
    trend = strict(client.get(f"/admin/point/readings.json?id={ids['point']}&window=hour"))
    # The non-finite rows are gaps in the chart; the finite one is drawn.
    assert trend["v"] == [None, None, None, 20.0] and trend["stored"] == 4
    status = strict(client.get(f"/admin/jobrun/status.json?id={ids['job']}"))
    assert status["summary"] == {"elapsed": None, "points": 2}


def test_thinned_trend_averages_only_finite_values(app, monkeypatch):
    monkeypatch.setattr(trend_module, "MAX_SAMPLES", 2)
    with app.app_context():
        device = add_site_and_device()
        point = Point(device_id=device.id, object_type="analog-input", object_instance=1, name="T")
        db.session.add(point)
        db.session.flush()
        now = utcnow()
        for offset, value in enumerate((10.0, float("inf"), 20.0, float("nan"))):
            db.session.add(Reading(point_id=point.id, ts=now - timedelta(seconds=40 - offset), value=value))
        db.session.commit()
        answer = trend_module.trend(point.id, "hour", now=now)
    # Two buckets: (10, inf) averages to 10 and (20, NaN) to 20, not to inf and NaN.
    assert answer["v"] == [10.0, 20.0]


def test_json_columns_never_store_non_finite_floats(any_app):
    """The engine's json_serializer: job summaries with an inf or NaN are stored with null."""
    with any_app.app_context():
        device = add_site_and_device()
        run = JobRun(message_id="m-inf", actor="collect_readings", kwargs={"site_id": device.site_id},
                     site_id=device.site_id, transport="local", triggered_by="user", status="succeeded",
                     summary={"max": float("inf"), "values": [1.0, float("nan")]})
        db.session.add(run)
        db.session.commit()  # PostgreSQL's json type would refuse Infinity outright
        raw = db.session.execute(text("SELECT summary FROM job_run WHERE id = :id"), {"id": run.id}).scalar_one()
    stored = raw if isinstance(raw, dict) else json.loads(raw)
    assert stored == {"max": None, "values": [1.0, None]}


@dataclass
class _Sample:
    value: float


def test_provider_and_dumps(app):
    provider: FiniteJSONProvider = app.json
    assert isinstance(provider, FiniteJSONProvider)
    assert json.loads(provider.dumps({"a": [1.5, *NON_FINITE], "b": (float("inf"),)})) == \
        {"a": [1.5, None, None, None], "b": [None]}
    # Values that reach JSON through the provider's default (dataclasses) are cleaned too.
    assert json.loads(provider.dumps([_Sample(float("nan"))])) == [{"value": None}]
    assert dumps_finite({"x": float("-inf")}, sort_keys=True) == '{"x": null}'
    assert dumps_finite([1, "NaN"]) == '[1, "NaN"]'  # text stays text
    assert finite({"k": (1, float("nan"))}) == {"k": [1, None]}


def test_depth_is_bounded_before_parsing():
    check_depth(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH)
    check_depth('{"a": "' + "[" * 10_000 + '"}')  # brackets inside a string nest nothing
    check_depth(b'{"a": "\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}')  # nor after an escaped quote
    for deep in (b"[" * (MAX_JSON_DEPTH + 1), b'{"a":' * 100_000, b"[" * 10**6):
        with pytest.raises(TooDeep):
            check_depth(deep)
