"""Every error under /api/v1 is JSON: ``{"error": {"code": ..., "message": ...}}``.

Three layers make "every" true. Errors raised inside API views go through the blueprint's error
handlers. Requests under the prefix that match no route (404) or not with this method (405) never
reach the blueprint, so an app-level ``before_request`` answers them. And an ``after_request`` of
the blueprint turns any non-JSON error response into JSON, in case an app-level error handler
(say, an HTML 404 page of the admin) wins Flask's handler lookup over ours.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.http import HTTP_STATUS_CODES

from app.api.blueprint import API_PREFIX
from app.extensions import db

log = logging.getLogger(__name__)

#: Machine-readable error codes of the HTTP statuses the API answers with.
STATUS_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    413: "payload_too_large", 415: "unsupported_media_type", 422: "unprocessable", 500: "internal_error",
    503: "service_unavailable",
}


class ApiError(Exception):
    """An error to answer with: HTTP status, a stable code, a message for people.

    ``extra`` adds top-level members next to ``error`` (POST /jobs puts the failed job's id there).
    """

    def __init__(self, status: int, message: str, *, code: str | None = None, headers: dict[str, str] | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or code_for(status)
        self.message = message
        self.headers = headers or {}
        self.extra = extra or {}


def code_for(status: int) -> str:
    """The error code of an HTTP status: ours, else werkzeug's reason phrase in snake case."""
    if status in STATUS_CODES:
        return STATUS_CODES[status]
    return HTTP_STATUS_CODES.get(status, "error").lower().replace(" ", "_").replace("-", "_").replace("'", "")


def error_response(status: int, code: str, message: str, *, headers: dict[str, str] | None = None,
                   extra: dict[str, Any] | None = None) -> Response:
    response = jsonify({**(extra or {}), "error": {"code": code, "message": message}})
    response.status_code = status
    response.headers.update(headers or {})
    return response


def under_api(path: str) -> bool:
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


def _http_message(error: HTTPException) -> str:
    if error.code == 404:
        return f"no such resource: {request.path}"
    if isinstance(error, MethodNotAllowed):
        allowed = ", ".join(error.valid_methods or ())
        return f"method {request.method} is not allowed on {request.path}; allowed: {allowed or 'none'}"
    return (error.description or HTTP_STATUS_CODES.get(error.code or 500, "error")).strip()


def http_error(error: HTTPException) -> Response | HTTPException:
    """A werkzeug HTTP error as JSON (redirects and other non-errors pass through unchanged)."""
    if error.code is None or error.code < 400:
        return error
    # Keep Allow (405) and similar; drop werkzeug's HTML Content-Type.
    headers = {key: value for key, value in error.get_headers() if key.lower() != "content-type"}
    return error_response(error.code, code_for(error.code), _http_message(error), headers=headers)


def api_error(error: ApiError) -> Response:
    return error_response(error.status, error.code, error.message, headers=error.headers, extra=error.extra)


def unexpected_error(error: Exception) -> Response:
    """A bug or an outage: log it with its traceback, answer 500 without one."""
    log.exception("API %s %s failed", request.method, request.path)
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the database may be what failed; the answer must still go out
        log.exception("rollback after an API error failed")
    return error_response(500, "internal_error", "internal error; the server log has the details")


def reject_unrouted() -> Response | None:
    """App-level before_request: JSON 404/405 for /api/v1 paths that match no endpoint."""
    routing_error = request.routing_exception
    if routing_error is None or not under_api(request.path) or not isinstance(routing_error, HTTPException):
        return None
    answer = http_error(routing_error)
    return answer if isinstance(answer, Response) else None


def ensure_json_error(response: Response) -> Response:
    """Blueprint after_request: an error response that is not JSON becomes one."""
    if response.status_code < 400 or response.is_json:
        return response
    status = response.status_code
    allow = response.headers.get("Allow")
    answer = error_response(status, code_for(status), HTTP_STATUS_CODES.get(status, "error"),
                            headers={"Allow": allow} if allow else None)
    for name in ("WWW-Authenticate", "Retry-After"):
        if name in response.headers:
            answer.headers[name] = response.headers[name]
    return answer
