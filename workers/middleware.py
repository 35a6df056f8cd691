"""Keeps each message's job_run row current: queued -> running -> succeeded / partial / failed.

The row is created by the transport before the message is sent. A message redelivered after its
job already finished (at-least-once delivery: a worker died after the work but before the ack)
is skipped here, so finished work is never done twice. A message redelivered while its row still
says "running" (the worker was killed mid-job) runs again: that attempt died. An actor whose work
must not be done twice even then (collect_readings: a second read would store a second set of
readings under new timestamps) commits its summary with its work (:func:`stage_summary`) and,
when redelivered, finds it (:func:`committed_summary`) and returns it instead of working again.

An actor that works on many devices does not fail the job for one device: it returns a summary
naming the devices that failed (:func:`record_failed_devices`). Such a job ran, so it is never
retried (that would read the healthy devices twice); it ends "partial" when part of its work was
stored, "failed" when nothing was, with one line per failed device in ``error``.

The row updates are retried through a short database outage (workers.db_retry), so a PostgreSQL
restart does not leave a job "running" forever.
"""

from __future__ import annotations

import logging
import threading

import dramatiq
from dramatiq.middleware import Middleware, SkipMessage
from flask import Flask

from app.error_text import error_text
from app.extensions import db
from app.models import FINAL_STATUSES, JobRun, utcnow
from workers.db_retry import with_db_retry

log = logging.getLogger(__name__)

#: Longest error text kept on a job_run row.
MAX_ERROR_TEXT = 4000
#: Summary member naming the devices a job failed for: {"<instance> (<address>)": "<one-line reason>"}.
FAILED_DEVICES = "failed_devices"
#: Summary member set (true) when every device the job was asked about failed: nothing was stored.
NOTHING_STORED = "nothing_stored"
#: Summary member holding why a job had nothing to do (a collection whose every polled device is
#: backed off after failures): the job ends "skipped" with that reason, not "succeeded".
NOTHING_DUE = "nothing_due"

_current = threading.local()


def report_summary(summary: dict) -> None:
    """Called by the actor wrapper: the counts to store on the running job's row."""
    _current.summary = summary


def record_failed_devices(summary: dict, failed: dict[str, str], *, asked: int) -> dict:
    """Add the devices that failed (label -> one-line reason) to an actor's ``summary``.

    ``asked``: how many devices the job was asked to work on; when all of them failed the job
    stored nothing and ends "failed", else "partial". Returns ``summary`` (changed in place).
    """
    if failed:
        summary[FAILED_DEVICES] = dict(failed)
        if len(failed) >= asked:
            summary[NOTHING_STORED] = True
    return summary


def outcome(summary: dict | None) -> tuple[str, str]:
    """Final status and error text of a job whose actor returned ``summary``."""
    failed = summary.get(FAILED_DEVICES) if isinstance(summary, dict) else None
    if not failed:
        if isinstance(summary, dict) and summary.get(NOTHING_DUE):
            return "skipped", str(summary[NOTHING_DUE])
        return "succeeded", ""
    status = "failed" if summary.get(NOTHING_STORED) else "partial"
    lines: list[str] = []
    size = 0
    for device, reason in failed.items():
        line = f"{device}: {reason}"
        if size + len(line) > MAX_ERROR_TEXT - 40:  # room for the "more" line
            lines.append(f"... and {len(failed) - len(lines)} more devices (see the summary)")
            break
        lines.append(line)
        size += len(line) + 1
    return status, "\n".join(lines)


def current_message_id() -> str | None:
    """The message id of the job this thread is running, if any."""
    return getattr(_current, "message_id", None)


def stage_summary(summary: dict) -> None:
    """Put ``summary`` on the running job's row in the caller's transaction (no commit).

    Committed together with the job's work, it is the proof that the work is stored: a
    redelivered message of the same job sees it through :func:`committed_summary`. Does nothing
    outside a job (an actor called directly, e.g. by a benchmark).
    """
    message_id = current_message_id()
    if message_id is not None:
        db.session.execute(db.update(JobRun).where(JobRun.message_id == message_id).values(summary=summary))


def committed_summary(*, lock: bool = False) -> dict | None:
    """The summary an earlier attempt of the running job committed with its work, else None.

    ``lock``: hold the job's row until the caller's transaction ends (PostgreSQL), so two
    attempts running at once (a worker wrongly taken for dead) cannot both store their work.
    """
    message_id = current_message_id()
    if message_id is None:
        return None
    query = db.select(JobRun.summary).where(JobRun.message_id == message_id)
    return db.session.execute(query.with_for_update() if lock else query).scalar_one_or_none()


class JobRunMiddleware(Middleware):
    def __init__(self, app: Flask) -> None:
        self.app = app

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        _current.message_id = message.message_id
        _current.summary = None
        with self.app.app_context():
            with_db_retry(lambda: self._start(message), what=f"job {message.message_id}: marking it running")

    def _start(self, message: dramatiq.Message) -> None:
        run = db.session.execute(
            db.select(JobRun).where(JobRun.message_id == message.message_id).with_for_update()
        ).scalar_one_or_none()
        if run is None:
            # Sent by something that bypassed the transport (e.g. a shell): record it anyway.
            run = JobRun(message_id=message.message_id, actor=message.actor_name,
                         kwargs=dict(message.kwargs), transport="unknown", queue=message.queue_name,
                         triggered_by="system", site_id=message.kwargs.get("site_id"))
            db.session.add(run)
        elif run.status in FINAL_STATUSES:
            db.session.rollback()
            log.info("skipping redelivered message %s: job already %s", message.message_id, run.status)
            raise SkipMessage(f"job {message.message_id} already {run.status}")
        elif run.status == "running":
            # Redelivered after the worker running it died (Dramatiq's heartbeat timeout): the
            # earlier attempt will never finish, this one takes over.
            log.warning("job %s was still running when its message came back (its worker died): "
                        "running it again", message.message_id)
        run.status = "running"
        run.started_at = utcnow()
        run.attempts = (run.attempts or 0) + 1
        db.session.commit()

    def after_process_message(self, broker: dramatiq.Broker, message: dramatiq.Message, *,
                              result: object = None, exception: BaseException | None = None) -> None:
        summary = getattr(_current, "summary", None)
        _current.message_id = None
        with self.app.app_context():
            with_db_retry(lambda: self._finish(message, summary, exception),
                          what=f"job {message.message_id}: recording its outcome")

    def _finish(self, message: dramatiq.Message, summary: dict | None, exception: BaseException | None) -> None:
        run = db.session.execute(
            db.select(JobRun).where(JobRun.message_id == message.message_id)
        ).scalar_one_or_none()
        if run is None:
            return
        if exception is None:
            # The actor returned: it ran, whatever its devices did (Retries saw no exception).
            run.status, run.error = outcome(summary)
        else:
            # Never a database error's SQL and parameters: viewers read this.
            text = error_text(exception, limit=MAX_ERROR_TEXT)
            # This middleware sits before Retries in the list, so its after-hook runs after
            # Retries decided: message.failed means no retry is coming.
            if message.failed:
                run.status = "failed"
                run.error = text
            else:
                run.status = "queued"
                run.error = f"attempt {run.attempts} failed, retrying: {text}"
        if summary is not None:
            run.summary = summary
        if run.status in FINAL_STATUSES:
            run.finished_at = utcnow()
        db.session.commit()

    def after_skip_message(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        _current.message_id = None
