"""What the resource endpoints share: looking a row up by id, and turning values into JSON."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from app.api.errors import ApiError
from app.api.params import MAX_ID
from app.extensions import db


def get_or_404(model: type, ident: int, kind: str) -> Any:
    """The row of ``model`` with this id, or a 404 (also for ids no database column can hold)."""
    row = db.session.get(model, ident) if 1 <= ident <= MAX_ID else None
    if row is None:
        raise ApiError(404, f"no {kind} with id {ident}")
    return row


def iso(value: datetime | None) -> str | None:
    """A stored timestamp (always aware UTC) as ISO 8601, e.g. 2024-05-01T12:00:00+00:00."""
    return None if value is None else value.isoformat()


def number(value: float | None) -> float | None:
    """A float for JSON: NaN and infinities (which a device may report) have no JSON form: null."""
    return value if value is None or math.isfinite(value) else None
