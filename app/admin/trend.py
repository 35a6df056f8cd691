"""A point's readings for the trend chart: a time window, thinned to what a chart can show."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from app.extensions import db
from app.models import Reading, utcnow

#: The windows the point page offers.
WINDOWS = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(days=7)}
#: Most samples sent to the browser; more are averaged into buckets (a week at 10 s is 60 480).
MAX_SAMPLES = 4000


def trend(point_id: int, window: str, now: datetime | None = None) -> dict:
    """``{"t": [epoch seconds], "v": [value or None], "start", "end", "window", "samples", "stored"}``."""
    if window not in WINDOWS:
        raise ValueError(f"window must be one of {', '.join(WINDOWS)}")
    now = now or utcnow()
    rows = db.session.execute(
        db.select(Reading.ts, Reading.value)
        .where(Reading.point_id == point_id, Reading.ts >= now - WINDOWS[window], Reading.ts <= now)
        .order_by(Reading.ts)
    ).all()
    times = [row.ts.timestamp() for row in rows]
    # Rows stored before the engine reported non-finite REALs as text may hold NaN/Infinity: they
    # are gaps in the chart (and would make the answer invalid JSON, and poison the averages).
    values = [row.value if row.value is not None and math.isfinite(row.value) else None for row in rows]
    stored = len(rows)
    if stored > MAX_SAMPLES:
        times, values = _thin(times, values, MAX_SAMPLES)
    return {"window": window, "start": (now - WINDOWS[window]).timestamp(), "end": now.timestamp(),
            "t": times, "v": values, "samples": len(times), "stored": stored}


def _thin(times: list[float], values: list[float | None], target: int) -> tuple[list[float], list[float | None]]:
    """Average consecutive samples into ``target`` buckets (time: bucket middle)."""
    size = -(-len(times) // target)
    out_t, out_v = [], []
    for start in range(0, len(times), size):
        chunk_t = times[start:start + size]
        chunk_v = [v for v in values[start:start + size] if v is not None]
        out_t.append(sum(chunk_t) / len(chunk_t))
        out_v.append(sum(chunk_v) / len(chunk_v) if chunk_v else None)
    return out_t, out_v
