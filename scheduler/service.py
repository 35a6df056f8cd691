"""The scheduler: APScheduler plus a reconcile loop over the schedule table.

The table is the source of truth. A reconcile loop (a plain thread, never an APScheduler job:
``shutdown(wait=True)`` deadlocks on a job that calls the scheduler API) adds, replaces and
removes jobs by deterministic id. Jobs only enqueue; the work happens in the worker.
"""

from __future__ import annotations

import logging
import threading
from datetime import timezone

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask

from app.extensions import db
from app.models import Schedule, utcnow
from app.transport import CatalogError, EnqueueError, enqueue
from scheduler.triggers import ScheduleError, job_id, signature, trigger_for

log = logging.getLogger(__name__)

#: Seconds between two reads of the schedule table (admin edits apply within this).
RECONCILE_INTERVAL = 5.0


class SchedulerService:
    def __init__(self, app: Flask, *, reconcile_interval: float = RECONCILE_INTERVAL) -> None:
        self.app = app
        self.reconcile_interval = reconcile_interval
        self.scheduler = BackgroundScheduler(timezone=timezone.utc, job_defaults={
            "coalesce": True, "max_instances": 1})
        self._signatures: dict[str, tuple] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.scheduler.start()
        self.reconcile()
        self._thread = threading.Thread(target=self._loop, name="scheduler-reconcile", daemon=True)
        self._thread.start()
        log.info("scheduler started")

    def _loop(self) -> None:
        while not self._stop.wait(self.reconcile_interval):
            try:
                self.reconcile()
            except Exception:  # a database hiccup must not end the loop; next round retries
                log.exception("reconcile failed")

    def reconcile(self) -> None:
        """Make the scheduler's jobs match the enabled schedules."""
        with self.app.app_context():
            schedules = db.session.execute(db.select(Schedule).where(Schedule.enabled.is_(True))).scalars().all()
            wanted = {}
            for schedule in schedules:
                try:
                    wanted[job_id(schedule.id)] = (schedule, trigger_for(schedule))
                except ScheduleError as error:
                    log.warning("schedule %s ignored: %s", schedule.id, error)
            for jid in set(self._signatures) - set(wanted):
                self.scheduler.remove_job(jid)
                del self._signatures[jid]
                log.info("removed job %s", jid)
            for jid, (schedule, trigger) in wanted.items():
                sig = signature(schedule)
                if self._signatures.get(jid) == sig:
                    continue
                # A late run still counts while it is within one interval; older ones coalesce.
                grace = schedule.interval_seconds or 60
                self.scheduler.add_job(self._tick, trigger, args=[schedule.id], id=jid, replace_existing=True,
                                       misfire_grace_time=grace, coalesce=True, max_instances=1)
                self._signatures[jid] = sig
                job = self.scheduler.get_job(jid)
                schedule.next_run_at = job.next_run_time if job else None
                log.info("scheduled %s (%s)", jid, trigger)
            db.session.commit()

    def _tick(self, schedule_id: int) -> None:
        with self.app.app_context():
            schedule = db.session.get(Schedule, schedule_id)
            if schedule is None or not schedule.enabled:
                return
            kwargs: dict = {"site_id": schedule.site_id}
            if schedule.device_ids and schedule.kind != "discover":
                kwargs["device_ids"] = list(schedule.device_ids)
            if schedule.kind == "discover":
                kwargs["refresh_points"] = True
            try:
                enqueue(schedule.actor, kwargs, triggered_by="schedule", detail=str(schedule),
                        schedule_id=schedule.id)
            except (CatalogError, EnqueueError) as error:
                log.warning("schedule %s could not enqueue: %s", schedule_id, error)
            schedule.last_run_at = utcnow()
            job = self.scheduler.get_job(job_id(schedule_id))
            schedule.next_run_at = job.next_run_time if job else None
            db.session.commit()

    def stop(self) -> None:
        """Stop reconciling and scheduling; safe to call when never started."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.reconcile_interval + 5)
            self._thread = None
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        log.info("scheduler stopped")
