"""A site: one BACnet network reachable from one worker."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.sql.expression import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime, utcnow

#: Allowed values of Site.transport; empty means "the global BACNET_TRANSPORT".
SITE_TRANSPORTS = ("", "local", "redis", "http")


class Site(db.Model):
    __tablename__ = "site"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    transport: Mapped[str] = mapped_column(String(10), default="")
    queue_name: Mapped[str] = mapped_column(String(80), default="")
    gateway_url: Mapped[str] = mapped_column(String(255), default="")
    #: Discovery targets, one per line or comma separated: addresses (directed Who-Is), CIDR blocks
    #: and A-B ranges (unicast sweep), or `broadcast` / `local-broadcast`.
    discovery_targets: Mapped[str] = mapped_column(Text, default="")
    writes_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Priorities writes may use on this site (BACnet 1 = highest .. 16 = lowest).
    write_priority_min: Mapped[int] = mapped_column(Integer, default=8, server_default="8")
    write_priority_max: Mapped[int] = mapped_column(Integer, default=16, server_default="16")
    #: New points found by a refresh start with polling enabled (handy for small sites and demos).
    poll_new_points: Mapped[bool] = mapped_column(Boolean, default=False)
    #: A known device answering from a new address is moved there by discovery without an admin
    #: accepting it (DHCP sites). Off by default: BACnet/IP has no authentication, so an I-Am from a
    #: new address may be an impostor; it is recorded as an address conflict instead.
    follow_address_changes: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    devices = relationship("Device", back_populates="site", cascade="all, delete-orphan",
                           passive_deletes=True, lazy="dynamic")

    def target_list(self) -> list[str]:
        """The discovery targets as a list of non-empty strings."""
        parts = self.discovery_targets.replace(",", "\n").split()
        return [part.strip() for part in parts if part.strip()]

    def __str__(self) -> str:
        return self.name
