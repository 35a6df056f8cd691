"""Database work that survives a short database outage (a PostgreSQL restart, a failover).

A worker holds readings it has just read from the devices; losing them because the database
restarted for two seconds would turn a blip into a missed cycle. The work is a function that
does its statements and commits: on a connection error it is rolled back and run again, with a
growing pause, until it succeeds or the time bound runs out (then the error goes to the caller,
which fails the job with it). The function must be safe to run again after a rollback: it redoes
everything from plain data (readings are re-inserted with the same keys, so even a commit whose
outcome was lost with the connection cannot store a reading twice).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from app.error_text import message_line
from app.extensions import db

log = logging.getLogger(__name__)

T = TypeVar("T")

#: How long (s) work is retried while the database is unreachable. A PostgreSQL restart takes a
#: few seconds; a longer outage fails the job with the reason (the next slot tries again) rather
#: than holding a worker thread, and the collection's slot, hostage.
RETRY_SECONDS = 30.0
#: First pause (s) between two attempts; doubled after each, up to MAX_PAUSE.
FIRST_PAUSE = 0.25
#: Longest pause (s) between two attempts.
MAX_PAUSE = 4.0


def is_connection_error(error: BaseException) -> bool:
    """True for errors that mean "the database is away or busy", not "this statement is wrong"."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, OperationalError):
        if isinstance(error.orig, sqlite3.OperationalError):
            # SQLite raises OperationalError for "no such table" too: only a busy file is transient.
            return any(word in str(error.orig) for word in ("locked", "busy"))
        # psycopg2: connection refused or lost, server shutting down, deadlock, serialization.
        return True
    # psycopg2: "connection already closed" when a pooled connection died under us.
    return isinstance(error, InterfaceError)


def _rollback() -> None:
    try:
        db.session.rollback()
    except Exception:  # the connection is already gone; the session is reset either way
        log.debug("rollback after a connection error failed", exc_info=True)


def with_db_retry(work: Callable[[], T], *, what: str, seconds: float = RETRY_SECONDS) -> T:
    """Run ``work`` (which commits); on a connection error roll back and run it again.

    Gives up after ``seconds`` and re-raises the last error. Other errors are not retried.
    """
    deadline = time.monotonic() + seconds
    pause = FIRST_PAUSE
    attempt = 1
    while True:
        try:
            result = work()
        except Exception as error:
            _rollback()
            if not is_connection_error(error) or time.monotonic() + pause > deadline:
                raise
            log.warning("%s: database unreachable (attempt %d: %s); retrying in %.2f s", what, attempt,
                        message_line(error), pause)
            time.sleep(pause)
            pause = min(pause * 2, MAX_PAUSE)
            attempt += 1
            continue
        if attempt > 1:
            log.info("%s: done after %d attempts", what, attempt)
        return result
