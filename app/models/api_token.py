"""Bearer tokens for the REST API: each one acts as its user, with that user's role."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime, utcnow

#: Prefix of every token we issue: makes a leaked token recognisable (log greps, secret scanners).
TOKEN_PREFIX = "bpt_"
#: Random bytes behind a token (256 bits): far beyond guessing, which is what lets us hash it fast.
TOKEN_BYTES = 32
#: Longest token name, as stored.
TOKEN_NAME_MAX = 80


def generate_token() -> str:
    """A new random token, to show once and then store only as :func:`hash_token`."""
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """The stored form of a token: hex SHA-256.

    A plain, unsalted, fast hash is right here and would be wrong for passwords. Slow salted hashes
    (scrypt, bcrypt, PBKDF2) exist to make guessing *low-entropy* human passwords from a stolen
    hash expensive; our tokens carry 256 random bits, so no amount of guessing finds one from its
    SHA-256 either way. Being unsalted and deterministic, the hash can be looked up through a
    unique index (one indexed query per API call instead of checking every token), and being fast
    it costs microseconds per request where a password hash would cost ~100 ms on every call.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class ApiToken(db.Model):
    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    #: What the token is for ("grafana", "nightly export"); shown in the admin and job ledger.
    name: Mapped[str] = mapped_column(String(TOKEN_NAME_MAX))
    #: hex SHA-256 of the token (see hash_token); the token itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Updated at most once a minute (app.api.auth), so reads don't turn into a write each.
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: Set when revoked; a revoked token never authenticates again.
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    user = relationship("User")

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def __str__(self) -> str:
        return f"{self.name} ({self.user})"
