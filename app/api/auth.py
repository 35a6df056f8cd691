"""Bearer-token authentication of API calls, and the role check.

Only the ``Authorization: Bearer <token>`` header authenticates. The admin's session cookie is
never looked at here (we do not touch ``current_user``), which is what makes exempting the API
from CSRF safe: a page on another site can make a browser send our cookie, but it cannot make it
send an Authorization header with a token it does not know.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from flask import g, request
from sqlalchemy.exc import SQLAlchemyError

from app.api.errors import ApiError
from app.extensions import db
from app.models import ApiToken, User, utcnow
from app.models.api_token import hash_token

log = logging.getLogger(__name__)

#: Methods a viewer's token may use: reading only. Anything else needs the admin role.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: last_used_at is written at most this often per token, so a busy client's reads do not each
#: become a database write (minute precision is plenty to tell a token in use from a dead one).
LAST_USED_RESOLUTION = timedelta(minutes=1)
#: Endpoints open without a token: the API description is not a secret.
PUBLIC_ENDPOINTS = frozenset({"api.openapi"})
#: Longer Authorization values are not ours (ours are 47 characters): refuse without hashing.
MAX_TOKEN_LENGTH = 256
#: RFC 6750 challenge sent with every 401.
CHALLENGE = 'Bearer realm="bacnet-pipeline"'


@dataclass(frozen=True)
class Caller:
    """Who is calling: the token and its user, as plain values (safe after a commit)."""

    token_id: int
    token_name: str
    user_id: int
    username: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def label(self) -> str:
        """How the caller is recorded (job ledger, write audit): ``user/token name``."""
        return f"{self.username}/{self.token_name}"


def _unauthorized(message: str, *, invalid: bool) -> ApiError:
    challenge = CHALLENGE + (', error="invalid_token"' if invalid else "")
    return ApiError(401, message, headers={"WWW-Authenticate": challenge})


def _bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if not header:
        raise _unauthorized("missing bearer token: send the header 'Authorization: Bearer <token>'", invalid=False)
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("the Authorization header must be 'Bearer <token>'", invalid=False)
    if len(token) > MAX_TOKEN_LENGTH:
        raise _unauthorized("invalid or revoked token", invalid=True)
    return token


def _touch(token: ApiToken) -> None:
    now = utcnow()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    token.last_used_at = now
    try:
        db.session.commit()
    except SQLAlchemyError:
        # Bookkeeping only: a busy or read-only database must not turn a read into an error.
        db.session.rollback()
        log.warning("could not record the use of API token %s", token.id, exc_info=True)


def authenticate() -> None:
    """Blueprint before_request: set ``g.api_caller`` or answer 401 / 403."""
    if request.method == "OPTIONS" or request.endpoint in PUBLIC_ENDPOINTS:
        return
    token_hash = hash_token(_bearer_token())
    # Looked up by its hash through the unique index. No constant-time comparison is needed: a
    # timing difference could at most leak a prefix of a SHA-256 the caller already computed.
    row = db.session.execute(
        db.select(ApiToken, User).join(User, ApiToken.user_id == User.id).where(ApiToken.token_hash == token_hash)
    ).one_or_none()
    if row is None or row.ApiToken.revoked or not row.User.active:
        raise _unauthorized("invalid or revoked token", invalid=True)
    token, user = row.ApiToken, row.User
    caller = Caller(token.id, token.name, user.id, user.username, user.role)
    _touch(token)
    g.api_caller = caller
    if request.method not in READ_METHODS and not caller.is_admin:
        raise ApiError(403, f"user {caller.username} has the {caller.role} role: this token may only read")


def current_caller() -> Caller:
    """The authenticated caller of this request (only inside an authenticated endpoint)."""
    return g.api_caller
