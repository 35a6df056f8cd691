"""Every write attempt, allowed or not: who, what, at which priority, and what happened."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime, utcnow

#: WriteAudit.result values: refused by policy, failed at the device, or done.
WRITE_RESULTS = ("refused", "failed", "succeeded", "pending")


class WriteAudit(db.Model):
    __tablename__ = "write_audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    #: Who asked: a user name, "api:<token name>" or "cli".
    requested_by: Mapped[str] = mapped_column(String(120))
    point_id: Mapped[int | None] = mapped_column(ForeignKey("point.id", ondelete="SET NULL"), nullable=True,
                                                 index=True)
    #: What was written to, kept as text so the record survives the point being deleted.
    target: Mapped[str] = mapped_column(String(255))
    priority: Mapped[int] = mapped_column(Integer)
    #: The value asked for; NULL means relinquish.
    value: Mapped[str | None] = mapped_column(String(255), nullable=True)
    old_value: Mapped[str | None] = mapped_column(String(255), nullable=True)
    new_value: Mapped[str | None] = mapped_column(String(255), nullable=True)
    result: Mapped[str] = mapped_column(String(10))
    error: Mapped[str] = mapped_column(Text, default="")
    job_message_id: Mapped[str | None] = mapped_column(String(64), nullable=True)

    point = relationship("Point")

    def __str__(self) -> str:
        return f"{self.requested_by} -> {self.target} @{self.priority}: {self.result}"
