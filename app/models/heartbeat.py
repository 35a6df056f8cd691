"""Long-running processes report here: schedulers (who leads, who stands by), workers and gateways.

The dashboard and /healthz read these rows to say what is alive; nothing else depends on them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime, utcnow

#: A process whose heartbeat is older than this is considered gone.
HEARTBEAT_STALE_AFTER = timedelta(seconds=30)
#: Process kinds that write heartbeats.
KINDS = ("scheduler", "worker", "gateway")


class ProcessHeartbeat(db.Model):
    __tablename__ = "process_heartbeat"

    #: host:pid:boot — one row per process run.
    instance: Mapped[str] = mapped_column(String(120), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    #: Schedulers: leader or standby. Workers and gateways: worker.
    role: Mapped[str] = mapped_column(String(10))
    #: What the process wants to show: lock kind, queues, BACnet address...
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    @property
    def alive(self) -> bool:
        return utcnow() - self.heartbeat_at < HEARTBEAT_STALE_AFTER


def beat(instance: str, kind: str, role: str, detail: dict, *, host: str, pid: int) -> None:
    """Insert or refresh this process's row (the caller commits)."""
    row = db.session.get(ProcessHeartbeat, instance)
    if row is None:
        row = ProcessHeartbeat(instance=instance, kind=kind, host=host, pid=pid)
        db.session.add(row)
    row.role, row.detail, row.heartbeat_at = role, detail, utcnow()


def forget(instance: str) -> None:
    db.session.execute(db.delete(ProcessHeartbeat).where(ProcessHeartbeat.instance == instance))


def alive_processes(kind: str) -> list[ProcessHeartbeat]:
    rows = db.session.execute(db.select(ProcessHeartbeat).where(ProcessHeartbeat.kind == kind)
                              .order_by(ProcessHeartbeat.heartbeat_at.desc()).limit(50)).scalars().all()
    return [row for row in rows if row.alive]


def scheduler_status() -> dict:
    """What /healthz and the dashboard show: is a scheduler alive, and which one leads."""
    alive = alive_processes("scheduler")
    leader = next((row for row in alive if row.role == "leader"), None)
    return {
        "alive": leader is not None,
        "leader": None if leader is None else {"host": leader.host, "pid": leader.pid,
                                               "last_tick": leader.heartbeat_at.isoformat()},
        "standby": len([row for row in alive if row.role == "standby"]),
    }
