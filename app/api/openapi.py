"""GET /openapi.json: the OpenAPI 3.1 description of this API.

Written by hand next to the endpoints, except the kwargs of each actor, which come from the
actor catalog's schemas so they can never disagree with what POST /jobs accepts. Object schemas
list every member as required and allow no others: tests/api/test_openapi.py validates real
answers against them, so a field added to an answer without adding it here fails a test.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from flask import Response, jsonify

from app.api.blueprint import API_PREFIX, bp
from app.api.pagination import DEFAULT_PER_PAGE, MAX_PAGE, MAX_PER_PAGE
from app.api.params import MAX_BODY_BYTES, MAX_ID
from app.models import DEVICE_STATUSES, JOB_STATUSES, SCHEDULE_ACTORS, TRIGGERS
from app.schedule_rules import MAX_INTERVAL_SECONDS, MAX_JITTER_SECONDS
from workers.catalog import CATALOG

#: Version of this API description (the API itself is v1; this moves when the document changes).
SPEC_VERSION = "1.0.0"
REF = "#/components/schemas/"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF + name}


def _nullable(type_name: str, **extra: Any) -> dict[str, Any]:
    return {"type": [type_name, "null"], **extra}


def _object(properties: dict[str, Any], description: str = "") -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, "required": list(properties),
                              "additionalProperties": False}
    if description:
        schema["description"] = description
    return schema


_STR = {"type": "string"}
_INT = {"type": "integer"}
_BOOL = {"type": "boolean"}
_ID = {"type": "integer", "minimum": 1}
_TIME = {"type": "string", "format": "date-time"}
_NULL_TIME = _nullable("string", format="date-time")


def _list_of(item: str, description: str) -> dict[str, Any]:
    return _object({
        "items": {"type": "array", "items": _ref(item)},
        "total": {"type": "integer", "minimum": 0, "description": "Items matching the filters, on all pages."},
        "page": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
        "per_page": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
        "pages": {"type": "integer", "minimum": 0, "description": "Number of pages (0 when nothing matches)."},
    }, description)


def _kwargs_schemas() -> dict[str, Any]:
    """One schema per actor's kwargs, from the catalog (pydantic emits JSON Schema 2020-12)."""
    schemas = {}
    for name, spec in sorted(CATALOG.items()):
        schema_name = f"Kwargs_{name}"
        schema = spec.schema.model_json_schema()
        # Nested definitions stay inside the schema; point their references there.
        text = json.dumps(schema).replace('"#/$defs/', f'"{REF}{schema_name}/$defs/')
        schemas[schema_name] = {**json.loads(text), "description": spec.description}
    return schemas


def _schemas() -> dict[str, Any]:
    error = _object({"code": {**_STR, "description": "Stable, machine-readable: bad_request, unauthorized, "
                                                     "forbidden, not_found, invalid_kwargs, enqueue_failed..."},
                     "message": {**_STR, "description": "What went wrong, for people."}})
    job_request = {
        "type": "object", "required": ["actor"], "additionalProperties": False,
        "properties": {"actor": {"type": "string", "enum": sorted(CATALOG)},
                       "kwargs": {"type": "object", "description": "The actor's arguments; see Kwargs_<actor>."}},
        # Which kwargs go with which actor.
        "oneOf": [{"properties": {"actor": {"const": name}, "kwargs": _ref(f"Kwargs_{name}")}}
                  for name in sorted(CATALOG)],
    }
    return {
        "Error": _object({"error": error}, "Every error under /api/v1 has this form."),
        "Site": _object({
            "id": _ID, "name": _STR, "description": _STR,
            "transport": {"type": "string", "description": "local, redis or http; empty: the global default."},
            "queue_name": _STR, "gateway_url": _STR,
            "discovery_targets": {"type": "array", "items": _STR},
            "writes_allowed": _BOOL, "write_priority_min": _INT, "write_priority_max": _INT,
            "poll_new_points": _BOOL,
            "follow_address_changes": {"type": "boolean", "description": "Discovery moves a known device that "
                                       "answers from a new address; false: it records an address conflict."},
            "created_at": _TIME,
        }),
        "Device": _object({
            "id": _ID, "site_id": _ID, "device_instance": _INT,
            "address": {"type": "string", "description": "IPv4[:port] or network:MAC."},
            "name": _STR, "vendor_id": _nullable("integer"), "vendor_name": _STR, "model_name": _STR,
            "firmware_revision": _STR, "application_software_version": _STR,
            "protocol_revision": _nullable("integer"), "max_apdu": _nullable("integer"), "segmentation": _STR,
            "status": {"type": "string", "enum": list(DEVICE_STATUSES)}, "last_seen": _NULL_TIME,
            "consecutive_failures": _INT, "next_retry_at": _NULL_TIME, "last_error": _STR,
            "polling_enabled": _BOOL, "created_at": _TIME,
            "conflict_address": _nullable("string", description="Another address that answered for this "
                                          "device's instance; the device stays at `address` until an admin "
                                          "accepts it (POST /devices/{id}/accept-address)."),
            "conflict_detail": {"type": "string", "description": "One line on the conflict, or on the last move."},
            "conflict_seen_at": _NULL_TIME,
        }),
        "Point": _object({
            "id": _ID, "device_id": _ID,
            "object_type": {"type": "string", "description": "e.g. analog-input"},
            "object_instance": _INT, "name": _STR, "description": _STR, "units": _STR, "writable": _BOOL,
            "value_type": _STR, "polling_enabled": _BOOL, "last_value": _nullable("number"),
            "last_text": _nullable("string"), "last_read_at": _NULL_TIME, "last_error": _STR,
        }),
        "Reading": _object({"ts": _TIME, "value": _nullable("number"), "text": _nullable("string")},
                           "value is null for non-numeric values (see text) and for NaN/infinity."),
        "Job": _object({
            "id": _ID, "message_id": _STR, "actor": _STR, "kwargs": {"type": "object"},
            "site_id": _nullable("integer"), "schedule_id": _nullable("integer"), "transport": _STR, "queue": _STR,
            "triggered_by": {"type": "string", "enum": list(TRIGGERS)}, "triggered_by_detail": _STR,
            "status": {"type": "string", "enum": list(JOB_STATUSES)}, "attempts": _INT,
            "enqueued_at": _TIME, "accepted_at": _NULL_TIME, "started_at": _NULL_TIME, "finished_at": _NULL_TIME,
            "duration_seconds": _nullable("number"), "summary": _nullable("object"), "error": _STR,
        }),
        "Schedule": _object({
            "id": _ID, "name": _STR, "kind": {"type": "string", "enum": list(SCHEDULE_ACTORS)}, "site_id": _ID,
            "device_ids": {"type": ["array", "null"], "items": _ID, "description": "null: the whole site."},
            "interval_seconds": _nullable("integer", minimum=1, maximum=MAX_INTERVAL_SECONDS),
            "cron": {"type": "string", "description": "Five fields in UTC (used when interval_seconds is null)."},
            "jitter_seconds": {"type": "integer", "minimum": 0, "maximum": MAX_JITTER_SECONDS},
            "enabled": _BOOL, "last_run_at": _NULL_TIME, "next_run_at": _NULL_TIME,
        }),
        "ScheduleInput": {
            "type": "object", "additionalProperties": False,
            "description": "POST needs name, kind and site_id; PATCH takes any subset. Exactly one of "
                           "interval_seconds and cron; an invalid cron is a 422 saying why.",
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 120},
                "kind": {"type": "string", "enum": list(SCHEDULE_ACTORS)}, "site_id": _ID,
                "device_ids": {"type": ["array", "null"], "items": _ID},
                "interval_seconds": _nullable("integer", minimum=1, maximum=MAX_INTERVAL_SECONDS),
                "cron": _nullable("string"), "jitter_seconds": {"type": "integer", "minimum": 0},
                "enabled": _BOOL,
            },
        },
        "ScheduleList": _list_of("Schedule", "Schedules by id."),
        "SiteList": _list_of("Site", "Sites by id."),
        "DeviceList": _list_of("Device", "Devices by id."),
        "PointList": _list_of("Point", "Points by id."),
        "JobList": _list_of("Job", "Jobs, newest first."),
        "ReadingList": {**_list_of("Reading", "Readings in time order."),
                        "properties": {"point_id": _ID, **_list_of("Reading", "")["properties"]},
                        "required": ["point_id", "items", "total", "page", "per_page", "pages"]},
        "JobRequest": job_request,
        "JobAccepted": _object({"job_id": _ID, "status": {"type": "string", "enum": list(JOB_STATUSES)}}),
        "JobEnqueueFailed": {
            "type": "object", "required": ["error"], "additionalProperties": False,
            "description": "The job was recorded but could not be sent; job_id names its (failed) ledger row.",
            "properties": {"job_id": _ID, "status": {"const": "failed"}, "error": error},
        },
        **_kwargs_schemas(),
    }


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}


RESPONSES = {
    "BadRequest": _error("Malformed JSON, a bad or unknown query parameter (the message names it)."),
    "Unauthorized": {**_error("Missing, invalid or revoked bearer token."),
                     "headers": {"WWW-Authenticate": {"schema": _STR}}},
    "Forbidden": _error("The token's user has the viewer role and the request would change something."),
    "NotFound": _error("No such resource."),
    "Error": _error("Any other error (405, 500...), in the same JSON form."),
}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _path_id(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}


PAGE = [
    _query("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
           "Page number; past the last page: no items."),
    _query("per_page", {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE, "default": DEFAULT_PER_PAGE},
           f"Items per page; above {MAX_PER_PAGE} is a 400 (not clamped)."),
]
_FILTER_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}


def _json(schema: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


def _write(summary: str, status: str, schema: str, description: str) -> dict[str, Any]:
    return {"summary": summary,
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("ScheduleInput")}}},
            "responses": {status: _json(schema, description),
                          **_errors("BadRequest", "Unauthorized", "Forbidden"),
                          "422": _error("The schedule is not valid (code invalid_schedule); the message names the "
                                        "field and the reason, e.g. a cron expression that does not parse.")}}


def _errors(*names: str) -> dict[str, Any]:
    codes = {"BadRequest": "400", "Unauthorized": "401", "Forbidden": "403", "NotFound": "404"}
    return {**{codes[name]: {"$ref": f"#/components/responses/{name}"} for name in names},
            "default": {"$ref": "#/components/responses/Error"}}


def _get(summary: str, schema: str, parameters: list[dict[str, Any]], *errors: str) -> dict[str, Any]:
    return {"get": {"summary": summary, "parameters": parameters,
                    "responses": {"200": _json(schema, "OK"), **_errors("BadRequest", "Unauthorized", *errors)}}}


def _conflict_decision(summary: str, description: str) -> dict[str, Any]:
    return {"post": {"summary": summary, "description": description, "parameters": [_path_id("device_id")],
                     "responses": {"200": _json("Device", "The device, decided"),
                                   **_errors("BadRequest", "Unauthorized", "Forbidden", "NotFound"),
                                   "409": _error("The device has no address conflict (code no_conflict).")}}}


def _paths() -> dict[str, Any]:
    readings = _get("Readings of a point, in time order (start inclusive, end exclusive)", "ReadingList", [
        _path_id("point_id"),
        _query("start", {"type": "string", "format": "date-time"}, "ISO 8601; without an offset: UTC."),
        _query("end", {"type": "string", "format": "date-time"}, "ISO 8601; without an offset: UTC."),
        _query("format", {"type": "string", "enum": ["json", "csv"], "default": "json"},
               "csv: columns ts,value,text; page information in X-Total-Count, X-Page, X-Per-Page, X-Pages."),
        *PAGE], "NotFound")
    readings["get"]["responses"]["200"]["content"]["text/csv"] = {"schema": {"type": "string"}}
    return {
        "/sites": _get("List sites", "SiteList", PAGE),
        "/sites/{site_id}": _get("One site", "Site", [_path_id("site_id")], "NotFound"),
        "/devices": _get("List devices", "DeviceList", [
            _query("site_id", _FILTER_ID, "Only this site's devices."),
            _query("status", {"type": "string", "enum": list(DEVICE_STATUSES)}, "Only devices in this state."),
            *PAGE]),
        "/devices/{device_id}": _get("One device", "Device", [_path_id("device_id")], "NotFound"),
        "/devices/{device_id}/accept-address": _conflict_decision(
            "Move the device to its conflict address (admin role)",
            "Collections and writes go to the new address from now on; what was learned about the device at "
            "the old one (max APDU, segmentation, health) is reset. The move is recorded in conflict_detail."),
        "/devices/{device_id}/dismiss-conflict": _conflict_decision(
            "Keep the device at its address and clear its conflict (admin role)",
            "A later discovery records a new conflict if the other address answers again."),
        "/points": _get("List points", "PointList", [
            _query("device_id", _FILTER_ID, "Only this device's points."),
            _query("polling", {"type": "boolean"}, "true: only polled points; false: only the others."),
            *PAGE]),
        "/points/{point_id}": _get("One point", "Point", [_path_id("point_id")], "NotFound"),
        "/points/{point_id}/readings": readings,
        "/jobs": {
            **_get("List jobs, newest first", "JobList", [
                _query("status", {"type": "string", "enum": list(JOB_STATUSES)}, "Only jobs in this state."),
                _query("actor", {"type": "string", "enum": sorted(CATALOG)}, "Only jobs of this actor."),
                *PAGE]),
            "post": {
                "summary": "Start a job (admin role)",
                "description": "Recorded in the job ledger with triggered_by=api and the token's user/name. "
                               "write_point's requested_by is always set to api:<user>/<token name>.",
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("JobRequest")}}},
                "responses": {
                    "202": {**_json("JobAccepted", "Queued"),
                            "headers": {"Location": {"schema": _STR, "description": "The job's URL."}}},
                    **_errors("BadRequest", "Unauthorized", "Forbidden"),
                    "413": _error(f"The body is larger than {MAX_BODY_BYTES} bytes."),
                    "415": _error("The body is not sent as application/json."),
                    "422": _error("Unknown actor (code unknown_actor), kwargs the actor does not accept "
                                  "(code invalid_kwargs), or a write_point value the point cannot take: "
                                  "not a finite number (NaN, inf, 1e999), or not of the point's type "
                                  "(code invalid_value); nothing was recorded."),
                    "503": {**_json("JobEnqueueFailed", "The job could not be handed to a worker (no worker in "
                                                        "this process, broker or gateway unreachable). It is "
                                                        "recorded as failed with the reason."),
                            "headers": {"Location": {"schema": _STR, "description": "The failed job's URL."}}},
                },
            },
        },
        "/jobs/{job_id}": _get("One job", "Job", [_path_id("job_id")], "NotFound"),
        "/schedules": {
            **_get("List schedules", "ScheduleList", [_query("site_id", _FILTER_ID, "Only this site's."), *PAGE]),
            "post": _write("Create a schedule (admin role)", "201", "Schedule", "Created"),
        },
        "/schedules/{schedule_id}": {
            **_get("One schedule", "Schedule", [_path_id("schedule_id")], "NotFound"),
            "patch": {**_write("Change a schedule (admin role)", "200", "Schedule", "Changed"),
                      "parameters": [_path_id("schedule_id")]},
            "delete": {"summary": "Delete a schedule (admin role)", "parameters": [_path_id("schedule_id")],
                       "responses": {"204": {"description": "Deleted"},
                                     **_errors("BadRequest", "Unauthorized", "Forbidden", "NotFound")}},
        },
        "/openapi.json": {"get": {"summary": "This document", "security": [],
                                  "responses": {"200": {"description": "OpenAPI 3.1",
                                                        "content": {"application/json": {"schema": {
                                                            "type": "object"}}}}}}},
    }


@cache
def build_spec() -> dict[str, Any]:
    """The document (built once per process: it depends only on code)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "bacnet-pipeline API", "version": SPEC_VERSION,
            "description": "Read sites, devices, points and readings; start and follow jobs. Authenticate with "
                           "'Authorization: Bearer <token>' (bacnet-pipeline create-token USER). Tokens act with "
                           "their user's role: viewer reads, admin also starts jobs. Unknown query parameters "
                           "are a 400. Timestamps are ISO 8601 in UTC.",
        },
        "servers": [{"url": API_PREFIX}],
        "security": [{"bearerAuth": []}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": _schemas(),
            "responses": RESPONSES,
        },
    }


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(build_spec())
