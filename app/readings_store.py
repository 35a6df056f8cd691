"""Writing readings and the points' last values: the one place that knows each database's dialect.

A redelivered message or a retried write may insert a reading that is already stored; the
(point_id, ts) primary key plus ``ON CONFLICT DO NOTHING`` makes that harmless on both
PostgreSQL and SQLite.

A collection writes one reading and one point update per polled point, thousands at a time, so
both go to the driver as few statements as possible: SQLAlchemy's per-row work (building a
multi-row VALUES clause, or the ORM's unit of work) cost more than the BACnet reads themselves.
Values still go through the columns' own SQLAlchemy bind processors (timestamps are stored
exactly as the ORM stores them); only the statement building is ours.

A row the database refuses fails its whole statement. The callers keep one device's rows from
costing the others theirs with savepoints (``db.session.begin_nested()``), which need the
transaction opened first on SQLite: :func:`open_write_transaction`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from psycopg2.extras import execute_values
from sqlalchemy import Column, Table
from sqlalchemy.engine import Connection

from app.extensions import db
from app.models import Point, Reading

#: Rows per statement. SQLite allows 32766 bound parameters per statement (executemany binds
#: one row at a time, so this only sizes PostgreSQL's multi-row VALUES); PostgreSQL gains little
#: from larger statements.
CHUNK = 2000

#: (point id, timestamp, numeric value, text value) of one reading.
ReadingRow = tuple[int, datetime, "float | None", "str | None"]
#: (point id, error text) of a point that could not be read.
PointErrorRow = tuple[int, str]


def _timestamp_processor(connection: Connection, column: Column) -> Callable[[datetime], object]:
    """The column's bind processing, memoised per distinct value: a collection's readings share
    one timestamp per device, so this runs a handful of times, not once per row."""
    # dialect_impl: the dialect's own type (SQLite's DATETIME formats the text it stores); the
    # generic type's processor would leave that to the driver, which formats differently.
    process = column.type.dialect_impl(connection.dialect).bind_processor(connection.dialect) or (lambda value: value)
    seen: dict[datetime, object] = {}

    def convert(value: datetime) -> object:
        converted = seen.get(value)
        if converted is None:
            converted = seen[value] = process(value)
        return converted

    return convert


def _names(connection: Connection, table: Table, *columns: str) -> tuple[str, ...]:
    preparer = connection.dialect.identifier_preparer
    return (preparer.format_table(table), *(preparer.quote(name) for name in columns))


def open_write_transaction() -> None:
    """Open the session's transaction in the database now, before any savepoint.

    PostgreSQL opens it at the first statement. Python's sqlite3 opens SQLite's only before an
    INSERT, UPDATE or DELETE: a SAVEPOINT coming first would itself be the outermost transaction,
    and its RELEASE would COMMIT there and then, splitting what must be one transaction (a
    collection's readings and its summary) into several. ``BEGIN IMMEDIATE`` takes SQLite's write
    lock at once (waiting up to the busy timeout), so a write never fails later on a lock upgrade.
    """
    connection = db.session.connection()
    if connection.dialect.name != "sqlite":
        return
    if not connection.connection.driver_connection.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def store_readings(rows: Iterable[ReadingRow]) -> int:
    """Insert readings, ignoring ones already stored; return how many were new.

    Runs in the caller's transaction (no commit here), so a job can write its readings and its
    bookkeeping atomically.
    """
    rows = list(rows)
    if not rows:
        return 0
    connection = db.session.connection()
    ts = _timestamp_processor(connection, Reading.__table__.c.ts)
    prepared = [(point_id, ts(stamp), value, text) for point_id, stamp, value, text in rows]
    table, point_id, stamp, value, text = _names(connection, Reading.__table__, "point_id", "ts", "value", "text")
    columns = f"{table} ({point_id}, {stamp}, {value}, {text})"
    inserted = 0
    if connection.dialect.name == "postgresql":
        with connection.connection.cursor() as cursor:
            for start in range(0, len(prepared), CHUNK):
                chunk = prepared[start:start + CHUNK]
                # One statement per chunk, so the cursor's rowcount is that statement's inserts.
                execute_values(cursor, f"INSERT INTO {columns} VALUES %s ON CONFLICT DO NOTHING", chunk,
                               page_size=len(chunk))
                inserted += max(cursor.rowcount, 0)
        return inserted
    # SQLite: executemany runs in the driver (C) and its rowcount sums the rows really inserted.
    result = connection.exec_driver_sql(f"INSERT INTO {columns} VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                                        prepared)
    return max(result.rowcount, 0)


def update_points(values: Sequence[ReadingRow], errors: Sequence[PointErrorRow]) -> None:
    """Record each point's last reading (and clear its error), or its read error.

    Runs in the caller's transaction, like :func:`store_readings`.
    """
    if not values and not errors:
        return
    connection = db.session.connection()
    ts = _timestamp_processor(connection, Point.__table__.c.last_read_at)
    table, id_, value, text, read_at, error = _names(
        connection, Point.__table__, "id", "last_value", "last_text", "last_read_at", "last_error")
    if connection.dialect.name == "postgresql":
        with connection.connection.cursor() as cursor:
            for start in range(0, len(values), CHUNK):
                chunk = [(point_id, number, label, ts(stamp))
                         for point_id, stamp, number, label in values[start:start + CHUNK]]
                # One UPDATE ... FROM VALUES per chunk: psycopg2's executemany is a round trip per row.
                execute_values(
                    cursor,
                    f"UPDATE {table} AS p SET {value} = v.value, {text} = v.text, {read_at} = v.ts, {error} = '' "
                    f"FROM (VALUES %s) AS v (id, value, text, ts) WHERE p.{id_} = v.id",
                    chunk, template="(%s, %s::double precision, %s::varchar, %s::timestamptz)",
                    page_size=len(chunk))
            if errors:
                execute_values(
                    cursor, f"UPDATE {table} AS p SET {error} = v.error FROM (VALUES %s) AS v (id, error) "
                    f"WHERE p.{id_} = v.id", list(errors), template="(%s, %s::text)", page_size=CHUNK)
        return
    if values:
        connection.exec_driver_sql(
            f"UPDATE {table} SET {value} = ?, {text} = ?, {read_at} = ?, {error} = '' WHERE {id_} = ?",
            [(number, label, ts(stamp), point_id) for point_id, stamp, number, label in values])
    if errors:
        connection.exec_driver_sql(f"UPDATE {table} SET {error} = ? WHERE {id_} = ?",
                                   [(message, point_id) for point_id, message in errors])
