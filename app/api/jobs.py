"""POST /jobs (enqueue an actor), GET /jobs[?status=&actor=] and GET /jobs/<id>."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, url_for

from app.api.auth import current_caller
from app.api.blueprint import bp
from app.api.errors import ApiError
from app.api.pagination import PAGE_PARAMS, paginate
from app.api.params import MAX_ID, bad_request, choice_param, json_body, query_args
from app.api.resources import get_or_404, iso
from app.extensions import db
from app.models import JOB_STATUSES, JobRun, Point
from app.transport import EnqueueError, enqueue
from app.write_policy import WriteRefused, check_value
from workers.catalog import CATALOG, CatalogError, UnknownActor

#: Members a POST /jobs body may have.
JOB_REQUEST_FIELDS = ("actor", "kwargs")
#: The actor whose kwargs carry who asked (recorded in the write audit).
WRITE_ACTOR = "write_point"


def job_json(run: JobRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "message_id": run.message_id,
        "actor": run.actor,
        "kwargs": run.kwargs,
        "site_id": run.site_id,
        "schedule_id": run.schedule_id,
        "transport": run.transport,
        "queue": run.queue,
        "triggered_by": run.triggered_by,
        "triggered_by_detail": run.triggered_by_detail,
        "status": run.status,
        "attempts": run.attempts,
        "enqueued_at": iso(run.enqueued_at),
        "accepted_at": iso(run.accepted_at),
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "duration_seconds": run.duration_seconds,
        "summary": run.summary,
        "error": run.error,
    }


def _job_request() -> tuple[str, dict[str, Any]]:
    """actor and kwargs from the body; 400 when the body is not of that shape."""
    body = json_body()
    unknown = sorted(set(body) - set(JOB_REQUEST_FIELDS))
    if unknown:
        raise bad_request(f"unknown member {unknown[0]!r} in the body; a job request has: actor, kwargs")
    actor = body.get("actor")
    if not isinstance(actor, str) or not actor:
        raise bad_request("actor must be a non-empty string (an actor name, e.g. collect_readings)")
    kwargs = body.get("kwargs", {})
    if not isinstance(kwargs, dict):
        raise bad_request("kwargs must be a JSON object")
    return actor, kwargs


def _check_write_value(kwargs: dict[str, Any]) -> dict[str, Any]:
    """422 for a write value the point cannot take (NaN, infinities, 2 for a binary point...).

    Only when the point exists: a missing point is the actor's to report, like the policy checks.
    The kwargs come back with the value normalised as the actor will write it.
    """
    point_id = kwargs.get("point_id")
    if not isinstance(point_id, int) or isinstance(point_id, bool) or not 1 <= point_id <= MAX_ID:
        return kwargs
    point = db.session.get(Point, point_id)
    if point is None or "value" not in kwargs:
        return kwargs
    value = kwargs["value"]
    if not (value is None or isinstance(value, (int, float, str))):
        return kwargs  # not a value at all: the catalog's schema says so
    try:
        return {**kwargs, "value": check_value(point, value)}
    except WriteRefused as refusal:
        raise ApiError(422, f"value: {refusal}", code="invalid_value") from None


def _check_id_range(kwargs: dict[str, Any]) -> None:
    """422 for ids (``*_id``, ``*_ids``) no database row can have.

    The catalog's schemas only bound ids from below; a larger one would reach PostgreSQL as an
    out-of-range integer and fail as a database error (a 500) instead of a clear refusal.
    """
    for key, value in kwargs.items():
        if not key.endswith(("_id", "_ids")):
            continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, int) and not isinstance(item, bool) and item > MAX_ID:
                raise ApiError(422, f"{key}: no row has an id above {MAX_ID}, got {item}", code="invalid_kwargs")


@bp.post("/jobs")
def create_job() -> tuple[Response, int, dict[str, str]]:
    """202 with the queued job; 422 when the catalog refuses it; 503 when it cannot be sent.

    A failed send still created a job (its ledger row, status failed, with the reason): the 503
    body carries its ``job_id`` and ``status`` next to ``error``, and Location points at it.
    """
    query_args(())
    actor, kwargs = _job_request()
    _check_id_range(kwargs)
    caller = current_caller()
    if actor == WRITE_ACTOR:
        kwargs = _check_write_value(kwargs)
        # The audit must name the authenticated caller, whatever the body claims.
        kwargs = {**kwargs, "requested_by": f"api:{caller.label}"[:120]}
    try:
        run = enqueue(actor, kwargs, triggered_by="api", detail=caller.label)
    except UnknownActor as error:
        raise ApiError(422, str(error), code="unknown_actor") from None
    except CatalogError as error:
        raise ApiError(422, str(error), code="invalid_kwargs") from None
    except EnqueueError as error:
        if error.job_run_id is None:
            raise ApiError(503, str(error), code="enqueue_failed") from None
        location = url_for("api.get_job", job_id=error.job_run_id)
        raise ApiError(503, str(error), code="enqueue_failed", headers={"Location": location},
                       extra={"job_id": error.job_run_id, "status": "failed"}) from None
    return (jsonify({"job_id": run.id, "status": run.status}), 202,
            {"Location": url_for("api.get_job", job_id=run.id)})


@bp.get("/jobs")
def list_jobs() -> Response:
    """Newest first: the ledger is read for what just happened."""
    args = query_args(("status", "actor", *PAGE_PARAMS))
    statement = db.select(JobRun).order_by(JobRun.id.desc())
    status = choice_param(args, "status", JOB_STATUSES)
    if status is not None:
        statement = statement.where(JobRun.status == status)
    actor = choice_param(args, "actor", sorted(CATALOG))
    if actor is not None:
        statement = statement.where(JobRun.actor == actor)
    return jsonify(paginate(statement, args).as_json(job_json))


@bp.get("/jobs/<int:job_id>")
def get_job(job_id: int) -> Response:
    query_args(())
    return jsonify(job_json(get_or_404(JobRun, job_id, "job")))
