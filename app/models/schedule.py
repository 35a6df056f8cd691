"""Schedules: what the scheduler enqueues, and how often."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime

#: Schedule.kind values and the actor each one enqueues.
SCHEDULE_ACTORS = {
    "collect": "collect_readings",
    "discover": "discover_devices",
    "refresh": "refresh_points",
}


class Schedule(db.Model):
    __tablename__ = "schedule"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    kind: Mapped[str] = mapped_column(String(16), default="collect")
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), index=True)
    #: Optional subset of device ids; NULL means the whole site.
    device_ids: Mapped[list[int] | None] = mapped_column(JSON, nullable=True)
    interval_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: Five-field cron expression, used when interval_seconds is empty.
    cron: Mapped[str] = mapped_column(String(120), default="")
    jitter_seconds: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: The last slot the scheduler handled (ran or skipped): the mark missed slots are counted from.
    last_slot_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    site = relationship("Site")

    @property
    def actor(self) -> str:
        return SCHEDULE_ACTORS[self.kind]

    def __str__(self) -> str:
        return self.name or f"{self.kind} #{self.id}"
