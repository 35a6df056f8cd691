"""The scheduler service: leader election, APScheduler jobs reconciled from the schedule table,
catch-up of missed slots, the reaper and the heartbeat.

The table is the source of truth. The control loop is a plain thread, never an APScheduler job
(``shutdown(wait=True)`` deadlocks on a job that calls the scheduler API). Jobs only enqueue;
the work happens in the worker.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from datetime import timedelta, timezone
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask

from app.error_text import message_line
from app.extensions import db
from app.models import ProcessHeartbeat, Schedule, utcnow
from app.models.heartbeat import beat, forget
from scheduler.leader import Elector, make_elector
from scheduler.reaper import reap
from scheduler.slots import EPOCH
from scheduler.ticks import tick
from scheduler.triggers import ScheduleError, job_id, signature, trigger_for
from workers.db_retry import is_connection_error

log = logging.getLogger(__name__)

#: Seconds between two rounds of the control loop: election, reconcile, heartbeat. Admin edits
#: apply within this; a standby takes over within about this after the leader dies.
RECONCILE_INTERVAL = 2.0
#: Seconds between two runs of the reaper (leader only). Cheap when nothing is stuck (a few
#: indexed updates); short so that a job whose message Redis lost shows "lost" within ~30 s
#: (scheduler.vanished) instead of blocking its schedule.
REAP_INTERVAL = 10.0
#: Heartbeat rows older than this are deleted (dead processes' rows).
HEARTBEAT_RETENTION = timedelta(days=1)


class SchedulerService:
    """One scheduler process (or the all-in-one thread): leads or stands by."""

    def __init__(self, app: Flask, *, reconcile_interval: float = RECONCILE_INTERVAL,
                 elector: Elector | None = None) -> None:
        self.app = app
        self.reconcile_interval = reconcile_interval
        with app.app_context():
            self.elector = elector or make_elector(db.engine, Path(app.config["INSTANCE_DIR"]))
        self.instance = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.scheduler: BackgroundScheduler | None = None
        self._signatures: dict[str, tuple] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_reap = 0.0

    @property
    def leading(self) -> bool:
        return self.scheduler is not None

    # -- control loop -----------------------------------------------------------------------------

    def start(self) -> None:
        self._round()
        self._thread = threading.Thread(target=self._loop, name="scheduler-control", daemon=True)
        self._thread.start()
        log.info("scheduler %s started (%s)", self.instance, "leader" if self.leading else "standby")

    def _loop(self) -> None:
        while not self._stop.wait(self.reconcile_interval):
            try:
                self._round()
            except Exception as error:  # a database hiccup must not end the loop; the next round retries
                if is_connection_error(error):
                    # Expected during a database restart: one line per round, not a traceback.
                    log.warning("scheduler round skipped: database unreachable: %s", message_line(error))
                else:
                    log.exception("scheduler round failed")

    def _round(self) -> None:
        if self.leading and not self.elector.still_held():
            self._step_down()
        if not self.leading and self.elector.try_acquire():
            self._take_over()
        if self.leading:
            self.reconcile()
            if time.monotonic() - self._last_reap >= REAP_INTERVAL:
                self._last_reap = time.monotonic()
                with self.app.app_context():
                    lost = reap()
                if lost:
                    log.warning("reaper marked %d job(s) lost", lost)
        self._heartbeat()

    def _take_over(self) -> None:
        log.info("scheduler %s is now the leader (%s)", self.instance, self.elector.kind)
        self._signatures.clear()
        self.scheduler = BackgroundScheduler(timezone=timezone.utc,
                                             job_defaults={"coalesce": True, "max_instances": 1})
        self.scheduler.start()

    def _step_down(self) -> None:
        log.warning("scheduler %s lost the leadership; standing by", self.instance)
        scheduler, self.scheduler = self.scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        self._signatures.clear()

    def _heartbeat(self) -> None:
        with self.app.app_context():
            beat(self.instance, "scheduler", "leader" if self.leading else "standby", {"lock": self.elector.kind},
                 host=socket.gethostname(), pid=os.getpid())
            db.session.execute(db.delete(ProcessHeartbeat).where(
                ProcessHeartbeat.heartbeat_at < utcnow() - HEARTBEAT_RETENTION))
            db.session.commit()

    # -- reconcile --------------------------------------------------------------------------------

    def reconcile(self) -> None:
        """Make the scheduler's jobs match the enabled schedules; catch up on due slots."""
        scheduler = self.scheduler
        if scheduler is None:
            return
        with self.app.app_context():
            schedules = db.session.execute(db.select(Schedule).where(Schedule.enabled.is_(True))).scalars().all()
            wanted = {}
            for schedule in schedules:
                try:
                    trigger = trigger_for(schedule)
                except ScheduleError as error:
                    log.warning("schedule %s ignored: %s", schedule.id, error)
                    continue
                if schedule.interval_seconds:
                    # Fire on the epoch-anchored grid, so fire times are exactly the slots.
                    trigger.start_date = EPOCH
                wanted[job_id(schedule.id)] = (schedule, trigger)
            for jid in set(self._signatures) - set(wanted):
                scheduler.remove_job(jid)
                del self._signatures[jid]
                log.info("removed job %s", jid)
            catch_up = []
            for jid, (schedule, trigger) in wanted.items():
                sig = signature(schedule)
                if self._signatures.get(jid) == sig:
                    continue
                grace = schedule.interval_seconds or 60
                scheduler.add_job(self._tick, trigger, args=[schedule.id], id=jid, replace_existing=True,
                                  misfire_grace_time=grace, coalesce=True, max_instances=1)
                self._signatures[jid] = sig
                catch_up.append(schedule.id)
                log.info("scheduled %s (%s)", jid, trigger)
            self._update_next_runs(schedules)
            db.session.commit()
        # A slot that fell due while no scheduler led runs now (late by less than its period);
        # a schedule seen for the first time starts at its next slot.
        for schedule_id in catch_up:
            self._tick(schedule_id, catching_up=True)

    def _update_next_runs(self, schedules: list[Schedule]) -> None:
        for schedule in schedules:
            job = self.scheduler.get_job(job_id(schedule.id)) if self.scheduler else None
            schedule.next_run_at = job.next_run_time if job else None

    def _tick(self, schedule_id: int, catching_up: bool = False) -> None:
        if not self.leading:
            return
        with self.app.app_context():
            try:
                outcome = tick(schedule_id, baseline_only=catching_up)
            except Exception as error:
                if is_connection_error(error):
                    log.warning("schedule %s: tick failed: database unreachable: %s", schedule_id,
                                message_line(error))
                else:
                    log.exception("schedule %s: tick failed", schedule_id)
                db.session.rollback()
                return
            schedule = db.session.get(Schedule, schedule_id)
            job = self.scheduler.get_job(job_id(schedule_id)) if self.scheduler else None
            if schedule is not None and job is not None:
                schedule.next_run_at = job.next_run_time
                db.session.commit()
        log.debug("schedule %s: %s", schedule_id, outcome)

    def stop(self) -> None:
        """Stop scheduling and give up leadership; safe to call when never started."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.reconcile_interval + 10)
            self._thread = None
        scheduler, self.scheduler = self.scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=True)
        self.elector.release()
        try:
            with self.app.app_context():
                forget(self.instance)
                db.session.commit()
        except Exception:  # the database may be the reason we stop
            log.warning("could not remove the heartbeat row of %s", self.instance)
        log.info("scheduler stopped")
