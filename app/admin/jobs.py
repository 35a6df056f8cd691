"""Triggering jobs from the admin: one helper so every button records who clicked it."""

from __future__ import annotations

from flask import flash
from flask_login import current_user

from app.models import JobRun
from app.transport import CatalogError, EnqueueError, enqueue


def trigger(actor: str, kwargs: dict, label: str) -> JobRun | None:
    """Enqueue a job for the logged-in user and flash the outcome; the job, or None if not sent."""
    try:
        run = enqueue(actor, kwargs, triggered_by="user", detail=current_user.username)
    except (CatalogError, EnqueueError) as error:
        flash(f"{label}: could not start: {error}", "error")
        return None
    flash(f"{label}: started (job {run.id}).", "success")
    return run
