"""The gateway's HTTP face: ``POST /enqueue``, ``GET /status`` (both signed), ``GET /healthz`` (open).

Status codes are the protocol (DESIGN.md): 202 accepted; 400 malformed (not JSON, or nested deeper
than app.json_safety.MAX_JSON_DEPTH); 401 bad, missing, stale or malformed signature headers; 404
unknown actor; 409 replayed message id; 413 body over 64 KiB (refused by the server itself before
any of it is buffered: ``app.cli.http`` caps waitress at the app's MAX_CONTENT_LENGTH); 422 kwargs
fail the catalog schema or name a site that does not exist. Authentication comes before parsing:
an unsigned body is never even decoded. Nothing runs for a rejected request.
"""

from __future__ import annotations

import json
import logging
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import dramatiq
from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from app.database import check_database
from app.extensions import db
from app.json_safety import FiniteJSONProvider, TooDeep, check_depth
from app.models import JobRun
from workers.catalog import InvalidKwargs, UnknownActor, get_spec, validate_kwargs
from workers.gateway.ledger import GatewayIdentity, Replayed, UnknownSite, accept, fail
from workers.signing import SignatureError, verify

log = logging.getLogger(__name__)

#: Largest request body the gateway reads (bytes); larger ones get 413 unread.
MAX_BODY = 64 * 1024
#: Longest message id accepted (the job_run column is 64 characters).
MAX_MESSAGE_ID = 64


@dataclass
class GatewayState:
    """What the HTTP handlers need from the running gateway."""

    core: Flask
    secret: str
    identity: GatewayIdentity
    broker: dramatiq.Broker
    bind: str
    version: str
    queue_depth: Callable[[], int]
    started: float = field(default_factory=time.time)
    #: False while stopping: new work is refused with 503 while running jobs finish.
    accepting: bool = True


def _error(status: int, code: str, message: str) -> tuple[Response, int]:
    return jsonify({"error": {"code": code, "message": message}}), status


def _parse(body: bytes) -> tuple[str, str, dict, int | None]:
    """The four fields of an enqueue body; ValueError with the reason otherwise."""
    try:
        # Depth first: a few KiB of "[[[[..." would otherwise end in RecursionError (a 500).
        check_depth(body)
        data = json.loads(body, parse_constant=_reject_constant)
    except TooDeep as error:
        raise ValueError(f"body is not acceptable JSON: {error}") from None
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError too
        raise ValueError("body is not JSON") from None
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    message_id, actor, kwargs, job_id = (data.get(k) for k in ("message_id", "actor", "kwargs", "job_id"))
    if not isinstance(message_id, str) or not 1 <= len(message_id) <= MAX_MESSAGE_ID:
        raise ValueError(f"message_id must be a string of 1..{MAX_MESSAGE_ID} characters")
    if not isinstance(actor, str) or not actor:
        raise ValueError("actor must be a non-empty string")
    if not isinstance(kwargs, dict):
        raise ValueError("kwargs must be a JSON object")
    if job_id is not None and (not isinstance(job_id, int) or isinstance(job_id, bool)):
        raise ValueError("job_id must be an integer or null")
    extra = set(data) - {"message_id", "actor", "kwargs", "job_id"}
    if extra:
        raise ValueError(f"unexpected fields: {', '.join(sorted(extra))}")
    return message_id, actor, kwargs, job_id


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def create_gateway_app(state: GatewayState) -> Flask:
    gateway = Flask("bacnet_pipeline_gateway")
    gateway.json = FiniteJSONProvider(gateway)
    # Also the server's cap (app.cli.http): a larger body is refused by waitress before it is read.
    gateway.config["MAX_CONTENT_LENGTH"] = MAX_BODY

    def authenticate(body: bytes) -> tuple[Response, int] | None:
        try:
            verify(state.secret, request.headers.get("X-Timestamp"), request.headers.get("X-Signature"), body)
        except SignatureError as error:
            log.warning("rejected %s %s from %s: %s", request.method, request.path, request.remote_addr, error)
            return _error(401, "unauthorized", str(error))
        return None

    @gateway.post("/enqueue")
    def enqueue():
        if (request.content_length or 0) > MAX_BODY:
            return _error(413, "too_large", f"body over {MAX_BODY} bytes")
        body = request.get_data(cache=False)
        denied = authenticate(body)
        if denied:
            return denied
        if not state.accepting:
            return _error(503, "stopping", "the gateway is stopping; send again shortly")
        try:
            message_id, actor, kwargs, _job_id = _parse(body)
        except ValueError as error:
            return _error(400, "bad_request", str(error))
        try:
            spec = get_spec(actor)
            kwargs = validate_kwargs(actor, kwargs)
        except UnknownActor as error:
            return _error(404, "unknown_actor", str(error))
        except InvalidKwargs as error:
            return _error(422, "invalid_kwargs", str(error))
        with state.core.app_context():
            try:
                accept(state.identity, message_id=message_id, actor=actor, kwargs=kwargs, queue=spec.queue)
            except Replayed as error:
                return _error(409, "replayed", str(error))
            except UnknownSite as error:
                return _error(422, "invalid_kwargs", str(error))
            except OperationalError:
                db.session.rollback()
                return _error(503, "database_unavailable", "the gateway cannot reach its database")
            try:
                state.broker.enqueue(dramatiq.Message(
                    queue_name=spec.queue, actor_name=actor, args=(), kwargs=kwargs, options={},
                    message_id=message_id, message_timestamp=int(time.time() * 1000)))
            except Exception as error:  # broker outage: the job must not look queued
                fail(message_id, f"gateway could not queue the job: {error}")
                return _error(503, "queue_unavailable", "the gateway could not queue the job")
        log.info("accepted %s %s", actor, message_id)
        return jsonify({"message_id": message_id, "status": "accepted"}), 202

    @gateway.get("/status")
    def status():
        denied = authenticate(request.get_data(cache=False))
        if denied:
            return denied
        with state.core.app_context():
            running = db.session.scalar(db.select(db.func.count()).select_from(JobRun).where(
                JobRun.accepted_by == state.identity.tag, JobRun.status == "running"))
            last = db.session.execute(
                db.select(JobRun.actor, JobRun.status, JobRun.finished_at)
                .where(JobRun.accepted_by.like(f"{state.identity.name}/%"), JobRun.finished_at.is_not(None))
                .order_by(JobRun.finished_at.desc()).limit(1)).first()
        return jsonify({
            "version": state.version,
            "platform": f"{platform.system()} {platform.release()} / Python {platform.python_version()}",
            "bacnet_bind_address": state.bind,
            "queue_depth": state.queue_depth(),
            "jobs_running": running,
            "last_job_finished": None if last is None else {
                "actor": last.actor, "status": last.status, "finished_at": last.finished_at.isoformat()},
            "uptime_seconds": round(time.time() - state.started, 1),
            "accepting": state.accepting,
        })

    @gateway.get("/healthz")
    def healthz():
        # Open to anyone: says only whether the gateway can work, nothing about its setup.
        with state.core.app_context():
            ok = state.accepting and check_database(db.engine) is None
        return jsonify({"status": "ok" if ok else "not ok"}), 200 if ok else 503

    @gateway.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        return _error(error.code or 500, error.name.lower().replace(" ", "_"), error.description or error.name)

    return gateway
