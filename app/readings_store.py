"""Writing readings: the one place that knows how each database ignores duplicates.

A redelivered message or a retried write may insert a reading that is already stored; the
(point_id, ts) primary key plus ``ON CONFLICT DO NOTHING`` makes that harmless on both
PostgreSQL and SQLite.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db
from app.models import Reading

#: Rows per INSERT statement. SQLite allows 32766 bound parameters; 4 columns x 2000 stays far
#: below, and PostgreSQL gains little from larger statements.
CHUNK = 2000

ReadingRow = tuple[int, datetime, "float | None", "str | None"]


def store_readings(rows: Iterable[ReadingRow]) -> int:
    """Insert readings, ignoring ones already stored; return how many were new.

    Runs in the caller's transaction (no commit here), so a job can write its readings and its
    bookkeeping atomically.
    """
    rows = list(rows)
    if not rows:
        return 0
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    inserted = 0
    for start in range(0, len(rows), CHUNK):
        chunk: Sequence[ReadingRow] = rows[start:start + CHUNK]
        statement = insert(Reading).values([
            {"point_id": point_id, "ts": ts, "value": value, "text": text}
            for point_id, ts, value, text in chunk
        ]).on_conflict_do_nothing(index_elements=["point_id", "ts"])
        result = db.session.execute(statement)
        inserted += max(result.rowcount or 0, 0)
    return inserted
