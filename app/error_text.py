"""Errors as text for people: one line, never SQL statements or their parameters.

A SQLAlchemy error's ``str()`` carries the statement and its parameters (``[SQL: INSERT ...]``,
``[parameters: ...]``): thousands of characters of SQL and device data that do not belong in a job
ledger every viewer reads, nor in a log line. The driver's own error (``error.orig``) says what
went wrong in its first line; the lines after it (PostgreSQL's ``DETAIL``, ``LINE 1: ...``)
quote rows and statements, so they are dropped too.
"""

from __future__ import annotations

import re
import sqlite3

from sqlalchemy.exc import SQLAlchemyError, StatementError

#: Longest one-line description (characters). A reason is for a person scanning a list.
MAX_LINE = 300

# C0 and C1 control characters (NUL included): a reason may quote a value that came from a device.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# A long quoted value in a database's message (PostgreSQL: 'value "1358...0" is out of range'): the
# parameter, not the reason. Identifiers (column "name", constraint "uq_...") are short and stay.
_LONG_QUOTED = re.compile(r'"[^"]{40,}"')


def first_line(text: str, *, limit: int = MAX_LINE) -> str:
    """The first non-blank line of ``text``, without control characters, at most ``limit`` characters."""
    for line in text.splitlines():
        line = _CONTROL.sub(" ", line).strip()
        if line:
            return line if len(line) <= limit else line[:limit - 1] + "…"
    return ""


def message_line(error: BaseException) -> str:
    """The first line of ``error``'s message, or its class name when the message is empty.

    For log lines and reachability reports. (``str(error).splitlines()[0]`` raises IndexError on
    an empty message, which turned a logged hiccup into a crash.)
    """
    return first_line(str(error)) or type(error).__name__


def _is_driver_error(error: BaseException) -> bool:
    """A DB-API error raised by the driver itself (a raw cursor bypasses SQLAlchemy's wrapping)."""
    return isinstance(error, sqlite3.Error) or type(error).__module__.startswith("psycopg2")


def error_line(error: BaseException) -> str:
    """``<ErrorClass>: <first line of its message>``, or the class name alone for an empty message.

    For a SQLAlchemy statement error the driver's error is described instead (its class names the
    problem, e.g. ``StringDataRightTruncation``), so neither SQL nor parameters ever appear.
    """
    if isinstance(error, StatementError) and error.orig is not None:
        error = error.orig
    line = str(error).strip().split("\n", 1)[0]
    text = first_line(_LONG_QUOTED.sub('"<long value>"', line))
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def error_text(error: BaseException, *, limit: int) -> str:
    """A job's error: database errors as :func:`error_line`, others in full (up to ``limit`` characters).

    Our own messages (a JobError, a timeout) may usefully span lines; a database's never may.
    """
    if isinstance(error, SQLAlchemyError) or _is_driver_error(error):
        return error_line(error)
    text = str(error).strip()
    return (f"{type(error).__name__}: {text}" if text else type(error).__name__)[:limit]
