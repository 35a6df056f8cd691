"""Slowing down password guessing: failed logins per user name and per address.

Stored in the database so every web process (gunicorn workers, several containers) counts the
same failures. A success clears the user's own count; the address count simply ages out.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from app.extensions import db
from app.models import LoginFailure, utcnow

#: Failures counted over this window.
WINDOW = timedelta(minutes=15)
#: Failures of one user name within the window before its logins are refused.
MAX_PER_USER = 5
#: Failures from one address within the window (any user names) before it is refused.
MAX_PER_ADDRESS = 20


def blocked_until(username: str, address: str, now: datetime | None = None) -> datetime | None:
    """When logins for this user name or from this address are allowed again (None: allowed now)."""
    now = now or utcnow()
    since = now - WINDOW
    until = None
    for column, value, limit in ((LoginFailure.username, username, MAX_PER_USER),
                                 (LoginFailure.address, address, MAX_PER_ADDRESS)):
        times = db.session.execute(db.select(LoginFailure.ts).where(column == value, LoginFailure.ts >= since)
                                   .order_by(LoginFailure.ts.desc()).limit(limit)).scalars().all()
        if len(times) >= limit:
            # Allowed again when the oldest of the last `limit` failures leaves the window.
            candidate = times[-1] + WINDOW
            until = candidate if until is None else max(until, candidate)
    return until


def record_failure(username: str, address: str) -> None:
    db.session.add(LoginFailure(username=username[:80], address=address[:64]))
    db.session.execute(db.delete(LoginFailure).where(LoginFailure.ts < utcnow() - 2 * WINDOW))
    db.session.commit()


def clear(username: str) -> None:
    db.session.execute(db.delete(LoginFailure).where(LoginFailure.username == username))
    db.session.commit()
