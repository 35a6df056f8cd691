"""Readings: one row per point and timestamp."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime


class Reading(db.Model):
    """A stored value. The (point, ts) primary key makes redelivered batches harmless: a second
    insert of the same reading is ignored (see app.readings_store)."""

    __tablename__ = "reading"
    __table_args__ = (Index("ix_reading_ts", "ts"),)

    point_id: Mapped[int] = mapped_column(ForeignKey("point.id", ondelete="CASCADE"), primary_key=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: Text of a non-numeric value (e.g. a character string or a multi-state text), else NULL.
    text: Mapped[str | None] = mapped_column(String(255), nullable=True)

    point = relationship("Point", lazy="joined")
