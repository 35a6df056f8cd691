"""Schedules: GET /schedules[?site_id=], GET /schedules/<id>, and (admin) POST, PATCH, DELETE.

Cron expressions and intervals are checked with the same rules as the admin form
(app.schedule_rules): an invalid one is a 422 whose message says what is wrong, e.g.
``cron '61 * * * *': Error validating expression '61': ...``. The running scheduler applies
changes within a few seconds.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, url_for

from app.api.blueprint import bp
from app.api.errors import ApiError
from app.api.pagination import PAGE_PARAMS, paginate
from app.api.params import MAX_ID, bad_request, int_param, json_body, query_args
from app.api.resources import get_or_404, iso
from app.extensions import db
from app.models import SCHEDULE_ACTORS, Device, Schedule, Site
from app.schedule_rules import schedule_problem

#: Members a schedule body may have, with the JSON types each accepts.
FIELDS: dict[str, tuple[type, ...]] = {
    "name": (str,), "kind": (str,), "site_id": (int,), "device_ids": (list, type(None)),
    "interval_seconds": (int, type(None)), "cron": (str, type(None)), "jitter_seconds": (int,), "enabled": (bool,),
}
#: Longest schedule name (the column's size).
MAX_NAME = 120


def schedule_json(schedule: Schedule) -> dict[str, Any]:
    return {
        "id": schedule.id, "name": schedule.name, "kind": schedule.kind, "site_id": schedule.site_id,
        "device_ids": schedule.device_ids, "interval_seconds": schedule.interval_seconds, "cron": schedule.cron,
        "jitter_seconds": schedule.jitter_seconds, "enabled": schedule.enabled,
        "last_run_at": iso(schedule.last_run_at), "next_run_at": iso(schedule.next_run_at),
    }


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(422, f"{field}: {message}", code="invalid_schedule")


def _fields(body: dict[str, Any]) -> dict[str, Any]:
    """The body's members, type-checked (400 for the wrong JSON type)."""
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise bad_request(f"unknown member {unknown[0]!r}; a schedule has: {', '.join(FIELDS)}")
    for name, value in body.items():
        allowed = FIELDS[name]
        # bool is an int in Python, and must not pass for a number here (nor a number for a bool).
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            raise bad_request(f"{name} has the wrong type")
    return body


def _apply(schedule: Schedule, fields: dict[str, Any]) -> None:
    """Set the fields on the schedule and check the result as a whole (422 with the reason)."""
    for name, value in fields.items():
        setattr(schedule, name, value.strip() if isinstance(value, str) else value)
    if schedule.kind not in SCHEDULE_ACTORS:
        raise _invalid("kind", f"must be one of {', '.join(SCHEDULE_ACTORS)}")
    if not 0 < len(schedule.name or "") <= MAX_NAME:
        raise _invalid("name", f"must be 1..{MAX_NAME} characters")
    if not 1 <= (schedule.site_id or 0) <= MAX_ID or db.session.get(Site, schedule.site_id) is None:
        raise _invalid("site_id", f"site {schedule.site_id} does not exist")
    if schedule.device_ids is not None:
        ids = schedule.device_ids
        well_formed = all(isinstance(i, int) and not isinstance(i, bool) and 1 <= i <= MAX_ID for i in ids)
        if not ids or len(ids) > 10_000 or not well_formed:
            raise _invalid("device_ids", "must be a non-empty list of device ids, or null for the whole site")
        found = set(db.session.execute(db.select(Device.id).where(
            Device.id.in_(ids), Device.site_id == schedule.site_id)).scalars())
        missing = sorted(set(ids) - found)
        if missing:
            raise _invalid("device_ids", f"{missing[:10]} are not devices of site {schedule.site_id}")
    schedule.cron = schedule.cron or ""
    problem = schedule_problem(schedule.interval_seconds, schedule.cron, schedule.jitter_seconds)
    if problem is not None:
        raise _invalid(*problem)


@bp.get("/schedules")
def list_schedules() -> Response:
    args = query_args(("site_id", *PAGE_PARAMS))
    statement = db.select(Schedule).order_by(Schedule.id)
    site_id = int_param(args, "site_id")
    if site_id is not None:
        statement = statement.where(Schedule.site_id == site_id)
    return jsonify(paginate(statement, args).as_json(schedule_json))


@bp.get("/schedules/<int:schedule_id>")
def get_schedule(schedule_id: int) -> Response:
    query_args(())
    return jsonify(schedule_json(get_or_404(Schedule, schedule_id, "schedule")))


@bp.post("/schedules")
def create_schedule() -> tuple[Response, int, dict[str, str]]:
    query_args(())
    fields = _fields(json_body())
    for required in ("name", "kind", "site_id"):
        if required not in fields:
            raise _invalid(required, "is required")
    schedule = Schedule(jitter_seconds=0, enabled=True, cron="")
    _apply(schedule, fields)
    db.session.add(schedule)
    db.session.commit()
    return (jsonify(schedule_json(schedule)), 201,
            {"Location": url_for("api.get_schedule", schedule_id=schedule.id)})


@bp.patch("/schedules/<int:schedule_id>")
def update_schedule(schedule_id: int) -> Response:
    query_args(())
    schedule = get_or_404(Schedule, schedule_id, "schedule")
    fields = _fields(json_body())
    try:
        _apply(schedule, fields)
    except ApiError:
        db.session.rollback()
        raise
    db.session.commit()
    return jsonify(schedule_json(schedule))


@bp.delete("/schedules/<int:schedule_id>")
def delete_schedule(schedule_id: int) -> tuple[str, int]:
    query_args(())
    db.session.delete(get_or_404(Schedule, schedule_id, "schedule"))
    db.session.commit()
    return "", 204
