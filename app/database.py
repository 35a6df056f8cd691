"""Database engine setup that differs by dialect, and a reachability check."""

from __future__ import annotations

import sqlite3

from flask import Flask
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from app.extensions import db


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    # WAL lets the web read while the worker writes; NORMAL sync is safe with WAL.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def init_app(app: Flask) -> None:
    db.init_app(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        with app.app_context():
            event.listen(db.engine, "connect", _sqlite_pragmas)


def check_database(engine: Engine) -> str | None:
    """None when the database answers, else a one-line reason."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return None
    except Exception as error:  # any driver error means "not reachable" to the operator
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return f"database {engine.url.render_as_string(hide_password=True)} unreachable: {first_line}"
