"""Scheduler processes report here: who leads, who stands by, and when each last ticked."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime, utcnow

#: A scheduler whose heartbeat is older than this is considered gone.
HEARTBEAT_STALE_AFTER = timedelta(seconds=30)


class SchedulerHeartbeat(db.Model):
    __tablename__ = "scheduler_heartbeat"

    #: host:pid:boot — one row per scheduler process run.
    instance: Mapped[str] = mapped_column(String(120), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    #: leader or standby.
    role: Mapped[str] = mapped_column(String(10))
    #: How leadership is held: postgresql advisory lock or a file lock (SQLite, one host).
    lock: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    @property
    def alive(self) -> bool:
        return utcnow() - self.heartbeat_at < HEARTBEAT_STALE_AFTER


def scheduler_status() -> dict:
    """What /healthz and the dashboard show: is a scheduler alive, and which one leads."""
    rows = db.session.execute(db.select(SchedulerHeartbeat).order_by(SchedulerHeartbeat.heartbeat_at.desc())
                              .limit(20)).scalars().all()
    alive = [row for row in rows if row.alive]
    leader = next((row for row in alive if row.role == "leader"), None)
    return {
        "alive": leader is not None,
        "leader": None if leader is None else {"host": leader.host, "pid": leader.pid,
                                               "last_tick": leader.heartbeat_at.isoformat()},
        "standby": len([row for row in alive if row.role == "standby"]),
    }
