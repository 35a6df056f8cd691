"""GET /points/<id>/readings: time order, the time window, pagination, CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from tests.api.conftest import T0, bearer


def readings(client, token, point_id, **params):
    return client.get(f"/api/v1/points/{point_id}/readings", headers=bearer(token), query_string=params)


def test_readings_in_time_order(client, viewer_token, plant):
    body = readings(client, viewer_token, plant["p1"]).json
    assert body["point_id"] == plant["p1"] and body["total"] == 5
    assert [item["ts"] for item in body["items"]] == [(T0 + timedelta(seconds=10 * i)).isoformat() for i in range(5)]
    assert [item["value"] for item in body["items"]] == [20.0, 21.0, 22.0, 23.0, 24.0]
    text = readings(client, viewer_token, plant["p4"]).json["items"]
    assert text == [{"ts": T0.isoformat(), "value": None, "text": "occupied"}]


@pytest.mark.parametrize("start, end, expected", [
    ("2024-05-01T12:00:10Z", "2024-05-01T12:00:30Z", [21.0, 22.0]),         # start inclusive, end exclusive
    ("2024-05-01T12:00:10", None, [21.0, 22.0, 23.0, 24.0]),                # no offset: UTC
    ("2024-05-01T14:00:30+02:00", None, [23.0, 24.0]),                      # offsets converted to UTC
    (None, "2024-05-01T12:00:05.5+00:00", [20.0]),
    ("2024-05-01", "2024-05-02", [20.0, 21.0, 22.0, 23.0, 24.0]),          # dates are midnight UTC
    ("2030-01-01T00:00:00Z", None, []),
])
def test_time_window(client, viewer_token, plant, start, end, expected):
    params = {key: value for key, value in (("start", start), ("end", end)) if value is not None}
    response = readings(client, viewer_token, plant["p1"], **params)
    assert response.status_code == 200, response.json
    assert [item["value"] for item in response.json["items"]] == expected


@pytest.mark.parametrize("name, value", [("start", "yesterday"), ("end", "2024-13-01"), ("start", "1714564800"),
                                         ("end", "2024-05-01T12:00:00+25:00"), ("start", "0001-01-01T00:00:00+01:00"),
                                         ("start", "'; DELETE FROM reading; --"), ("end", "")])
def test_bad_timestamp_is_400_naming_the_parameter(client, viewer_token, plant, name, value):
    response = readings(client, viewer_token, plant["p1"], **{name: value})
    assert response.status_code == 400
    message = response.json["error"]["message"]
    assert message.startswith(f"{name} must be an ISO 8601 timestamp")


def test_unencoded_plus_gets_a_hint(client, viewer_token, plant):
    response = client.get(f"/api/v1/points/{plant['p1']}/readings?start=2024-05-01T12:00:00+02:00",
                          headers=bearer(viewer_token))
    assert response.status_code == 400 and "%2B" in response.json["error"]["message"]


def test_start_after_end_is_400(client, viewer_token, plant):
    response = readings(client, viewer_token, plant["p1"], start="2024-05-02", end="2024-05-01")
    assert response.status_code == 400 and "start is after end" in response.json["error"]["message"]


def test_readings_pagination(client, viewer_token, plant):
    first = readings(client, viewer_token, plant["p1"], per_page=2).json
    second = readings(client, viewer_token, plant["p1"], per_page=2, page=2).json
    last = readings(client, viewer_token, plant["p1"], per_page=2, page=3).json
    assert (first["pages"], first["total"]) == (3, 5)
    assert [r["value"] for r in first["items"] + second["items"] + last["items"]] == [20.0, 21.0, 22.0, 23.0, 24.0]


def test_csv(client, viewer_token, plant):
    response = readings(client, viewer_token, plant["p1"], format="csv", start="2024-05-01T12:00:10Z", per_page=3)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["ts", "value", "text"]
    assert rows[1:] == [[(T0 + timedelta(seconds=10 * i)).isoformat(), f"{20.0 + i}", ""] for i in (1, 2, 3)]
    headers = response.headers
    pages = [headers[name] for name in ("X-Total-Count", "X-Pages", "X-Page", "X-Per-Page")]
    assert pages == ["4", "2", "1", "3"]
    text = readings(client, viewer_token, plant["p4"], format="csv")
    assert text.get_data(as_text=True).splitlines()[1] == f"{T0.isoformat()},,occupied"


def test_csv_errors_are_still_json(client, viewer_token, plant):
    response = readings(client, viewer_token, plant["p1"], format="xml")
    assert response.status_code == 400 and response.json["error"]["message"].startswith("format must be one of")
    assert readings(client, viewer_token, 424242, format="csv").json["error"]["code"] == "not_found"
