"""Schedules through the API: create, change, delete; cron and interval errors are clear 422s."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Schedule
from tests.api.conftest import bearer
from tests.api.test_openapi import assert_matches


@pytest.fixture
def spec(client):
    return client.get("/api/v1/openapi.json").json


def test_create_change_list_delete(app, client, admin_token, viewer_token, plant, spec):
    created = client.post("/api/v1/schedules", headers=bearer(admin_token),
                          json={"name": "every 10 s", "kind": "collect", "site_id": plant["plant"],
                                "interval_seconds": 10})
    assert created.status_code == 201, created.json
    assert_matches(spec, "/schedules", "post", created)
    schedule = created.json
    assert (schedule["kind"], schedule["interval_seconds"], schedule["cron"], schedule["enabled"]) == (
        "collect", 10, "", True)
    assert created.headers["Location"].endswith(f"/api/v1/schedules/{schedule['id']}")

    changed = client.patch(f"/api/v1/schedules/{schedule['id']}", headers=bearer(admin_token),
                           json={"interval_seconds": None, "cron": "*/15 * * * *"})
    assert changed.status_code == 200 and changed.json["cron"] == "*/15 * * * *"
    assert_matches(spec, "/schedules/{schedule_id}", "patch", changed)

    listed = client.get("/api/v1/schedules", headers=bearer(viewer_token), query_string={"site_id": plant["plant"]})
    assert [item["id"] for item in listed.json["items"]] == [schedule["id"]]
    assert_matches(spec, "/schedules", "get", listed)
    assert client.post("/api/v1/schedules", headers=bearer(viewer_token), json={}).status_code == 403

    assert client.delete(f"/api/v1/schedules/{schedule['id']}", headers=bearer(admin_token)).status_code == 204
    assert client.get(f"/api/v1/schedules/{schedule['id']}", headers=bearer(viewer_token)).status_code == 404


@pytest.mark.parametrize("body, status, fragment", [
    ({"cron": "*/15 * * *"}, 422, "cron: cron '*/15 * * *' must have 5 fields"),
    ({"cron": "61 * * * *"}, 422, "cron: cron '61 * * * *'"),
    ({"cron": "* * * * * *"}, 422, "must have 5 fields"),
    ({}, 422, "interval_seconds: give an interval in seconds or a cron expression"),
    ({"interval_seconds": 10, "cron": "* * * * *"}, 422, "not both"),
    ({"interval_seconds": 0}, 422, "interval_seconds: must be 1.."),
    ({"interval_seconds": 10, "jitter_seconds": 10}, 422, "jitter_seconds: must be shorter than the interval"),
    ({"interval_seconds": "10"}, 400, "interval_seconds has the wrong type"),
    ({"interval_seconds": True}, 400, "interval_seconds has the wrong type"),
    ({"interval_seconds": 10, "kind": "reboot"}, 422, "kind: must be one of collect, discover, refresh"),
    ({"interval_seconds": 10, "site_id": 999999}, 422, "site_id: site 999999 does not exist"),
    ({"interval_seconds": 10, "device_ids": [424242]}, 422, "device_ids: [424242] are not devices of site"),
    ({"interval_seconds": 10, "color": "red"}, 400, "unknown member 'color'"),
    ({"interval_seconds": 10, "name": "'; DROP TABLE schedule; --"}, 201, ""),
])
def test_bad_schedules_are_refused_with_the_reason(app, client, admin_token, plant, body, status, fragment):
    payload = {"name": "s", "kind": "collect", "site_id": plant["plant"], **body}
    response = client.post("/api/v1/schedules", headers=bearer(admin_token), json=payload)
    assert response.status_code == status, response.json
    if fragment:
        assert fragment in response.json["error"]["message"]
    with app.app_context():
        count = db.session.scalar(db.select(db.func.count()).select_from(Schedule))
    assert count == (1 if status == 201 else 0)


def test_a_bad_change_leaves_the_schedule_as_it_was(app, client, admin_token, plant):
    created = client.post("/api/v1/schedules", headers=bearer(admin_token),
                          json={"name": "s", "kind": "collect", "site_id": plant["plant"], "interval_seconds": 60})
    bad = client.patch(f"/api/v1/schedules/{created.json['id']}", headers=bearer(admin_token),
                       json={"interval_seconds": None, "cron": "every day"})
    assert bad.status_code == 422 and "cron 'every day'" in bad.json["error"]["message"]
    with app.app_context():
        schedule = db.session.get(Schedule, created.json["id"])
        assert (schedule.interval_seconds, schedule.cron) == (60, "")
