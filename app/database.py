"""Database engine setup that differs by dialect, and a reachability check."""

from __future__ import annotations

import os
import sqlite3

from flask import Flask
from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url

from app.config import SQLITE_FILE_MODE
from app.error_text import message_line
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


def create_private_sqlite_file(url: str) -> None:
    """Create the SQLite database file of ``url`` empty and owner-only (0600) if it does not exist.

    SQLite would create it on first connect with the umask's mode (usually 0644: readable by every
    local user, readings, users' password hashes and token hashes included). SQLite gives its
    -wal and -shm files the database file's mode, so they follow. An empty file is a valid empty
    database. An existing file is left alone.
    """
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    try:
        fd = os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SQLITE_FILE_MODE)
    except OSError:  # it exists (fine), or its folder does not (SQLite will say so when it connects)
        return
    os.close(fd)
    os.chmod(database, SQLITE_FILE_MODE)  # os.open's mode is cut by the umask; 0600 only ever narrows


def init_app(app: Flask) -> None:
    db.init_app(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        create_private_sqlite_file(app.config["SQLALCHEMY_DATABASE_URI"])
        with app.app_context():
            event.listen(db.engine, "connect", _sqlite_pragmas)


def check_database(engine: Engine) -> str | None:
    """None when the database answers, else a one-line reason."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return None
    except Exception as error:  # any driver error means "not reachable" to the operator
        return f"database {engine.url.render_as_string(hide_password=True)} unreachable: {message_line(error)}"
