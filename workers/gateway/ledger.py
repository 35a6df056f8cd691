"""The gateway's bookkeeping in the central database: accepting a message exactly once, and
marking what a gateway run accepted but never ran as lost."""

from __future__ import annotations

import socket
import uuid
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import FINAL_STATUSES, JobRun, Site, utcnow


class Replayed(Exception):
    """This message id was accepted before (or its job is already over)."""


class UnknownSite(Exception):
    """The message names a site this database does not have (a 422: the request is wrong, not repeated)."""


@dataclass(frozen=True)
class GatewayIdentity:
    """Which gateway run accepted a message: stable name (host:port) plus a per-start boot id."""

    name: str
    boot: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @classmethod
    def for_port(cls, port: int) -> GatewayIdentity:
        return cls(name=f"{socket.gethostname()}:{port}")

    @property
    def tag(self) -> str:
        return f"{self.name}/{self.boot}"


def accept(identity: GatewayIdentity, *, message_id: str, actor: str, kwargs: dict, queue: str) -> JobRun:
    """Record that this gateway run accepted the message; raise Replayed if it was seen before.

    The web normally wrote the job_run row already (it records before sending); a message sent by
    something else gets its row here. Either way exactly one caller can flip ``accepted_at``.
    """
    now = utcnow()
    updated = db.session.execute(
        db.update(JobRun)
        .where(JobRun.message_id == message_id, JobRun.accepted_at.is_(None),
               JobRun.status.not_in(tuple(FINAL_STATUSES)))
        .values(accepted_at=now, accepted_by=identity.tag)
    ).rowcount
    if updated == 1:
        db.session.commit()
        return db.session.execute(db.select(JobRun).where(JobRun.message_id == message_id)).scalar_one()
    if db.session.execute(db.select(JobRun.id).where(JobRun.message_id == message_id)).first() is not None:
        db.session.rollback()
        raise Replayed(f"message {message_id} was already accepted")
    site_id = kwargs.get("site_id")
    if site_id is not None and db.session.get(Site, site_id) is None:
        # Checked before the insert: the foreign key would refuse it too, but as an IntegrityError
        # that reads like a replay (it used to be answered 409).
        db.session.rollback()
        raise UnknownSite(f"site_id: no site with id {site_id}")
    run = JobRun(message_id=message_id, actor=actor, kwargs=kwargs, site_id=kwargs.get("site_id"),
                 transport="http", queue=queue, triggered_by="api", triggered_by_detail="sent to the gateway",
                 status="queued", enqueued_at=now, accepted_at=now, accepted_by=identity.tag)
    db.session.add(run)
    try:
        db.session.commit()
    except IntegrityError:  # the same id raced in from another request, or the site was just deleted
        db.session.rollback()
        if site_id is not None and db.session.get(Site, site_id) is None:
            raise UnknownSite(f"site_id: no site with id {site_id}") from None
        raise Replayed(f"message {message_id} was already accepted") from None
    return run


def fail(message_id: str, reason: str) -> None:
    db.session.execute(db.update(JobRun).where(JobRun.message_id == message_id)
                       .values(status="failed", error=reason, finished_at=utcnow()))
    db.session.commit()


def mark_lost(identity: GatewayIdentity, reason: str, *, previous_runs: bool) -> int:
    """Mark jobs this gateway accepted but never finished as lost; return how many.

    ``previous_runs``: jobs of earlier runs of this gateway (at start: an in-process queue died
    with the process), else jobs of this run still waiting (at a stop with an in-process queue).
    """
    query = db.update(JobRun).where(JobRun.status.in_(("queued", "running")))
    if previous_runs:
        query = query.where(JobRun.accepted_by.like(f"{identity.name}/%"), JobRun.accepted_by != identity.tag)
    else:
        query = query.where(JobRun.accepted_by == identity.tag, JobRun.status == "queued")
    count = db.session.execute(query.values(status="lost", error=reason, finished_at=utcnow())).rowcount
    db.session.commit()
    return count
