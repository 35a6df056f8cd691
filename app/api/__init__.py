"""The REST API under /api/v1: bearer tokens, JSON in and out, JSON errors.

``init_app`` registers the blueprint, exempts it from CSRF (it authenticates with bearer tokens
only, never the session cookie: see app.api.auth) and installs the JSON error handling.
"""

from __future__ import annotations

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from app.api import devices, jobs, openapi, points, schedules, sites  # noqa: F401 - the modules register the endpoints
from app.api.auth import authenticate
from app.api.blueprint import bp
from app.api.errors import ApiError, api_error, ensure_json_error, http_error, reject_unrouted, unexpected_error
from app.extensions import csrf

__all__ = ["bp", "init_app", "ApiError"]


def _no_store(response: Response) -> Response:
    # Answers carry data a token was needed for: no shared cache may keep them.
    response.headers.setdefault("Cache-Control", "no-store")
    return response


bp.before_request(authenticate)
bp.after_request(ensure_json_error)
bp.after_request(_no_store)
bp.register_error_handler(ApiError, api_error)
bp.register_error_handler(HTTPException, http_error)
bp.register_error_handler(Exception, unexpected_error)


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)
    app.before_request(reject_unrouted)
