"""Devices (BACnet controllers) and their points (BACnet objects we may poll)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime, utcnow

#: Device.status values. `unknown` until the first contact.
DEVICE_STATUSES = ("unknown", "online", "offline")


class Device(db.Model):
    __tablename__ = "device"
    __table_args__ = (UniqueConstraint("site_id", "device_instance", name="uq_device_site_instance"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), index=True)
    device_instance: Mapped[int] = mapped_column(Integer)
    #: BACnet address as text: `192.168.1.20`, `10.0.0.5:47809`, or `2001:12` (network:MAC).
    address: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255), default="")
    vendor_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    vendor_name: Mapped[str] = mapped_column(String(255), default="")
    model_name: Mapped[str] = mapped_column(String(255), default="")
    firmware_revision: Mapped[str] = mapped_column(String(255), default="")
    application_software_version: Mapped[str] = mapped_column(String(255), default="")
    protocol_revision: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_apdu: Mapped[int | None] = mapped_column(Integer, nullable=True)
    segmentation: Mapped[str] = mapped_column(String(32), default="")
    status: Mapped[str] = mapped_column(String(10), default="unknown")
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    next_retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    polling_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Address conflict: another address that answered for this device's instance (an I-Am from a
    #: new address, or a second device with the same instance on the site). The device is never
    #: moved there silently: an admin accepts the new address, or the site follows address changes.
    conflict_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: One readable line on the conflict (what answered, from where, during which job).
    conflict_detail: Mapped[str] = mapped_column(Text, default="", server_default="")
    conflict_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    site = relationship("Site", back_populates="devices")
    points = relationship("Point", back_populates="device", cascade="all, delete-orphan",
                          passive_deletes=True, lazy="dynamic")

    def __str__(self) -> str:
        return f"{self.name or 'device'} ({self.device_instance})"


class Point(db.Model):
    __tablename__ = "point"
    __table_args__ = (
        UniqueConstraint("device_id", "object_type", "object_instance", name="uq_point_device_object"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id", ondelete="CASCADE"), index=True)
    #: BACnet object type in its standard hyphenated spelling, e.g. `analog-input`.
    object_type: Mapped[str] = mapped_column(String(48))
    object_instance: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    units: Mapped[str] = mapped_column(String(64), default="")
    writable: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Datatype of the present value (real, enumerated, unsigned, ...), from enumeration.
    value_type: Mapped[str] = mapped_column(String(16), default="", server_default="")
    polling_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    last_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_text: Mapped[str | None] = mapped_column(String(255), nullable=True)
    last_read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")

    device = relationship("Device", back_populates="points")

    @property
    def object_id(self) -> str:
        return f"{self.object_type},{self.object_instance}"

    def __str__(self) -> str:
        return f"{self.name or self.object_id}"
