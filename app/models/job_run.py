"""The job ledger: one row per enqueued message."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime, utcnow

#: JobRun.status values. `lost` is set by the reaper for messages nobody finished. `partial`: the
#: job ran and stored part of what it was asked (some devices failed; which and why is in
#: ``error``, one line per device, and in the summary's ``failed_devices``).
JOB_STATUSES = ("queued", "running", "succeeded", "partial", "failed", "skipped", "lost")
#: Statuses after which a job never changes again.
FINAL_STATUSES = frozenset({"succeeded", "partial", "failed", "skipped", "lost"})
#: Who can trigger a job.
TRIGGERS = ("user", "schedule", "api", "cli", "system")


class JobRun(db.Model):
    __tablename__ = "job_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)
    kwargs: Mapped[dict] = mapped_column(JSON, default=dict)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id", ondelete="SET NULL"), nullable=True,
                                                index=True)
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("schedule.id", ondelete="SET NULL"),
                                                    nullable=True, index=True)
    transport: Mapped[str] = mapped_column(String(10))
    queue: Mapped[str] = mapped_column(String(80), default="")
    triggered_by: Mapped[str] = mapped_column(String(16))
    #: Who exactly: a user name, a schedule name, a token name.
    triggered_by_detail: Mapped[str] = mapped_column(String(120), default="")
    status: Mapped[str] = mapped_column(String(10), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    enqueued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: Counts reported by the actor, e.g. {"devices": 3, "points_read": 60, "errors": 0}.
    summary: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")
    #: Set by a gateway when it accepts the message: when, and which gateway run ("host:port/boot").
    #: A gateway that restarts marks what its previous run accepted but never ran as lost.
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    accepted_by: Mapped[str | None] = mapped_column(String(120), nullable=True, index=True)

    site = relationship("Site")
    schedule = relationship("Schedule")

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    def __str__(self) -> str:
        return f"{self.actor} {self.message_id[:8]} ({self.status})"
