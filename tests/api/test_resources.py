"""GET /sites, /devices, /points and one of each: content, filters, pagination, bad input."""

from __future__ import annotations

import pytest

from app.api.pagination import DEFAULT_PER_PAGE, MAX_PAGE, MAX_PER_PAGE
from app.extensions import db
from app.models import Site
from tests.api.conftest import T0, bearer


def get(client, token, path, **params):
    return client.get(path, headers=bearer(token), query_string=params)


def test_sites_list_and_one(client, viewer_token, plant):
    body = get(client, viewer_token, "/api/v1/sites").json
    assert (body["total"], body["page"], body["per_page"], body["pages"]) == (2, 1, DEFAULT_PER_PAGE, 1)
    assert [site["name"] for site in body["items"]] == ["Plant", "Depot"]
    one = get(client, viewer_token, f"/api/v1/sites/{plant['plant']}").json
    assert one == body["items"][0]
    assert one["discovery_targets"] == ["127.0.0.10", "127.0.0.0/30"]
    assert one["created_at"].endswith("+00:00")


def test_devices_filters(client, viewer_token, plant):
    def names(**params):
        response = get(client, viewer_token, "/api/v1/devices", **params)
        assert response.status_code == 200, response.json
        return [device["name"] for device in response.json["items"]]

    assert names() == ["AHU-1", "AHU-2", "VAV"]
    assert names(site_id=plant["plant"]) == ["AHU-1", "AHU-2"]
    assert names(status="offline") == ["AHU-2"]
    assert names(site_id=plant["depot"], status="online") == []
    assert names(site_id=2147483647) == []
    device = get(client, viewer_token, f"/api/v1/devices/{plant['d3']}").json
    assert (device["address"], device["status"], device["site_id"]) == ("2001:12", "unknown", plant["depot"])


def test_points_filters_and_values(client, viewer_token, plant):
    def ids(**params):
        response = get(client, viewer_token, "/api/v1/points", **params)
        assert response.status_code == 200, response.json
        return [point["id"] for point in response.json["items"]]

    assert ids() == [plant["p1"], plant["p2"], plant["p3"], plant["p4"]]
    assert ids(device_id=plant["d1"]) == [plant["p1"], plant["p2"]]
    assert ids(polling="true") == [plant["p1"], plant["p3"]]
    assert ids(polling="0") == [plant["p2"], plant["p4"]]
    assert ids(device_id=plant["d1"], polling="false") == [plant["p2"]]
    p1 = get(client, viewer_token, f"/api/v1/points/{plant['p1']}").json
    assert (p1["object_type"], p1["last_value"], p1["last_read_at"]) == ("analog-input", 13.5, T0.isoformat())
    # NaN has no JSON form: it is null, and the answer stays valid JSON.
    p3 = get(client, viewer_token, f"/api/v1/points/{plant['p3']}")
    assert "NaN" not in p3.get_data(as_text=True) and p3.json["last_value"] is None


@pytest.mark.parametrize("path, params, fragment", [
    ("/api/v1/devices", {"status": "broken"}, "status must be one of unknown, online, offline"),
    ("/api/v1/devices", {"site_id": "abc"}, "site_id must be an integer"),
    ("/api/v1/devices", {"site_id": "1 OR 1=1"}, "site_id must be an integer"),
    ("/api/v1/devices", {"site_id": "1e3"}, "site_id must be an integer"),
    ("/api/v1/devices", {"site_id": "0"}, "site_id must be at least 1"),
    ("/api/v1/devices", {"site_id": "-5"}, "site_id must be at least 1"),
    ("/api/v1/devices", {"site_id": "2147483648"}, "at most 2147483647"),
    ("/api/v1/devices", {"site_id": "9" * 5000}, "at most 2147483647, got '99999"),
    ("/api/v1/devices", {"status": "online'; DROP TABLE device; --"}, "status must be one of"),
    ("/api/v1/devices", {"site": "1"}, "unknown query parameter 'site'"),
    ("/api/v1/points", {"polling": "maybe"}, "polling must be true or false"),
    ("/api/v1/points", {"device_id": ""}, "device_id must be an integer"),
    ("/api/v1/points", {"device_id": "\u0661"}, "device_id must be an integer"),
    ("/api/v1/sites", {"page": "x"}, "page must be an integer"),
    ("/api/v1/sites", {"page": "0"}, "page must be at least 1"),
    ("/api/v1/sites", {"per_page": "0"}, "per_page must be at least 1"),
    ("/api/v1/sites", {"per_page": str(MAX_PER_PAGE + 1)}, f"at most {MAX_PER_PAGE}"),
    ("/api/v1/sites", {"per_page": "1.5"}, "per_page must be an integer"),
    ("/api/v1/sites/1", {"verbose": "1"}, "this endpoint accepts: none"),
    ("/api/v1/jobs", {"actor": "rm -rf"}, "actor must be one of"),
    ("/api/v1/jobs", {"status": "done"}, "status must be one of"),
])
def test_bad_query_parameters_are_400_naming_the_parameter(client, viewer_token, plant, path, params, fragment):
    response = get(client, viewer_token, path, **params)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json["error"]["code"] == "bad_request"
    assert fragment in response.json["error"]["message"]


def test_repeated_parameter_is_400(client, viewer_token):
    response = client.get("/api/v1/devices?status=online&status=offline", headers=bearer(viewer_token))
    assert response.status_code == 400
    assert "more than once" in response.json["error"]["message"]


def test_pagination_bounds(app, client, viewer_token):
    with app.app_context():
        db.session.add_all([Site(name=f"site-{index:03}") for index in range(25)])
        db.session.commit()
    page = get(client, viewer_token, "/api/v1/sites", per_page=10, page=3).json
    assert (page["total"], page["pages"], page["page"], page["per_page"]) == (25, 3, 3, 10)
    assert [site["name"] for site in page["items"]] == [f"site-{index:03}" for index in range(20, 25)]
    past = get(client, viewer_token, "/api/v1/sites", per_page=10, page=4).json
    assert past["items"] == [] and past["total"] == 25
    far = get(client, viewer_token, "/api/v1/sites", per_page=MAX_PER_PAGE, page=MAX_PAGE)
    assert far.status_code == 200 and far.json["items"] == [] and far.json["page"] == MAX_PAGE
    for huge in (MAX_PAGE + 1, 10**30, "9" * 10000):
        response = get(client, viewer_token, "/api/v1/sites", page=huge)
        assert response.status_code == 400 and f"at most {MAX_PAGE}" in response.json["error"]["message"]
    everything = get(client, viewer_token, "/api/v1/sites", per_page=MAX_PER_PAGE).json
    assert len(everything["items"]) == 25 and everything["pages"] == 1


def test_empty_lists(client, viewer_token):
    body = get(client, viewer_token, "/api/v1/points").json
    assert body == {"items": [], "total": 0, "page": 1, "per_page": DEFAULT_PER_PAGE, "pages": 0}
