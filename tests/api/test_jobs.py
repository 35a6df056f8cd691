"""POST /jobs, GET /jobs and GET /jobs/<id>."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import JobRun
from app.transport import LOCAL_BROKER_KEY
from tests.api.conftest import bearer
from workers.broker import make_broker


@pytest.fixture
def broker(app):
    """An in-process broker nobody consumes: jobs are accepted and stay queued."""
    app.extensions[LOCAL_BROKER_KEY] = make_broker("")
    return app.extensions[LOCAL_BROKER_KEY]


def post(client, token, body, **kwargs):
    return client.post("/api/v1/jobs", headers=bearer(token), json=body, **kwargs)


def test_post_job_is_accepted_and_recorded(app, client, admin_token, plant, broker):
    response = post(client, admin_token, {"actor": "collect_readings", "kwargs": {"site_id": plant["plant"]}})
    assert response.status_code == 202, response.json
    job_id = response.json["job_id"]
    assert response.json == {"job_id": job_id, "status": "queued"}
    assert response.headers["Location"].endswith(f"/api/v1/jobs/{job_id}")
    job = client.get(f"/api/v1/jobs/{job_id}", headers=bearer(admin_token)).json
    assert (job["actor"], job["status"], job["triggered_by"], job["triggered_by_detail"]) == (
        "collect_readings", "queued", "api", "alice/admin-script")
    assert job["kwargs"] == {"site_id": plant["plant"]} and job["site_id"] == plant["plant"]
    assert broker.queues["bacnet"].qsize() == 1


def test_post_without_a_worker_returns_the_failed_job(app, client, admin_token, plant):
    # No broker in this process and the local transport: the send fails with a reason.
    response = post(client, admin_token, {"actor": "ping"})
    assert response.status_code == 503
    body = response.json
    assert body["status"] == "failed" and body["error"]["code"] == "enqueue_failed"
    assert "no worker runs in this process" in body["error"]["message"]
    assert response.headers["Location"].endswith(f"/api/v1/jobs/{body['job_id']}")
    job = client.get(f"/api/v1/jobs/{body['job_id']}", headers=bearer(admin_token)).json
    assert (job["status"], job["actor"], job["triggered_by"]) == ("failed", "ping", "api")
    assert "no worker runs in this process" in job["error"] and job["finished_at"] is not None


@pytest.mark.parametrize("body, status, code, fragment", [
    ({"actor": "format_disk"}, 422, "unknown_actor", "unknown actor 'format_disk'"),
    ({"actor": "collect_readings", "kwargs": {}}, 422, "invalid_kwargs", "site_id"),
    ({"actor": "collect_readings", "kwargs": {"site_id": "1"}}, 422, "invalid_kwargs", "site_id"),
    ({"actor": "collect_readings", "kwargs": {"site_id": 1, "rm": True}}, 422, "invalid_kwargs", "rm"),
    ({"actor": "collect_readings", "kwargs": {"site_id": 999}}, 422, "invalid_kwargs", "does not exist"),
    ({"actor": "collect_readings", "kwargs": {"site_id": 2**31}}, 422, "invalid_kwargs", "site_id"),
    ({"actor": "collect_readings", "kwargs": {"site_id": 10**30}}, 422, "invalid_kwargs", "site_id"),
    ({"actor": "refresh_points", "kwargs": {"site_id": 1, "device_ids": [1, 2**40]}}, 422, "invalid_kwargs",
     "device_ids"),
    ({"actor": "discover_devices", "kwargs": {"site_id": 1, "targets": ["'; DROP TABLE site; --"]}}, 422,
     "invalid_kwargs", "targets"),
    ({}, 400, "bad_request", "actor must be a non-empty string"),
    ({"actor": 7}, 400, "bad_request", "actor must be a non-empty string"),
    ({"actor": "ping", "kwargs": [1]}, 400, "bad_request", "kwargs must be a JSON object"),
    ({"actor": "ping", "args": []}, 400, "bad_request", "unknown member 'args'"),
    ([{"actor": "ping"}], 400, "bad_request", "must be a JSON object"),
    ("ping", 400, "bad_request", "must be a JSON object"),
])
def test_bad_job_requests(app, client, admin_token, plant, broker, body, status, code, fragment):
    response = post(client, admin_token, body)
    assert response.status_code == status, response.json
    assert response.json["error"]["code"] == code
    assert fragment in response.json["error"]["message"]
    with app.app_context():
        # Only the two jobs of the fixture: a refused request records nothing.
        assert db.session.scalar(db.select(db.func.count()).select_from(JobRun)) == 2


@pytest.mark.parametrize("data, content_type, status, fragment", [
    (b'{"actor": "ping",', "application/json", 400, "malformed JSON body"),
    (b"\xff\xfe\x00garbage", "application/json", 400, "malformed JSON body"),
    (b'{"actor": NaN}', "application/json", 400, "malformed JSON body"),
    (b"[" * 30000 + b"]" * 30000, "application/json", 400, "malformed JSON body"),
    (b"", "application/json", 400, "malformed JSON body"),
    (b"actor=ping", "application/x-www-form-urlencoded", 415, "Content-Type: application/json"),
    (b'{"actor": "ping"}', "text/plain", 415, "Content-Type: application/json"),
])
def test_malformed_bodies(client, admin_token, data, content_type, status, fragment):
    response = client.post("/api/v1/jobs", headers=bearer(admin_token), data=data, content_type=content_type)
    assert response.status_code == status
    assert fragment in response.json["error"]["message"]


def test_query_parameters_on_post_are_refused(client, admin_token, broker):
    response = client.post("/api/v1/jobs?dry_run=1", headers=bearer(admin_token), json={"actor": "ping"})
    assert response.status_code == 400 and "dry_run" in response.json["error"]["message"]


def test_write_point_records_the_caller_not_what_the_body_claims(app, client, admin_token, plant, broker):
    kwargs = {"site_id": plant["plant"], "point_id": plant["p1"], "priority": 8, "value": 21.5,
              "requested_by": "somebody-else"}
    response = post(client, admin_token, {"actor": "write_point", "kwargs": kwargs})
    assert response.status_code == 202, response.json
    with app.app_context():
        run = db.session.get(JobRun, response.json["job_id"])
        assert run.kwargs["requested_by"] == "api:alice/admin-script"


def test_list_jobs_newest_first_with_filters(client, viewer_token, admin_token, plant, broker):
    post(client, admin_token, {"actor": "ping"})

    def actors(**params):
        response = client.get("/api/v1/jobs", headers=bearer(viewer_token), query_string=params)
        assert response.status_code == 200, response.json
        return [(job["actor"], job["status"]) for job in response.json["items"]]

    assert actors() == [("ping", "queued"), ("discover_devices", "failed"), ("collect_readings", "succeeded")]
    assert actors(status="failed") == [("discover_devices", "failed")]
    assert actors(actor="collect_readings") == [("collect_readings", "succeeded")]
    assert actors(actor="ping", status="failed") == []
    assert actors(per_page=1, page=2) == [("discover_devices", "failed")]
