"""The API blueprint object, in a module of its own so every endpoint module can import it."""

from __future__ import annotations

from flask import Blueprint

#: Where the API lives; a breaking change gets a new prefix (/api/v2), never a changed v1.
API_PREFIX = "/api/v1"

bp = Blueprint("api", __name__, url_prefix=API_PREFIX)
