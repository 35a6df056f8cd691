"""Redelivery and database hiccups at the moments a real kill cannot hit on purpose, in process.

- Killed after the collection's commit but before its job was marked finished: the message comes
  back with the row still "running" and the readings stored. The new attempt must not read the
  devices again (new timestamps: a second reading per point) but finish the job with the
  committed summary.
- Killed before the commit: the row is "running", nothing is stored; the new attempt reads and
  stores one set.
- Two attempts at once (a live worker taken for dead): the one that writes second finds the
  first one's committed summary under the row lock and stores nothing.
- The write meets a dropped connection: it is retried with the same rows, stored once.
"""

from __future__ import annotations

import logging

import dramatiq
import pytest
from sqlalchemy.exc import OperationalError

from app.extensions import db
from app.models import JobRun, Reading, Site
from app.transport import enqueue
from tests.helpers import in_process_worker, wait_for_job
from workers.actors import collect
from workers.service import WorkerService

pytestmark = pytest.mark.faults


@pytest.fixture
def worker(app, loopback_block):
    with in_process_worker(app, loopback_block, threads=1) as service:
        yield service


def _run(app, actor: str, kwargs: dict) -> JobRun:
    with app.app_context():
        job_id = enqueue(actor, kwargs, triggered_by="cli").id
    return wait_for_job(app, job_id)


def _site(app, simulator) -> int:
    with app.app_context():
        site = Site(name="Plant", discovery_targets="\n".join(simulator.addresses), poll_new_points=True)
        db.session.add(site)
        db.session.commit()
        site_id = site.id
    assert _run(app, "discover_devices", {"site_id": site_id, "refresh_points": True}).status == "succeeded"
    return site_id


def _readings(app) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(Reading))


def _redeliver(worker: WorkerService, app, job_id: int, **row: object) -> JobRun:
    """Put the job's row in the state a killed worker leaves, send its message again, wait."""
    with app.app_context():
        run = db.session.get(JobRun, job_id)
        for name, value in {"status": "running", "finished_at": None, **row}.items():
            setattr(run, name, value)
        db.session.commit()
        message = dramatiq.Message(queue_name="bacnet", actor_name=run.actor, args=(), kwargs=dict(run.kwargs),
                                   options={}, message_id=run.message_id, message_timestamp=0)
    worker.broker.enqueue(message)
    worker.broker.join("bacnet")
    return wait_for_job(app, job_id)


def test_killed_after_the_commit_the_devices_are_not_read_again(app, simulator, worker, caplog):
    site_id = _site(app, simulator)
    first = _run(app, "collect_readings", {"site_id": site_id})
    assert first.status == "succeeded" and first.summary["readings"] == 36
    requests_before = sum(device.requests.total for device in simulator.devices)

    caplog.set_level(logging.WARNING, logger="workers.actors.collect")
    again = _redeliver(worker, app, first.id)

    assert (again.status, again.attempts) == ("succeeded", 2)
    assert again.summary == first.summary
    assert _readings(app) == 36
    assert sum(device.requests.total for device in simulator.devices) == requests_before
    assert "stored by an earlier attempt" in caplog.text


def test_killed_before_the_commit_the_job_runs_again_and_stores_one_set(app, simulator, worker):
    site_id = _site(app, simulator)
    first = _run(app, "collect_readings", {"site_id": site_id})
    with app.app_context():
        # What the killed attempt left: its readings were never committed.
        db.session.execute(db.delete(Reading))
        db.session.commit()

    again = _redeliver(worker, app, first.id, summary=None)

    assert (again.status, again.attempts) == ("succeeded", 2)
    assert again.summary["readings"] == 36
    assert _readings(app) == 36


def test_two_attempts_at_once_store_one_set(app, simulator, worker, monkeypatch):
    site_id = _site(app, simulator)
    first = _run(app, "collect_readings", {"site_id": site_id})
    real_read = worker.engine.read_values

    def read_while_the_other_attempt_commits(requests):
        outcomes = real_read(requests)
        with app.app_context():  # a session of its own: the other attempt, committing first
            db.session.execute(db.update(JobRun).where(JobRun.id == first.id).values(summary=first.summary))
            db.session.commit()
        return outcomes

    monkeypatch.setattr(worker.engine, "read_values", read_while_the_other_attempt_commits)
    # This attempt starts while nothing is committed yet (the other one's readings are `first`'s).
    again = _redeliver(worker, app, first.id, summary=None)

    assert again.status == "succeeded" and again.summary == first.summary
    assert _readings(app) == 36


def test_a_dropped_connection_during_the_write_is_retried_with_the_same_rows(app, simulator, worker, monkeypatch):
    site_id = _site(app, simulator)
    real_store = collect.store_readings
    calls = []

    def flaky_store(rows):
        rows = list(rows)
        calls.append(rows)
        inserted = real_store(rows)
        if len(calls) == 1:
            # The statement ran, then the connection died: the retry must not store it twice.
            raise OperationalError("INSERT INTO reading ...", {}, Exception("server closed the connection"),
                                   connection_invalidated=True)
        return inserted

    monkeypatch.setattr(collect, "store_readings", flaky_store)
    job = _run(app, "collect_readings", {"site_id": site_id})

    assert job.status == "succeeded", job.error
    assert len(calls) == 2 and calls[0] == calls[1]
    assert job.summary["readings"] == 36
    assert _readings(app) == 36
