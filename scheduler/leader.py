"""Leader election: exactly one scheduler schedules; the others stand by and take over.

PostgreSQL: a session-level advisory lock on a connection held open for the whole leadership.
When the leader dies (kill -9 included) its connection closes and PostgreSQL releases the lock
at once; a standby polling every second gets it. SQLite (one host): an exclusive file lock,
which the operating system releases when the process dies.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from app.error_text import message_line

log = logging.getLogger(__name__)

#: Advisory lock key of the scheduler (any constant; "BACnetSc" as an int64).
ADVISORY_LOCK_KEY = 0x4241436E65745363


class Elector(Protocol):
    #: How leadership is held, for the heartbeat row.
    kind: str

    def try_acquire(self) -> bool:
        """Become leader if nobody is; True when this process now leads."""

    def still_held(self) -> bool:
        """True while leadership is certain (the lock's connection or file is intact)."""

    def release(self) -> None:
        ...


class AdvisoryLockElector:
    kind = "postgresql advisory lock"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: Connection | None = None

    def try_acquire(self) -> bool:
        try:
            connection = self.engine.connect()
        except Exception as error:  # database down: stay standby, retry next round
            log.warning("cannot reach the database to elect a leader: %s", message_line(error))
            return False
        try:
            got = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}).scalar()
            connection.commit()
        except Exception:
            connection.close()
            return False
        if got:
            self._connection = connection
            return True
        connection.close()
        return False

    def still_held(self) -> bool:
        if self._connection is None:
            return False
        try:
            # The lock lives exactly as long as this session: if the query works, we still hold it.
            self._connection.execute(text("SELECT 1")).scalar()
            self._connection.commit()
            return True
        except Exception:
            log.warning("lost the leadership connection to the database")
            self._connection = None
            return False

    def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
            connection.commit()
        except Exception:
            pass  # the lock goes with the session anyway
        finally:
            connection.close()


class FileLockElector:
    kind = "file lock"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle = None

    def try_acquire(self) -> bool:
        handle = open(self.path, "a+")
        try:
            _lock(handle)
        except OSError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle
        return True

    def still_held(self) -> bool:
        return self._handle is not None

    def release(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            _unlock(handle)
            handle.close()


if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock(handle) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)

    def _unlock(handle) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _lock(handle) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(handle) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def make_elector(engine: Engine, instance_dir: Path) -> Elector:
    if engine.dialect.name == "postgresql":
        return AdvisoryLockElector(engine)
    return FileLockElector(instance_dir / "scheduler.lock")
