"""Jobs whose message Redis no longer has: lost at once, not after the actor's time limit.

A Redis that restarts without persistence (or is flushed, or fails over to a replica that missed
the last writes) loses the messages waiting in it. Their job_run rows would say "queued" until
the reaper's time-limit rule (minutes), and a scheduled one would hold its schedule back all that
time ("previous run still running"). A queued message always has an entry in its queue's
message hash in Redis — from the enqueue until the worker acknowledges it, which is after the
worker has marked the row running; a retry moves it to the delay queue's hash before the first
is removed — so a row queued for a while whose message is in neither hash is lost.

It looks in the scheduler's own BROKER_URL and BROKER_NAMESPACE: the web, the scheduler and the
workers must share them (they must anyway, or scheduled jobs would reach no worker).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from app.extensions import db
from app.models import JobRun
from app.settings import Settings
from workers.broker import REDIS_CONNECT_TIMEOUT, REDIS_RETRIES, REDIS_SOCKET_TIMEOUT, redis_client

log = logging.getLogger(__name__)

#: A queued row younger than this is never judged: its sender may still be sending. The longest
#: send is (1 + REDIS_RETRIES) x (connect + command timeout) = 14 s; plus a margin: 19 s.
VANISHED_AFTER = timedelta(seconds=(1 + REDIS_RETRIES) * (REDIS_CONNECT_TIMEOUT + REDIS_SOCKET_TIMEOUT) + 5)
#: Seconds to wait for Redis here: the reaper must not stall the scheduler's control loop.
REDIS_TIMEOUT = 2.0
#: Most rows judged per run (the oldest first); the next run takes the rest.
MAX_ROWS = 1000

#: The reason written on the rows.
REASON = ("the message was no longer in Redis (Redis restarted without persistence, or was flushed) "
          "before a worker took it: this job will not run")


def _waiting_message_ids(client, namespace: str, queues: set[str]) -> set[str]:
    """Message ids present in the queues' (and their delay queues') message hashes."""
    present: set[str] = set()
    for queue in queues:
        for name in (queue, f"{queue}.DQ"):
            for _key, data in client.hscan_iter(f"{namespace}:{name}.msgs", count=500):
                try:
                    present.add(json.loads(data)["message_id"])
                except (ValueError, KeyError, TypeError):
                    continue  # not a Dramatiq message: nothing of ours
    return present


def reap_vanished(settings: Settings, now: datetime) -> int:
    """Mark queued redis jobs whose message Redis no longer holds as lost; return how many."""
    if not settings.BROKER_URL:
        return 0
    rows = db.session.execute(
        db.select(JobRun.id, JobRun.message_id, JobRun.queue)
        .where(JobRun.status == "queued", JobRun.transport == "redis", JobRun.enqueued_at < now - VANISHED_AFTER)
        .order_by(JobRun.enqueued_at).limit(MAX_ROWS)).all()
    if not rows:
        return 0
    import redis

    client = redis_client(settings.BROKER_URL, connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT,
                          retries=0)
    queues = {row.queue for row in rows if row.queue}
    gone = {row.message_id: row.id for row in rows}
    try:
        # Two snapshots: a message moving between a queue and its delay queue while they are
        # scanned one after the other can be missed by one snapshot, not by both.
        for _ in range(2):
            present = _waiting_message_ids(client, settings.BROKER_NAMESPACE, queues)
            gone = {message_id: id_ for message_id, id_ in gone.items() if message_id not in present}
            if not gone:
                return 0
    except redis.RedisError as error:
        # Redis is away: nothing can be judged now (and those jobs cannot run either); next time.
        log.info("vanished-message check skipped: redis unreachable (%s)", type(error).__name__)
        return 0
    finally:
        client.close()
    # Still queued: a worker that had the message in memory may have started it meanwhile.
    count = db.session.execute(
        db.update(JobRun).where(JobRun.id.in_(list(gone.values())), JobRun.status == "queued")
        .values(status="lost", finished_at=now, error=REASON)).rowcount
    db.session.commit()
    return count
