"""One call to run a job anywhere: ``enqueue(actor, kwargs, triggered_by=...)``.

The web app, the API, the CLI and the scheduler call this and never import actors or BAC0. It
checks the request against the actor catalog, records the job_run row *before* sending (so a
job is never invisible), picks the site's transport (or the global one) and sends. A failed
send marks the row failed with a readable reason and raises :class:`EnqueueError`.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import dramatiq
from flask import current_app
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import TRIGGERS, JobRun, Site, utcnow
from app.settings import Settings
from app.transport.base import EnqueueError, Transport
from app.transport.http import HttpTransport
from app.transport.local import LocalTransport
from app.transport.redis import RedisTransport
from workers.catalog import CatalogError, get_spec, validate_kwargs

__all__ = ["enqueue", "EnqueueError", "CatalogError", "resolve_kind", "transport_for", "LOCAL_BROKER_KEY"]

log = logging.getLogger(__name__)

#: Key in ``app.extensions`` under which all-in-one puts its in-process broker.
LOCAL_BROKER_KEY = "bacnet_local_broker"


def resolve_kind(site: Site | None, settings: Settings) -> str:
    """The site's transport kind, or the global one when the site leaves it empty."""
    return (site.transport if site is not None else "") or settings.resolved_transport()


def transport_for(kind: str, settings: Settings, site: Site | None = None) -> Transport:
    """The transport object of ``kind``; EnqueueError if it cannot be used in this process."""
    if kind == "local":
        return LocalTransport(current_app.extensions.get(LOCAL_BROKER_KEY))
    if kind == "redis":
        return RedisTransport(settings.BROKER_URL, settings.BROKER_NAMESPACE,
                              heartbeat_timeout_ms=settings.BROKER_HEARTBEAT_TIMEOUT_MS,
                              maintenance_chance=settings.BROKER_MAINTENANCE_CHANCE)
    if kind == "http":
        url = (site.gateway_url if site is not None else "") or settings.GATEWAY_URL
        return HttpTransport(url, settings.GATEWAY_SECRET)
    raise EnqueueError(f"unknown transport {kind!r} (local, redis or http)")


def enqueue(actor: str, kwargs: dict[str, Any], *, triggered_by: str, detail: str = "",
            schedule_id: int | None = None, message_id: str | None = None) -> JobRun:
    """Validate, record and send one job; return its job_run row.

    ``message_id`` makes the call idempotent: if a job with that id exists, it is returned and
    nothing is sent again (the scheduler derives ids from schedule and slot time).
    Raises CatalogError (bad actor or kwargs), EnqueueError (cannot be sent; the row is failed).
    """
    if triggered_by not in TRIGGERS:
        raise ValueError(f"triggered_by must be one of {TRIGGERS}")
    spec = get_spec(actor)
    kwargs = validate_kwargs(actor, kwargs)
    settings: Settings = current_app.config["SETTINGS"]
    site = db.session.get(Site, kwargs["site_id"]) if "site_id" in kwargs else None
    if "site_id" in kwargs and site is None:
        raise CatalogError(f"{actor}: site_id: site {kwargs['site_id']} does not exist")

    if message_id is not None:
        existing = db.session.execute(db.select(JobRun).where(JobRun.message_id == message_id)).scalar_one_or_none()
        if existing is not None:
            return existing
    message_id = message_id or uuid.uuid4().hex
    queue = (site.queue_name if site is not None else "") or spec.queue

    kind = resolve_kind(site, settings)
    run = JobRun(message_id=message_id, actor=actor, kwargs=kwargs, site_id=site.id if site else None,
                 schedule_id=schedule_id, transport=kind, queue=queue, triggered_by=triggered_by,
                 triggered_by_detail=detail[:120], status="queued", enqueued_at=utcnow())
    db.session.add(run)
    try:
        db.session.commit()
    except IntegrityError:
        # Another process recorded this message id a moment ago (two schedulers overlapping on a
        # takeover, a retried request): that job is the one; nothing is sent twice.
        db.session.rollback()
        return db.session.execute(db.select(JobRun).where(JobRun.message_id == message_id)).scalar_one()

    message = dramatiq.Message(queue_name=queue, actor_name=actor, args=(), kwargs=kwargs, options={},
                               message_id=message_id, message_timestamp=int(time.time() * 1000))
    try:
        transport_for(kind, settings, site).send(message, job_id=run.id)
    except EnqueueError as error:
        run.status = "failed"
        run.error = str(error)
        run.finished_at = utcnow()
        db.session.commit()
        log.warning("enqueue of %s (%s) failed: %s", actor, message_id, error)
        raise EnqueueError(str(error), run.id) from None
    log.info("enqueued %s %s via %s (%s)", actor, message_id, kind, triggered_by)
    return run
