"""The API side of device identity: the conflict in the device representation, accepting or
dismissing it (admin tokens only), the site's follow_address_changes, and "partial" jobs."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Device, JobRun, utcnow
from tests.api.conftest import bearer
from tests.api.test_openapi import assert_matches

DETAIL = "instance 1001 answered from 127.0.0.66 in discovery job 7 (2024-05-01 12:00 UTC), not from its stored " \
         "address 127.0.0.10: not moved; accept the new address only if the device really moved"


@pytest.fixture
def spec(client):
    return client.get("/api/v1/openapi.json").json


@pytest.fixture
def conflicted(app, plant) -> int:
    with app.app_context():
        device = db.session.get(Device, plant["d1"])
        device.conflict_address, device.conflict_detail, device.conflict_seen_at = "127.0.0.66", DETAIL, utcnow()
        device.max_apdu, device.segmentation = 1476, "segmented-both"
        db.session.commit()
    return plant["d1"]


def test_a_device_shows_its_conflict(client, spec, viewer_token, conflicted):
    response = client.get(f"/api/v1/devices/{conflicted}", headers=bearer(viewer_token))
    assert response.json["conflict_address"] == "127.0.0.66" and response.json["conflict_detail"] == DETAIL
    assert response.json["conflict_seen_at"].endswith("+00:00")
    assert_matches(spec, "/devices/{device_id}", "get", response)
    others = client.get("/api/v1/devices", headers=bearer(viewer_token)).json["items"]
    assert [(d["conflict_address"], d["conflict_detail"]) for d in others if d["id"] != conflicted] == [
        (None, ""), (None, "")]


def test_an_admin_accepts_the_new_address(app, client, spec, admin_token, conflicted):
    response = client.post(f"/api/v1/devices/{conflicted}/accept-address", headers=bearer(admin_token))
    assert response.status_code == 200, response.json
    assert_matches(spec, "/devices/{device_id}/accept-address", "post", response)
    body = response.json
    assert (body["address"], body["conflict_address"]) == ("127.0.0.66", None)
    assert body["conflict_detail"].startswith("moved from 127.0.0.10 to 127.0.0.66 by api:alice/admin-script (")
    assert (body["max_apdu"], body["segmentation"], body["status"]) == (None, "", "unknown")
    with app.app_context():
        assert db.session.get(Device, conflicted).address == "127.0.0.66"

    again = client.post(f"/api/v1/devices/{conflicted}/accept-address", headers=bearer(admin_token))
    assert again.status_code == 409 and again.json["error"]["code"] == "no_conflict"
    assert_matches(spec, "/devices/{device_id}/accept-address", "post", again)


def test_an_admin_dismisses_the_conflict(app, client, spec, admin_token, conflicted):
    response = client.post(f"/api/v1/devices/{conflicted}/dismiss-conflict", headers=bearer(admin_token))
    assert response.status_code == 200
    assert_matches(spec, "/devices/{device_id}/dismiss-conflict", "post", response)
    assert (response.json["address"], response.json["conflict_address"]) == ("127.0.0.10", None)
    assert "127.0.0.66 was dismissed by api:alice/admin-script" in response.json["conflict_detail"]


def test_viewers_and_unknown_devices_cannot_decide(app, client, spec, viewer_token, admin_token, conflicted):
    refused = client.post(f"/api/v1/devices/{conflicted}/accept-address", headers=bearer(viewer_token))
    assert refused.status_code == 403
    assert_matches(spec, "/devices/{device_id}/accept-address", "post", refused)
    missing = client.post("/api/v1/devices/424242/accept-address", headers=bearer(admin_token))
    assert missing.status_code == 404
    assert client.post(f"/api/v1/devices/{conflicted}/accept-address?x=1", headers=bearer(admin_token)
                       ).status_code == 400
    with app.app_context():
        assert db.session.get(Device, conflicted).address == "127.0.0.10"


def test_sites_show_follow_address_changes(client, spec, viewer_token, plant):
    response = client.get(f"/api/v1/sites/{plant['plant']}", headers=bearer(viewer_token))
    assert response.json["follow_address_changes"] is False
    assert_matches(spec, "/sites/{site_id}", "get", response)


def test_partial_jobs_can_be_listed(app, client, spec, viewer_token, plant):
    with app.app_context():
        db.session.add(JobRun(message_id="p1", actor="collect_readings", kwargs={"site_id": plant["plant"]},
                              site_id=plant["plant"], transport="local", triggered_by="schedule", status="partial",
                              summary={"readings": 2, "failed_devices": {"1002 (127.0.0.11)": "no answer"}},
                              error="1002 (127.0.0.11): no answer"))
        db.session.commit()
    response = client.get("/api/v1/jobs", headers=bearer(viewer_token), query_string={"status": "partial"})
    assert [job["message_id"] for job in response.json["items"]] == ["p1"]
    assert response.json["items"][0]["summary"]["failed_devices"] == {"1002 (127.0.0.11)": "no answer"}
    assert_matches(spec, "/jobs", "get", response)
    assert "partial" in spec["components"]["schemas"]["Job"]["properties"]["status"]["enum"]
