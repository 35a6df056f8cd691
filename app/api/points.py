"""GET /points[?device_id=&polling=], GET /points/<id> and its readings (JSON or CSV)."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response, jsonify
from sqlalchemy.orm import lazyload

from app.api.blueprint import bp
from app.api.errors import ApiError
from app.api.pagination import PAGE_PARAMS, Page, paginate
from app.api.params import bool_param, choice_param, int_param, query_args, time_param
from app.api.resources import get_or_404, iso, number
from app.csv_safety import safe_row
from app.extensions import db
from app.models import Point, Reading

#: Answer formats of the readings endpoint.
READING_FORMATS = ("json", "csv")


def point_json(point: Point) -> dict[str, Any]:
    return {
        "id": point.id,
        "device_id": point.device_id,
        "object_type": point.object_type,
        "object_instance": point.object_instance,
        "name": point.name,
        "description": point.description,
        "units": point.units,
        "writable": point.writable,
        "value_type": point.value_type,
        "polling_enabled": point.polling_enabled,
        "last_value": number(point.last_value),
        "last_text": point.last_text,
        "last_read_at": iso(point.last_read_at),
        "last_error": point.last_error,
    }


def reading_json(reading: Reading) -> dict[str, Any]:
    return {"ts": iso(reading.ts), "value": number(reading.value), "text": reading.text}


@bp.get("/points")
def list_points() -> Response:
    args = query_args(("device_id", "polling", *PAGE_PARAMS))
    statement = db.select(Point).order_by(Point.id)
    device_id = int_param(args, "device_id")
    if device_id is not None:
        statement = statement.where(Point.device_id == device_id)
    polling = bool_param(args, "polling")
    if polling is not None:
        statement = statement.where(Point.polling_enabled.is_(polling))
    return jsonify(paginate(statement, args).as_json(point_json))


@bp.get("/points/<int:point_id>")
def get_point(point_id: int) -> Response:
    query_args(())
    return jsonify(point_json(get_or_404(Point, point_id, "point")))


@bp.get("/points/<int:point_id>/readings")
def list_readings(point_id: int) -> Response:
    """Readings of a point in time order, ``start`` inclusive, ``end`` exclusive (both optional)."""
    args = query_args(("start", "end", "format", *PAGE_PARAMS))
    start, end = time_param(args, "start"), time_param(args, "end")
    answer_format = choice_param(args, "format", READING_FORMATS) or "json"
    if start is not None and end is not None and start > end:
        raise ApiError(400, "start is after end")
    point = get_or_404(Point, point_id, "point")
    # Only the columns: Reading.point is lazy="joined", which would join the point into every row.
    statement = (db.select(Reading).options(lazyload(Reading.point))
                 .where(Reading.point_id == point.id).order_by(Reading.ts))
    if start is not None:
        statement = statement.where(Reading.ts >= start)
    if end is not None:
        statement = statement.where(Reading.ts < end)
    page = paginate(statement, args)
    if answer_format == "csv":
        return _csv(point, page)
    return jsonify({"point_id": point.id, **page.as_json(reading_json)})


def _csv(point: Point, page: Page) -> Response:
    """The page as CSV (header ts,value,text); the page information travels in X-* headers.

    Lines end in CRLF as RFC 4180 has it: the csv module then quotes any cell holding a CR or LF
    (with a bare LF terminator a CR inside a text cell went out unquoted, and started a new row
    in a spreadsheet).
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(("ts", "value", "text"))
    for reading in page.items:
        # Text values come from devices: neutralised against spreadsheet formulas (app.csv_safety);
        # numbers stay numbers, non-finite ones are empty cells (as JSON writes them null).
        writer.writerow(safe_row((iso(reading.ts), number(reading.value), reading.text)))
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers.update(page.headers())
    response.headers["Content-Disposition"] = f'inline; filename="point-{point.id}-readings.csv"'
    return response
