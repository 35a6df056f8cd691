"""Only values a point can take are ever commanded: finite numbers (never NaN or an infinity,
however spelled) and the point's own type — refused by the admin (a form error), the API (422)
and the write actor (an audited refusal), before anything is sent (app/write_policy.py)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from app.extensions import db
from app.models import JobRun, Point, WriteAudit
from app.transport import LOCAL_BROKER_KEY
from app.write_policy import REAL_MAX, WriteRefused, check_value
from tests.api.conftest import bearer, make_token
from tests.helpers import add_site_and_device
from workers.actors.common import JobError
from workers.actors.write import write_point
from workers.broker import make_broker
from workers.catalog import InvalidKwargs, validate_kwargs

#: Every spelling of "not a finite number" the issue names, and a few more.
NON_FINITE_TEXT = ["1e999", "-1e999", "nan", "NaN", "inf", "-inf", "Infinity", "-Infinity", " inf ", "+nan"]
NON_FINITE_NUMBERS = [float("inf"), float("-inf"), float("nan")]


def point_of(object_type: str, name: str = "P") -> Point:
    return Point(object_type=object_type, object_instance=1, name=name)


@pytest.mark.parametrize("value", [*NON_FINITE_TEXT, *NON_FINITE_NUMBERS])
@pytest.mark.parametrize("object_type", ["analog-value", "analog-output", "large-analog-value", "integer-value",
                                         "positive-integer-value", "multi-state-value", "binary-output"])
def test_non_finite_values_are_refused_for_every_type(object_type, value):
    with pytest.raises(WriteRefused):
        check_value(point_of(object_type), value)


@pytest.mark.parametrize("object_type, value, expected", [
    ("analog-value", "21.5", 21.5), ("analog-value", 21.5, 21.5), ("analog-value", " -3 ", -3.0),
    ("analog-value", REAL_MAX, REAL_MAX), ("large-analog-value", 1e300, 1e300),
    ("binary-output", "ACTIVE", "active"), ("binary-output", "off", "inactive"), ("binary-output", 1.0, "active"),
    ("binary-output", "0", "inactive"), ("binary-value", 0, "inactive"),
    ("multi-state-value", "3", 3.0), ("multi-state-output", 2.0, 2.0),
    ("integer-value", "-5", -5.0), ("positive-integer-value", 0, 0.0),
    ("characterstring-value", "nan", "nan"), ("characterstring-value", "=1+1", "=1+1"),
    ("analog-value", None, None), ("binary-output", None, None),  # relinquish
])
def test_values_a_point_can_take(object_type, value, expected):
    assert check_value(point_of(object_type), value) == expected


@pytest.mark.parametrize("object_type, value, fragment", [
    ("analog-value", "1e39", "too large"), ("analog-output", -1e39, "too large"),
    ("analog-value", "twenty", "is not a number"), ("analog-value", "", "is not a number"),
    ("analog-value", True, "is not a number"),
    ("binary-output", 2, "not a value of binary point"), ("binary-output", "maybe", "not a value of binary point"),
    ("binary-output", 0.5, "not a value of binary point"),
    ("multi-state-value", 0, "state number"), ("multi-state-value", 1.5, "state number"),
    ("multi-state-value", "-1", "state number"), ("multi-state-value", 2**32, "state number"),
    ("integer-value", 2**31, "whole number"), ("positive-integer-value", -1, "whole number"),
    ("characterstring-value", 42.0, "takes text"), ("characterstring-value", "x" * 256, "at most 255"),
])
def test_values_a_point_cannot_take(object_type, value, fragment):
    with pytest.raises(WriteRefused, match=fragment):
        check_value(point_of(object_type), value)


def test_the_catalog_refuses_non_finite_numbers():
    for value in NON_FINITE_NUMBERS:
        with pytest.raises(InvalidKwargs, match="must be a finite number"):
            validate_kwargs("write_point", {"site_id": 1, "point_id": 1, "priority": 10, "value": value})


def _writable_points(app) -> dict[str, int]:
    """A site that allows writes, with a writable analog, binary and multi-state point."""
    with app.app_context():
        device = add_site_and_device()
        device.site.writes_allowed = True
        ids = {}
        for index, object_type in enumerate(("analog-value", "binary-value", "multi-state-value")):
            point = Point(device_id=device.id, object_type=object_type, object_instance=index + 1,
                          name=object_type, writable=True)
            db.session.add(point)
            db.session.flush()
            ids[object_type] = point.id
        ids["site"] = device.site_id
        db.session.commit()
        return ids


def _audits(app) -> list[tuple[str | None, str, str]]:
    with app.app_context():
        return [(a.value, a.result, a.error) for a in db.session.execute(db.select(WriteAudit)).scalars()]


def _jobs(app) -> list[JobRun]:
    with app.app_context():
        runs = list(db.session.execute(db.select(JobRun)).scalars())
        db.session.expunge_all()
        return runs


def test_admin_refuses_non_finite_values_with_a_form_error(app, admin_client):
    ids = _writable_points(app)
    values = [*NON_FINITE_TEXT, "1e39"]
    for value in values:
        response = admin_client.post(f"/admin/point/write/?id={ids['analog-value']}", follow_redirects=True,
                                     data={"value": value, "priority": "10", "relinquish": "0"})
        assert response.status_code == 200
        assert "Write refused:" in response.get_data(as_text=True), value
    assert _jobs(app) == []  # nothing was sent to a worker
    audits = _audits(app)
    assert [(audited, result) for audited, result, _ in audits] == [(value.strip(), "refused") for value in values]
    assert all("not a finite number" in error or "too large" in error for _, _, error in audits)


def test_admin_checks_the_points_type(app, admin_client):
    ids = _writable_points(app)
    app.extensions[LOCAL_BROKER_KEY] = make_broker("")
    refused = admin_client.post(f"/admin/point/write/?id={ids['binary-value']}",
                                data={"value": "2", "priority": "10", "relinquish": "0"}, follow_redirects=True)
    assert "not a value of binary point" in refused.get_data(as_text=True)
    accepted = admin_client.post(f"/admin/point/write/?id={ids['binary-value']}",
                                 data={"value": "On", "priority": "10", "relinquish": "0"})
    assert accepted.status_code == 302
    [run] = _jobs(app)
    assert run.actor == "write_point" and run.kwargs["value"] == "active"


def test_api_answers_422_to_non_finite_values(app, client):
    ids = _writable_points(app)
    app.extensions[LOCAL_BROKER_KEY] = make_broker("")
    headers = bearer(make_token(app))
    for value in [*NON_FINITE_TEXT, "1e39"]:
        response = client.post("/api/v1/jobs", headers=headers, json={
            "actor": "write_point", "kwargs": {"site_id": ids["site"], "point_id": ids["analog-value"],
                                               "priority": 10, "value": value}})
        assert response.status_code == 422, (value, response.json)
        assert response.json["error"]["code"] == "invalid_value"
        assert response.json["error"]["message"].startswith("value: ")
    assert _jobs(app) == []


def test_api_answers_422_to_json_numbers_that_overflow(app, client):
    ids = _writable_points(app)
    headers = bearer(make_token(app))
    for raw in (b"1e999", b"-1e999", b"1E400"):
        body = (b'{"actor": "write_point", "kwargs": {"site_id": %d, "point_id": %d, "priority": 10, "value": %s}}'
                % (ids["site"], ids["analog-value"], raw))
        response = client.post("/api/v1/jobs", data=body, content_type="application/json", headers=headers)
        assert response.status_code == 422 and "finite" in response.json["error"]["message"], raw
    assert _jobs(app) == []


def test_api_checks_the_points_type_and_normalises(app, client):
    ids = _writable_points(app)
    app.extensions[LOCAL_BROKER_KEY] = make_broker("")
    headers = bearer(make_token(app))

    def write(point: str, value):
        return client.post("/api/v1/jobs", headers=headers, json={"actor": "write_point", "kwargs": {
            "site_id": ids["site"], "point_id": ids[point], "priority": 10, "value": value}})

    assert write("multi-state-value", 0).status_code == 422
    assert write("binary-value", "maybe").status_code == 422
    assert write("multi-state-value", "2").status_code == 202
    assert write("analog-value", 21.5).status_code == 202
    assert write("analog-value", None).status_code == 202  # relinquish
    assert [run.kwargs.get("value") for run in _jobs(app)] == [2.0, 21.5, None]


class _NoEngine:
    def write(self, *args, **kwargs):
        raise AssertionError("a refused value must never reach the device")


def test_the_actor_refuses_and_audits(app):
    """A message from anywhere (the gateway, a script, an old queue) is checked again by the actor."""
    ids = _writable_points(app)
    context = SimpleNamespace(app=app, engine=_NoEngine())
    with app.app_context():
        for value in NON_FINITE_TEXT:
            with pytest.raises(JobError, match="write refused: .*finite"):
                write_point(context, site_id=ids["site"], point_id=ids["analog-value"], priority=10, value=value,
                            requested_by="gateway-script")
    audits = _audits(app)
    assert [(audited, result) for audited, result, _ in audits] == [(value, "refused") for value in NON_FINITE_TEXT]
    assert all("is not a finite number" in error for _, _, error in audits)


def test_the_actor_refuses_a_non_finite_float_that_bypassed_the_catalog(app):
    ids = _writable_points(app)
    context = SimpleNamespace(app=app, engine=_NoEngine())
    with app.app_context():
        with pytest.raises(JobError, match="write refused"):
            write_point(context, site_id=ids["site"], point_id=ids["analog-value"], priority=10, value=math.inf)
    assert _audits(app)[0][1] == "refused"
