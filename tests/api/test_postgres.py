"""A few API calls on PostgreSQL: filters, time windows, id bounds and job posting behave the same."""

from __future__ import annotations

import pytest

from app.transport import LOCAL_BROKER_KEY
from tests.api.conftest import T0, bearer, make_token, populate
from workers.broker import make_broker

pytestmark = pytest.mark.postgres


def test_reads_on_postgresql(pg_app):
    ids = populate(pg_app)
    token = make_token(pg_app, "vera", "viewer")
    client = pg_app.test_client()

    def get(path, **params):
        return client.get(path, headers=bearer(token), query_string=params)

    assert [d["name"] for d in get("/api/v1/devices", site_id=ids["plant"]).json["items"]] == ["AHU-1", "AHU-2"]
    assert [p["id"] for p in get("/api/v1/points", polling="true").json["items"]] == [ids["p1"], ids["p3"]]
    window = get(f"/api/v1/points/{ids['p1']}/readings", start="2024-05-01T14:00:10+02:00",
                 end="2024-05-01T12:00:40Z").json
    assert [r["value"] for r in window["items"]] == [21.0, 22.0, 23.0]
    assert window["items"][0]["ts"] == T0.replace(second=10).isoformat()
    csv = get(f"/api/v1/points/{ids['p1']}/readings", format="csv", per_page=1).get_data(as_text=True)
    assert csv.splitlines() == ["ts,value,text", f"{T0.isoformat()},20.0,"]
    # Ids past PostgreSQL's INTEGER and huge pages: a 404/400/empty page, never an overflow error.
    assert get("/api/v1/devices/2147483648").status_code == 404
    assert get("/api/v1/points", device_id="2147483648").status_code == 400
    assert get("/api/v1/points", page="2147483647", per_page="1000").json["items"] == []
    assert get("/api/v1/devices", status="x' OR '1'='1").status_code == 400


def test_jobs_on_postgresql(pg_app):
    ids = populate(pg_app)
    token = make_token(pg_app, "ada", "admin")
    client = pg_app.test_client()
    failed = client.post("/api/v1/jobs", headers=bearer(token), json={"actor": "ping"})
    assert failed.status_code == 503 and failed.json["status"] == "failed"
    too_big = client.post("/api/v1/jobs", headers=bearer(token),
                          json={"actor": "collect_readings", "kwargs": {"site_id": 2**31}})
    assert too_big.status_code == 422
    pg_app.extensions[LOCAL_BROKER_KEY] = make_broker("")
    accepted = client.post("/api/v1/jobs", headers=bearer(token),
                           json={"actor": "refresh_points", "kwargs": {"site_id": ids["depot"]}})
    assert accepted.status_code == 202
    jobs = client.get("/api/v1/jobs", headers=bearer(token), query_string={"status": "queued"}).json
    assert [(j["id"], j["triggered_by_detail"]) for j in jobs["items"]] == [(accepted.json["job_id"], "ada/test")]
